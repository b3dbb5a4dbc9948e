"""A provider's scheduling rules and busy time, read from the database into the domain's terms.

The hold (inside its serialized transaction) and the availability endpoint both read through
here, so what a customer is offered and what the booking accepts cannot disagree.

A calendar (hours, overrides, holidays, busy spans, booked starts) is one UNION ALL statement,
its instants read as ISO 8601 text: on 90 busy days, a round trip per table and the column
type's per-value conversion were most of the availability endpoint's time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Date,
    Integer,
    ScalarSelect,
    Select,
    String,
    Time,
    Uuid,
    and_,
    bindparam,
    cast,
    func,
    literal_column,
    not_,
    null,
    select,
    union_all,
)
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from db.engine import Database
from db.models import (
    Appointment,
    ExternalBusyBlock,
    Holiday,
    ProviderProfile,
    ScheduleOverride,
    Service,
    WorkingHours,
)
from db.types import UTCDateTime
from domain.availability import (
    BookingRules,
    Busy,
    BusyTimes,
    Schedule,
    Slot,
    WorkingInterval,
    free_slots,
)
from domain.booking_state import ACTIVE_STATUSES, HOLD_STATUSES

T = TypeVar("T")

# Local dates a UTC window touches can differ from its UTC dates by up to a day either way.
_DATE_MARGIN = timedelta(days=1)

_profiles = ProviderProfile.__table__.c
_services = Service.__table__.c
_hours = WorkingHours.__table__.c
_overrides = ScheduleOverride.__table__.c
_holidays = Holiday.__table__.c
_appointments = Appointment.__table__.c
_external = ExternalBusyBlock.__table__.c


@dataclass(frozen=True, slots=True)
class BookingContext:
    """Everything that decides whether a start is bookable for one service of one provider."""

    schedule: Schedule
    rules: BookingRules
    busy: list[Busy]
    booked_starts: list[datetime]


@dataclass(frozen=True, slots=True)
class Offer:
    """A provider's zone and, when it offers the service and the service is active, its rules."""

    provider_id: UUID
    timezone: str
    service_id: UUID
    rules: BookingRules | None
    # The zone and rules as one text, read again by the calendar statement (see `reading`).
    stamp: str


class OfferChanged(Exception):
    """The provider's zone or the service's rules changed between the offer and its calendar."""


