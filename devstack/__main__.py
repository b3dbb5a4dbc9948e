"""`make dev`: migrate, seed, run the Temporal dev server, a worker and the API until Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from datetime import UTC, datetime, timedelta
from types import FrameType

from config import get_settings
from db import seed
from db.engine import Database
from db.migrate import upgrade_to_head
from devstack import calendar_vendors, processes
from devstack.banner import banner, first_free_start
from devstack.calendar_vendors import GOOGLE_PORTS, MICROSOFT_PORTS
from devstack.radicale import radicale

ROOT = processes.ROOT
DATA = ROOT / ".data"
PEERS = DATA / "peers"
TEMPORAL_PORT, UI_PORT, API_PORT, CALDAV_PORT = 7233, 8233, 8000, 5232
# The demo provider's own calendar server, to connect as a CalDAV account (development only).
CALDAV_PASSWORD = "demo-app-password"


def _port_taken(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


async def _prepare() -> datetime:
    settings = get_settings()
    upgrade_to_head(settings)
    db = Database.from_settings(settings)
    try:
        await seed.seed_demo(db)
        return await first_free_start(db, datetime.now(UTC) + timedelta(days=1))
    finally:
        await db.dispose()


def _demo_calendar(url: str) -> None:
    """The demo provider's calendar on the local CalDAV server, made once."""
    import caldav

    with caldav.DAVClient(url, username=seed.PROVIDER_EMAIL, password=CALDAV_PASSWORD) as client:
        principal = client.principal()  # type: ignore[no-untyped-call]
        if not principal.calendars():
            principal.make_calendar(name="Practice")


def main() -> int:
    ports = (TEMPORAL_PORT, UI_PORT, API_PORT, CALDAV_PORT, *GOOGLE_PORTS, *MICROSOFT_PORTS)
    taken = [port for port in ports if _port_taken(port)]
    if taken:
        print(f"ports {taken} are in use: is another `make dev` running? Stop it first.")
        return 1
    (DATA / "logs").mkdir(parents=True, exist_ok=True)
    print("applying migrations and seeding demo data ...")
    example_start = asyncio.run(_prepare())

    public = f"http://127.0.0.1:{API_PORT}"
    env = {
        "TEMPORAL_ADDRESS": f"127.0.0.1:{TEMPORAL_PORT}",
        # Google and Microsoft 365 are their local stand-ins (devstack/calendar_vendors.py).
        **calendar_vendors.settings_env(public, PEERS / "ca.pem"),
    }
    stack = [
        processes.temporal_dev_server(
            port=TEMPORAL_PORT,
            ui_port=UI_PORT,
            db_file=DATA / "temporal.db",
            log=DATA / "logs" / "temporal.log",
            codec_endpoint=f"http://localhost:{API_PORT}/codec",
        )
    ]
    stopping = False

    def _stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        stack[0].start()
        print("starting the Temporal dev server (log: .data/logs/temporal.log) ...")
        processes.wait_for_port(TEMPORAL_PORT, stack[0], timeout=60)
        caldav = radicale(
            DATA / "radicale",
            CALDAV_PORT,
            {seed.PROVIDER_EMAIL: CALDAV_PASSWORD},
            DATA / "logs" / "radicale.log",
        ).start()
        stack.append(caldav)
        processes.wait_for_port(CALDAV_PORT, caldav, timeout=30)
        _demo_calendar(f"http://127.0.0.1:{CALDAV_PORT}/")
        vendors = processes.ManagedProcess(
            "calendar peers",
            [sys.executable, "-m", "devstack.calendar_vendors", str(PEERS), public],
            {},
            DATA / "logs" / "calendar-peers.log",
        ).start()
        stack.append(vendors)
        for port in (*GOOGLE_PORTS, *MICROSOFT_PORTS):
            processes.wait_for_port(port, vendors, timeout=30)
        worker = processes.worker(env).start()
        stack.append(worker)
        api = processes.api(API_PORT, env).start()
        stack.append(api)
        processes.wait_until_ready(f"http://127.0.0.1:{API_PORT}", api, timeout=60)
        print(banner(API_PORT, UI_PORT, example_start, CALDAV_PORT, CALDAV_PASSWORD))
        while not stopping:
            dead = [p.name for p in stack if not p.running]
            if dead:
                print(f"{', '.join(dead)} exited; stopping the stack")
                return 1
            time.sleep(0.5)
        return 0
    finally:
        print("\nstopping the API, the worker and the Temporal server ...")
        for process in reversed(stack):
            process.stop()
        print("stopped; nothing is left running.")


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
