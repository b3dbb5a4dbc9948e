"""How much each scenario does: the full run, and `--quick` (only checks that the harness works)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Plan:
    name: str
    repetitions: int
    # Booking latency: concurrent clients -> requests per repetition.
    latency_requests: dict[int, int]
    # Saga throughput and its no-op baseline: concurrent customers, warm-up, counted window.
    saga_clients: int
    saga_warmup_s: float
    saga_window_s: float
    # Contention: concurrent requests for one slot.
    race_requests: int
    # Availability: sequential requests per repetition.
    availability_requests: int
    # Bookings per scenario are spread over this many providers so they never collide.
    providers: int
    customers: int
    # Rounds of 5 whole sagas (and 5 no-op ones) before anything is measured.
    warmup_rounds: int
    # Reminder punctuality: bookings whose reminders fall due at one instant, made by
    # saga_clients customers, and how long after it every reminder must have been recorded.
    reminder_bookings: int
    reminders_within_s: float
    # REMINDER_PREPARE_SECONDS on the bench's stack; the bookings are all made this long before
    # their reminders' instant, as bookings made days ahead would be.
    reminder_prepare_s: int
    # Calendar sync: events in each adapter's calendar, synced in full, then after one change.
    calendar_events: int
    # Provider search: providers seeded (3 services each), sequential requests per variant.
    search_providers: int = 2000
    search_requests: int = 50
    # Availability under load: concurrent clients, and how long each repetition runs.
    load_clients: int = 50
    load_window_s: float = 10.0
    # The limiter's cost: login and booking requests on each side, checks timed in process.
    limiter_requests: int = 20
    limiter_checks: int = 5000
    # Login latency: concurrent clients -> requests per repetition.
    login_requests: dict[int, int] = field(default_factory=lambda: {1: 10, 10: 40})
    # Live availability: SSE subscribers open on one provider, and holds timed to each of them.
    sse_subscribers: int = 200
    sse_changes: int = 20


FULL = Plan(
    name="full",
    repetitions=3,
    latency_requests={1: 40, 10: 150, 50: 250},
    saga_clients=20,
    saga_warmup_s=2.0,
    saga_window_s=10.0,
    race_requests=200,
    availability_requests=50,
    providers=60,
    customers=200,
    warmup_rounds=2,
    reminder_bookings=1000,
    reminders_within_s=300.0,
    reminder_prepare_s=120,  # the default
    calendar_events=10_000,
)

# One repetition of each: the test suite runs it to see that the harness works, that the race
# has exactly one winner and that every reminder is recorded, never to read a time. Its
# reminders fall due in the first whole minute after their bookings are made.
QUICK = Plan(
    name="quick",
    repetitions=1,
    latency_requests={1: 3, 10: 10, 50: 50},
    saga_clients=10,
    saga_warmup_s=0.5,
    saga_window_s=2.0,
    race_requests=200,
    availability_requests=5,
    providers=60,
    customers=200,
    warmup_rounds=1,
    reminder_bookings=20,
    reminders_within_s=60.0,
    reminder_prepare_s=10,
    calendar_events=300,
    search_requests=5,
    load_window_s=2.0,
    limiter_requests=4,
    limiter_checks=500,
    login_requests={1: 3, 10: 10},
    sse_changes=3,
)
