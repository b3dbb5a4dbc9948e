"""Issue #11: a worker killed while Twilio is taking a booking's SMS. The next worker asks
Twilio whether it took it (it did) and records it as sent: one SMS, not two."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from sqlalchemy import select

from config import Settings
from db.engine import Database
from db.models import Notification
from devstack.peers.notify import TwilioPeer
from tests.e2e.booking_steps import book, pay, slot, status_becomes
from tests.e2e.conftest import running_stack
from tests.factories import make_provider
from tests.integration.api_helpers import sign_up
from tests.workflows.helpers import eventually

pytestmark = pytest.mark.e2e

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "e2e-auth-token"
FROM_NUMBER = "+15005550006"
CUSTOMER_PHONE = "+14155550134"
CREATE = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"


class TakesThenHangs(TwilioPeer):
    """Takes the first SMS (it is queued, as Twilio would), then never answers that request:
    the worker is killed waiting for the answer."""

    def __init__(self) -> None:
        super().__init__(ACCOUNT_SID, AUTH_TOKEN)
        self.took_one = asyncio.Event()

    async def _answer(self, request: web.Request) -> web.Response:
        answer = await super()._answer(request)
        if request.method == "POST" and not self.took_one.is_set():
            self.took_one.set()
            await asyncio.Event().wait()  # until the worker's connection dies with it
        return answer

    def creates(self) -> list[str]:
        return [r.form()["Body"] for r in self.requests if (r.method, r.path) == ("POST", CREATE)]


@pytest.fixture
async def twilio() -> AsyncIterator[TakesThenHangs]:
    peer = TakesThenHangs()
    await peer.start()
    yield peer
    await peer.close()


async def sms_rows(db: Database, booking_id: str) -> list[Notification]:
    async with db.session() as session:
        found = await session.scalars(
            select(Notification).where(
                Notification.appointment_id == uuid.UUID(booking_id),
                Notification.channel == "sms",
            )
        )
        return list(found)


async def test_killed_while_twilio_takes_the_sms_sends_it_once(
    settings: Settings, db: Database, twilio: TakesThenHangs, tmp_path: Path
) -> None:
    vendor = {
        "SMS_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": FROM_NUMBER,
        "TWILIO_API_BASE": twilio.url,
    }
    with running_stack(settings, tmp_path, extra_env=vendor) as stack:
        async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as http:
            provider = await make_provider(db)
            customer = await sign_up(http)
            me = await http.patch(
                "/users/me", json={"phone": CUSTOMER_PHONE, "sms_opt_in": True}, headers=customer
            )
            assert me.status_code == 200, me.text
            booking = await book(http, customer, provider.service_id, slot(provider, 0))
            await pay(http, customer, booking)
            await status_becomes(http, booking["id"], customer, "confirmed")

            await asyncio.wait_for(twilio.took_one.wait(), 60)
            stack.workers[-1].kill()  # SIGKILL while Twilio's answer is on its way
            stack.start_worker()

            # The activity's 30 s start-to-close timeout passes, then the new worker retries.
            [sent] = await eventually(
                lambda: sms_rows(db, str(booking["id"])),
                lambda rows: bool(rows) and rows[0].status != "pending",
                within=120,
            )
    assert len(twilio.creates()) == 1, twilio.creates()
    [listed] = [r for r in twilio.requests if r.method == "GET"]
    assert listed.query["To"] == CUSTOMER_PHONE and listed.query["From"] == FROM_NUMBER
    assert sent.status == "sent" and sent.external_id == twilio.sids[0], sent.external_id
    assert sent.attempts == 2 and sent.sending_since is None