class CalendarReader:
    """Offers and their free slots, read consistently (see `reading`)."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def offer(self, provider_id: UUID, service_id: UUID) -> Offer | None:
        """The provider's zone and the service's rules; None if there is no such provider."""
        row = (
            await self._connection.execute(
                _OFFER, {"provider_id": provider_id, "service_id": service_id}
            )
        ).first()
        if row is None:
            return None
        timezone, stamp, found, *rules = row
        rules_found = None if found is None else booking_rules(*rules)
        return Offer(provider_id, timezone, service_id, rules_found, stamp)

    async def free_slots(
        self, offer: Offer, window_start: datetime, window_end: datetime, now: datetime
    ) -> list[Slot]:
        """Free slots of the offer's service starting in the window; none without a service.
        Raises OfferChanged if the zone or the rules are no longer those of `offer`."""
        if offer.rules is None:
            return []
        schedule, busy, booked, stamp = await _calendar(
            self._connection,
            offer.provider_id,
            offer.service_id,
            ZoneInfo(offer.timezone),
            offer.rules,
            window_start,
            window_end,
            now,
            stamped=True,
        )
        if stamp != offer.stamp:
            raise OfferChanged()
        return free_slots(
            schedule,
            offer.rules,
            busy=BusyTimes.from_sorted(*busy),
            booked_starts=booked,
            window_start=window_start,
            window_end=window_end,
            now=now,
        )


@asynccontextmanager
async def reading(db: Database) -> AsyncIterator[CalendarReader]:
    """A Core connection, not an ORM session: these reads make no objects, and the session's
    bookkeeping was a tenth of the 90-day availability's time.

    On PostgreSQL the reads run in autocommit (Database.reading), each statement in its own
    snapshot. The calendar statement therefore reads the offer's zone and rules again, and
    free_slots raises OfferChanged unless they are the ones the offer read: slots are only ever
    computed from one moment's rules and calendar.
    """
    async with db.reading() as connection:
        yield CalendarReader(connection)


async def consistently(read: Callable[[], Awaitable[T]], attempts: int = 5) -> T:
    """Run a read of an offer and its calendar again while the offer changes under it."""
    for _ in range(attempts - 1):
        try:
            return await read()
        except OfferChanged:
            continue
    return await read()


async def open_slots(
    db: Database,
    provider_id: UUID,
    service_id: UUID,
    window_start: datetime,
    window_end: datetime,
    now: datetime,
) -> list[Slot] | None:
    """Free slots of an active service starting in the window; None if there is no such service."""
    async with reading(db) as calendar:

        async def read() -> list[Slot] | None:
            offer = await calendar.offer(provider_id, service_id)
            if offer is None or offer.rules is None:
                return None
            return await calendar.free_slots(offer, window_start, window_end, now)

        return await consistently(read)


async def load_context(
    connection: AsyncConnection,
    provider_id: UUID,
    service_id: UUID,
    timezone: str,
    rules: BookingRules,
    window_start: datetime,
    window_end: datetime,
    now: datetime,
    *,
    moving: UUID | None = None,
) -> BookingContext:
    """Schedule and busy time of the provider relevant to starts in [window_start, window_end),
    read inside the caller's transaction (a hold's or a move's: the booking being moved is not
    busy time for its own new start)."""
    schedule, busy, booked, _ = await _calendar(
        connection,
        provider_id,
        service_id,
        ZoneInfo(timezone),
        rules,
        window_start,
        window_end,
        now,
        stamped=False,
        moving=moving,
    )
    spans = [Busy(start, end) for start, end in zip(*busy, strict=True)]
    return BookingContext(schedule, rules, spans, booked)


def booking_rules(
    duration: int,
    buffer_before: int,
    buffer_after: int,
    slot_interval: int,
    min_notice: int,
    horizon_days: int,
    max_per_day: int | None,
) -> BookingRules:
    return BookingRules(
        duration=timedelta(minutes=duration),
        buffer_before=timedelta(minutes=buffer_before),
        buffer_after=timedelta(minutes=buffer_after),
        slot_interval=timedelta(minutes=slot_interval),
        min_notice=timedelta(minutes=min_notice),
        horizon=timedelta(days=horizon_days),
        max_per_day=max_per_day,
    )


RULE_COLUMNS = (
    _services.duration_minutes,
    _services.buffer_before_minutes,
    _services.buffer_after_minutes,
    _services.slot_interval_minutes,
    _services.min_notice_minutes,
    _services.horizon_days,
    _services.max_per_day,
)


def _offer_query(*columns: ColumnElement[Any]) -> Select[Any]:
    offered = and_(
        _services.id == bindparam("service_id", type_=Uuid),
        _services.provider_id == _profiles.id,
        _services.active.is_(True),
    )
    return (
        select(*columns)
        .select_from(ProviderProfile.__table__.outerjoin(Service.__table__, offered))
        .where(_profiles.id == bindparam("provider_id", type_=Uuid))
    )


def _offer_stamp() -> ColumnElement[str]:
    """The zone and every rule (or none, without an active service) as one text."""
    stamp: ColumnElement[str] = _profiles.timezone
    for column in RULE_COLUMNS:
        stamp = stamp + "|" + func.coalesce(cast(column, String), "-")
    return stamp


_OFFER = _offer_query(
    _profiles.timezone, _offer_stamp().label("stamp"), _services.id, *RULE_COLUMNS
)


# ----------------------------------------------------------------- the calendar in one statement

_WEEKLY, _OVERRIDE, _HOLIDAY, _BUSY, _BOOKED, _STAMP = range(6)


class _utc_text(FunctionElement[str]):
    """An instant column as ISO 8601 text in UTC ending in "+00:00", for datetime.fromisoformat."""

    type = String()
    name = "utc_text"
    inherit_cache = True


@compiles(_utc_text, "sqlite")
def _utc_text_sqlite(element: _utc_text, compiler: SQLCompiler, **kw: Any) -> str:
    # db.types.UTCDateTime stores naive UTC text, "YYYY-MM-DD HH:MM:SS.ffffff".
    return f"({compiler.process(element.clauses, **kw)} || '+00:00')"


@compiles(_utc_text, "postgresql")
def _utc_text_postgresql(element: _utc_text, compiler: SQLCompiler, **kw: Any) -> str:
    # Text output is ISO under DateStyle ISO, which psycopg needs to read timestamps at all.
    # (to_char would not depend on it, but costs more than the rest of the query together.)
    column = compiler.process(element.clauses, **kw)
    return f"(({column} AT TIME ZONE 'UTC')::text || '+00:00')"


@compiles(_utc_text)
def _utc_text_other(element: _utc_text, compiler: SQLCompiler, **kw: Any) -> str:
    raise CompileError(f"no UTC text form of an instant for {compiler.dialect.name}")


def _part(
    kind: int,
    *,
    weekday: ColumnElement[Any] | None = None,
    day: ColumnElement[Any] | None = None,
    opens: ColumnElement[Any] | None = None,
    closes: ColumnElement[Any] | None = None,
    instants: ColumnElement[Any] | None = None,
) -> Select[Any]:
    """One branch of the calendar's UNION ALL: every branch has the same six typed columns."""
    return select(
        literal_column(str(kind), Integer).label("kind"),
        cast(null(), Integer).label("weekday") if weekday is None else weekday,
        cast(null(), Date).label("day") if day is None else day,
        cast(null(), Time).label("opens") if opens is None else opens,
        cast(null(), Time).label("closes") if closes is None else closes,
        cast(null(), String).label("instants") if instants is None else instants,
    )


