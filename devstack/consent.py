"""`python -m devstack.consent URL`: what the provider's browser does with an authorization URL
from `make dev`'s Google or Microsoft stand-in: consent, then land on our callback. Prints the
connection the callback stored.

URL=$(curl -s -X POST $API/calendar/connections/google -H "Authorization: Bearer $PTOKEN" \\
    | python3 -c 'import sys,json; print(json.load(sys.stdin)["authorization_url"])')
python -m devstack.consent "$URL"
"""

from __future__ import annotations

import asyncio
import json
import sys

import httpx

from devstack.calendar_vendors import MICROSOFT_PORTS
from devstack.peers.calendars import LoopbackTls, consent
from devstack.processes import ROOT

CA = ROOT / ".data" / "peers" / "ca.pem"


async def connect(url: str, api: str) -> dict[str, object]:
    tls = LoopbackTls(str(CA), "", "")
    answer = await consent(url, tls)
    async with httpx.AsyncClient(base_url=api, timeout=30) as client:
        if f":{MICROSOFT_PORTS[1]}/" in url:
            response = await client.post("/calendar/connections/microsoft/callback", data=answer)
        else:
            response = await client.get("/calendar/connections/google/callback", params=answer)
    body: dict[str, object] = response.json()
    return body


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    api = argv[1] if len(argv) > 1 else "http://127.0.0.1:8000"
    print(json.dumps(asyncio.run(connect(argv[0], api)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
