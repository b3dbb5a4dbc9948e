"""`make dev`'s stand-ins for Google and Microsoft 365: their wire-format peers on fixed loopback
ports, with the demo provider's calendars, so a newcomer can connect both without an account.

The sign-in pages consent at once (there is no one to ask), over HTTPS with a CA made for this
run (`.data/peers/ca.pem`). `POST /dev/revoke` on either peer revokes every grant it gave, as a
user who removes the app's access would, and `POST /dev/events` adds a meeting to the demo
calendar: `{"id": ..., "start": ISO, "end": ISO}`.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from datetime import datetime
from pathlib import Path

from devstack.peers.calendars import (
    CalendarPeer,
    FormPost,
    GooglePeer,
    LoopbackTls,
    MicrosoftPeer,
    OAuthGrants,
    graph_time,
    make_loopback_tls,
)
from devstack.peers.notify import Answer, Recorded

GOOGLE_PORTS, MICROSOFT_PORTS = (8611, 8612), (8621, 8622)
CLIENT_ID, CLIENT_SECRET = "dev-calendar-client", "dev-calendar-secret"
DEMO_ACCOUNT = "provider@demo.example.com"
OUTLOOK_CALENDAR = "AAMkAGRlbW8tY2FsZW5kYXI="
# Requests kept for inspection: the newest only, so a long session does not grow without end.
KEEP_REQUESTS = 200


def settings_env(public_base_url: str, ca_path: Path) -> dict[str, str]:
    """The API's and the worker's settings that point both vendors at these peers."""
    google = f"https://127.0.0.1:{GOOGLE_PORTS[1]}"
    microsoft = f"https://127.0.0.1:{MICROSOFT_PORTS[1]}"
    return {
        "PUBLIC_BASE_URL": public_base_url,
        "GOOGLE_CLIENT_ID": CLIENT_ID,
        "GOOGLE_CLIENT_SECRET": CLIENT_SECRET,
        "GOOGLE_OAUTH_AUTH_URI": f"{google}/o/oauth2/v2/auth",
        "GOOGLE_OAUTH_TOKEN_URI": f"{google}/token",
        "GOOGLE_CALENDAR_API_BASE": f"http://127.0.0.1:{GOOGLE_PORTS[0]}",
        "MICROSOFT_CLIENT_ID": CLIENT_ID,
        "MICROSOFT_CLIENT_SECRET": CLIENT_SECRET,
        "MICROSOFT_AUTHORITY": f"{microsoft}/common",
        "GRAPH_API_BASE": f"http://127.0.0.1:{MICROSOFT_PORTS[0]}/v1.0",
        "CALENDAR_OAUTH_CA_BUNDLE": str(ca_path),
    }


class _DevControls:
    """`/dev/revoke` and `/dev/events` on a peer."""

    def dev(self, peer: CalendarPeer, request: Recorded) -> Answer | None:
        del peer.requests[:-KEEP_REQUESTS]
        if (request.method, request.path) == ("POST", "/dev/revoke"):
            grants: OAuthGrants = peer.grants  # type: ignore[attr-defined]
            grants.revoke()
            grants.expire_access_tokens()
            return Answer(200, {"revoked": True})
        if (request.method, request.path) == ("POST", "/dev/events"):
            event = json.loads(request.body)
            self.add(
                event["id"],
                datetime.fromisoformat(event["start"]),
                datetime.fromisoformat(event["end"]),
            )
            return Answer(201, {"added": event["id"]})
        return None

    def add(self, event_id: str, start: datetime, end: datetime) -> None:
        raise NotImplementedError


class DevGoogle(_DevControls, GooglePeer):
    def accept(self, request: Recorded) -> Answer | FormPost:
        return self.dev(self, request) or super().accept(request)

    def add(self, event_id: str, start: datetime, end: datetime) -> None:
        self.put(
            DEMO_ACCOUNT,
            {
                "id": event_id,
                "start": {"dateTime": start.isoformat()},
                "end": {"dateTime": end.isoformat()},
            },
        )


class DevMicrosoft(_DevControls, MicrosoftPeer):
    def accept(self, request: Recorded) -> Answer | FormPost:
        return self.dev(self, request) or super().accept(request)

    def add(self, event_id: str, start: datetime, end: datetime) -> None:
        self.put(
            OUTLOOK_CALENDAR, {"id": event_id, "start": graph_time(start), "end": graph_time(end)}
        )


async def serve(tls: LoopbackTls, public_base_url: str) -> None:
    callback = f"{public_base_url.rstrip('/')}/calendar/connections"
    google = DevGoogle(tls, OAuthGrants(CLIENT_ID, CLIENT_SECRET, f"{callback}/google/callback"))
    microsoft = DevMicrosoft(
        tls,
        OAuthGrants(
            CLIENT_ID, CLIENT_SECRET, f"{callback}/microsoft/callback", rotate_refresh_tokens=True
        ),
    )
    google.add_calendar(DEMO_ACCOUNT, "Demo provider", "America/New_York", primary=True)
    microsoft.add_calendar(OUTLOOK_CALENDAR, "Calendar", is_default=True)
    await google.start(*GOOGLE_PORTS)
    await microsoft.start(*MICROSOFT_PORTS)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(
        f"calendar peers: Google {google.url} and {google.secure_url}, "
        f"Microsoft {microsoft.url} and {microsoft.secure_url}",
        flush=True,
    )
    try:
        await stop.wait()
    finally:
        await google.close()
        await microsoft.close()


def main(argv: list[str]) -> int:
    directory, public_base_url = Path(argv[0]), argv[1]
    directory.mkdir(parents=True, exist_ok=True)
    asyncio.run(serve(make_loopback_tls(directory), public_base_url))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