def _joined(*instants: ColumnElement[Any]) -> ColumnElement[str]:
    """Instants as comma-separated UTC text."""
    text: ColumnElement[str] = _utc_text(instants[0])
    for instant in instants[1:]:
        text = text + "," + _utc_text(instant)
    return text


def _all_joined(spans: Select[Any], *more: Select[Any]) -> ScalarSelect[Any]:
    """One row of text for many (a row per busy span was most of the read's time): each row's
    instants, in the order of their first. The rows are sorted before they become text (sorting
    the wide text cost PostgreSQL twice as much). Neither engine promises that an aggregate keeps
    the order of its subquery, so readers check it (BusyTimes.from_sorted), never rely on it."""
    ordered = (union_all(spans, *more) if more else spans).order_by(spans.selected_columns[0])
    rows = ordered.subquery()
    text = _joined(*rows.c)
    return select(func.aggregate_strings(text, ",").label("instants")).scalar_subquery()


def _not_lapsed() -> ColumnElement[bool]:
    """Active, and not a hold whose time has run out by :now; never the booking being moved
    (:moving_id), whose old time must not stand in the way of its new one."""
    return and_(
        _appointments.id != bindparam("moving_id", type_=Uuid),
        _appointments.status.in_(ACTIVE_STATUSES),
        not_(
            and_(
                _appointments.status.in_(HOLD_STATUSES),
                _appointments.hold_expires_at <= bindparam("now", type_=UTCDateTime),
            )
        ),
    )


