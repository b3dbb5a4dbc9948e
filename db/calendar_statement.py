"""The statements that read a provider's offer and calendar; db.schedule turns their rows into
the domain's terms.

A calendar (hours, overrides, holidays, busy spans, booked starts) is one UNION ALL statement,
its instants read as ISO 8601 text: on 90 busy days, a round trip per table and the column
type's per-value conversion were most of the availability endpoint's time.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Date,
    Integer,
    ScalarSelect,
    Select,
    String,
    Table,
    Time,
    Uuid,
    and_,
    bindparam,
    func,
    literal_column,
    not_,
    null,
    select,
    union_all,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

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
from domain.booking_state import ACTIVE_STATUSES, HOLD_STATUSES

_profiles = cast(Table, ProviderProfile.__table__)
_services = cast(Table, Service.__table__)
_hours = cast(Table, WorkingHours.__table__)
_overrides = cast(Table, ScheduleOverride.__table__)
_holidays = cast(Table, Holiday.__table__)
_appointments = cast(Table, Appointment.__table__)
_external = cast(Table, ExternalBusyBlock.__table__)

RULE_COLUMNS = (
    _services.c.duration_minutes,
    _services.c.buffer_before_minutes,
    _services.c.buffer_after_minutes,
    _services.c.slot_interval_minutes,
    _services.c.min_notice_minutes,
    _services.c.horizon_days,
    _services.c.max_per_day,
)


def _offer_query(*columns: ColumnElement[Any]) -> Select[Any]:
    offered = and_(
        _services.c.id == bindparam("service_id", type_=Uuid),
        _services.c.provider_id == _profiles.c.id,
        _services.c.active.is_(True),
    )
    return (
        select(*columns)
        .select_from(_profiles.outerjoin(_services, offered))
        .where(_profiles.c.id == bindparam("provider_id", type_=Uuid))
    )


def _offer_stamp() -> ColumnElement[str]:
    """The zone and every rule (or none, without an active service) as one text."""
    stamp: ColumnElement[str] = _profiles.c.timezone
    for column in RULE_COLUMNS:
        stamp = stamp + "|" + func.coalesce(sql_cast(column, String), "-")
    return stamp


# The provider's zone, the offer's stamp, the service's id (None without an active service)
# and its RULE_COLUMNS.
OFFER = _offer_query(
    _profiles.c.timezone, _offer_stamp().label("stamp"), _services.c.id, *RULE_COLUMNS
)

# What each row of the calendar statement is, in its "kind" column.
WEEKLY_ROW, OVERRIDE_ROW, HOLIDAY_ROW, BUSY_ROW, BOOKED_ROW, STAMP_ROW = range(6)


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
        sql_cast(null(), Integer).label("weekday") if weekday is None else weekday,
        sql_cast(null(), Date).label("day") if day is None else day,
        sql_cast(null(), Time).label("opens") if opens is None else opens,
        sql_cast(null(), Time).label("closes") if closes is None else closes,
        sql_cast(null(), String).label("instants") if instants is None else instants,
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
        _appointments.c.id != bindparam("moving_id", type_=Uuid),
        _appointments.c.status.in_(ACTIVE_STATUSES),
        not_(
            and_(
                _appointments.c.status.in_(HOLD_STATUSES),
                _appointments.c.hold_expires_at <= bindparam("now", type_=UTCDateTime),
            )
        ),
    )


def _calendar_query(*, with_booked: bool, stamped: bool) -> CompoundSelect[Any]:
    """Built once: a statement object keeps its cache key, so running it again costs no
    compilation and no cache-key walk of its branches. Booked starts only when a daily maximum
    needs them; the offer's stamp only for reads outside a transaction (see schedule.reading)."""
    provider = bindparam("provider_id", type_=Uuid)
    first, last = bindparam("first_day", type_=Date), bindparam("last_day", type_=Date)
    busy_start = bindparam("busy_start", type_=UTCDateTime)
    busy_end = bindparam("busy_end", type_=UTCDateTime)
    booked_spans = select(
        _appointments.c.blocked_start.label("start"), _appointments.c.blocked_end.label("end")
    ).where(
        _appointments.c.provider_id == provider,
        _not_lapsed(),
        _appointments.c.blocked_start < busy_end,
        _appointments.c.blocked_end > busy_start,
    )
    external_spans = select(_external.c.start_at, _external.c.end_at).where(
        _external.c.provider_id == provider,
        _external.c.start_at < busy_end,
        _external.c.end_at > busy_start,
    )
    parts = [
        _part(
            WEEKLY_ROW,
            weekday=_hours.c.weekday,
            opens=_hours.c.start_time,
            closes=_hours.c.end_time,
        ).where(_hours.c.provider_id == provider),
        _part(
            OVERRIDE_ROW,
            day=_overrides.c.day,
            opens=_overrides.c.start_time,
            closes=_overrides.c.end_time,
        ).where(_overrides.c.provider_id == provider, _overrides.c.day.between(first, last)),
        _part(HOLIDAY_ROW, day=_holidays.c.day).where(
            _holidays.c.provider_id == provider, _holidays.c.day.between(first, last)
        ),
        _part(BUSY_ROW, instants=_all_joined(booked_spans, external_spans)),
    ]
    if stamped:
        parts.append(_part(STAMP_ROW, instants=_offer_query(_offer_stamp()).scalar_subquery()))
    if with_booked:
        booked_starts = select(_appointments.c.start_at.label("start")).where(
            _appointments.c.service_id == bindparam("service_id", type_=Uuid),
            _not_lapsed(),
            _appointments.c.start_at >= bindparam("booked_start", type_=UTCDateTime),
            _appointments.c.start_at < bindparam("booked_end", type_=UTCDateTime),
        )
        parts.append(_part(BOOKED_ROW, instants=_all_joined(booked_starts)))
    return union_all(*parts)


# Keyed by (with_booked, stamped). Rows: (kind, weekday, day, opens, closes, instants).
CALENDARS = {
    (with_booked, stamped): _calendar_query(with_booked=with_booked, stamped=stamped)
    for with_booked in (False, True)
    for stamped in (False, True)
}