def _calendar_query(*, with_booked: bool, stamped: bool) -> CompoundSelect[Any]:
    """Built once: a statement object keeps its cache key, so running it again costs no
    compilation and no cache-key walk of its branches. Booked starts only when a daily maximum
    needs them; the offer's stamp only for reads outside a transaction (see `reading`)."""
    provider = bindparam("provider_id", type_=Uuid)
    first, last = bindparam("first_day", type_=Date), bindparam("last_day", type_=Date)
    busy_start = bindparam("busy_start", type_=UTCDateTime)
    busy_end = bindparam("busy_end", type_=UTCDateTime)
    booked_spans = select(
        _appointments.blocked_start.label("start"), _appointments.blocked_end.label("end")
    ).where(
        _appointments.provider_id == provider,
        _not_lapsed(),
        _appointments.blocked_start < busy_end,
        _appointments.blocked_end > busy_start,
    )
    external_spans = select(_external.start_at, _external.end_at).where(
        _external.provider_id == provider,
        _external.start_at < busy_end,
        _external.end_at > busy_start,
    )
    parts = [
        _part(
            _WEEKLY, weekday=_hours.weekday, opens=_hours.start_time, closes=_hours.end_time
        ).where(_hours.provider_id == provider),
        _part(
            _OVERRIDE,
            day=_overrides.day,
            opens=_overrides.start_time,
            closes=_overrides.end_time,
        ).where(_overrides.provider_id == provider, _overrides.day.between(first, last)),
        _part(_HOLIDAY, day=_holidays.day).where(
            _holidays.provider_id == provider, _holidays.day.between(first, last)
        ),
        _part(_BUSY, instants=_all_joined(booked_spans, external_spans)),
    ]
    if stamped:
        parts.append(_part(_STAMP, instants=_offer_query(_offer_stamp()).scalar_subquery()))
    if with_booked:
        booked_starts = select(_appointments.start_at.label("start")).where(
            _appointments.service_id == bindparam("service_id", type_=Uuid),
            _not_lapsed(),
            _appointments.start_at >= bindparam("booked_start", type_=UTCDateTime),
            _appointments.start_at < bindparam("booked_end", type_=UTCDateTime),
        )
        parts.append(_part(_BOOKED, instants=_all_joined(booked_starts)))
    return union_all(*parts)


_NOBODY = UUID(int=0)

_CALENDARS = {
    (with_booked, stamped): _calendar_query(with_booked=with_booked, stamped=stamped)
    for with_booked in (False, True)
    for stamped in (False, True)
}


async def _calendar(
    connection: AsyncConnection,
    provider_id: UUID,
    service_id: UUID,
    zone: ZoneInfo,
    rules: BookingRules,
    window_start: datetime,
    window_end: datetime,
    now: datetime,
    *,
    stamped: bool,
    moving: UUID | None = None,
) -> tuple[Schedule, tuple[list[datetime], list[datetime]], list[datetime], str | None]:
    """The schedule, busy spans (their starts and their ends, by start, see _all_joined),
    booked starts that decide starts in the window, and (if `stamped`) the offer's stamp as
    read alongside."""
    params: dict[str, Any] = {
        "provider_id": provider_id,
        "service_id": service_id,
        "first_day": (window_start.astimezone(zone) - _DATE_MARGIN).date(),
        "last_day": (window_end.astimezone(zone) + _DATE_MARGIN).date(),
        # A slot's blocked span reaches past the window by its buffers and duration.
        "busy_start": window_start - rules.buffer_before - rules.buffer_after,
        "busy_end": window_end + rules.duration + rules.buffer_before + rules.buffer_after,
        "now": now,
        "moving_id": moving or _NOBODY,
    }
    # Booked starts only count against a daily maximum; without one they decide nothing.
    with_booked = rules.max_per_day is not None
    query = _CALENDARS[with_booked, stamped]
    if with_booked:
        params["booked_start"] = window_start - 2 * _DATE_MARGIN
        params["booked_end"] = window_end + 2 * _DATE_MARGIN
    weekly: dict[int, list[WorkingInterval]] = {}
    overrides: dict[date, list[WorkingInterval]] = {}
    holidays: set[date] = set()
    busy: tuple[list[datetime], list[datetime]] = ([], [])
    booked: list[datetime] = []
    stamp = None
    for kind, weekday, day, opens, closes, instants in (
        await connection.execute(query, params)
    ).all():
        if kind == _BUSY:
            if instants:
                ends = list(map(datetime.fromisoformat, instants.split(",")))
                busy = ends[0::2], ends[1::2]
        elif kind == _STAMP:
            stamp = instants
        elif kind == _BOOKED:
            if instants:
                booked = list(map(datetime.fromisoformat, instants.split(",")))
        elif kind == _WEEKLY:
            weekly.setdefault(weekday, []).append(WorkingInterval(opens, closes))
        elif kind == _OVERRIDE:
            hours = overrides.setdefault(day, [])
            if opens is not None and closes is not None:
                hours.append(WorkingInterval(opens, closes))
        else:
            holidays.add(day)
    return Schedule(zone, weekly, overrides, frozenset(holidays)), busy, booked, stamp
