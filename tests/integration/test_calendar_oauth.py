"""Connecting Google and Microsoft calendars: the authorization code flow with PKCE against local
peers of both vendors' sign-in (authorization URL, code exchange, refresh, refusals)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from activities.calendars.oauth import (
    GOOGLE_SCOPES,
    GoogleOAuth,
    MicrosoftOAuth,
)
from activities.calendars.port import CalendarRetryLater, GrantBroken
from contract.calendars import OAuthTokens
from devstack.peers.calendars import (
    GooglePeer,
    LoopbackTls,
    MicrosoftPeer,
    OAuthGrants,
    consent,
    make_loopback_tls,
    pkce_challenge,
)
from devstack.peers.notify import Answer

CLIENT_ID = "1234-local.apps.googleusercontent.com"
CLIENT_SECRET = "local peer+secret"  # characters that must be form-encoded
GOOGLE_CALLBACK = "https://bookings.example.com/calendar/connections/google/callback"
MICROSOFT_CALLBACK = "https://bookings.example.com/calendar/connections/microsoft/callback"
TENANT = "common"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> LoopbackTls:
    return make_loopback_tls(Path(tmp_path_factory.mktemp("tls")))


@pytest.fixture
async def google_peer(tls: LoopbackTls) -> AsyncIterator[GooglePeer]:
    peer = GooglePeer(tls, OAuthGrants(CLIENT_ID, CLIENT_SECRET, GOOGLE_CALLBACK))
    await peer.start()
    yield peer
    await peer.close()


@pytest.fixture
async def google(google_peer: GooglePeer, tls: LoopbackTls) -> AsyncIterator[GoogleOAuth]:
    oauth = GoogleOAuth(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uri=GOOGLE_CALLBACK,
        auth_uri=f"{google_peer.secure_url}/o/oauth2/v2/auth",
        token_uri=f"{google_peer.secure_url}/token",
        ca_bundle=tls.ca_path,
    )
    yield oauth
    await oauth.aclose()


@pytest.fixture
async def microsoft_peer(tls: LoopbackTls) -> AsyncIterator[MicrosoftPeer]:
    grants = OAuthGrants(CLIENT_ID, CLIENT_SECRET, MICROSOFT_CALLBACK, rotate_refresh_tokens=True)
    peer = MicrosoftPeer(tls, grants)
    await peer.start()
    yield peer
    await peer.close()


@pytest.fixture
async def microsoft(
    microsoft_peer: MicrosoftPeer, tls: LoopbackTls
) -> AsyncIterator[MicrosoftOAuth]:
    oauth = MicrosoftOAuth(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uri=MICROSOFT_CALLBACK,
        authority=f"{microsoft_peer.secure_url}/{TENANT}",
        ca_bundle=tls.ca_path,
    )
    yield oauth
    await oauth.aclose()


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def basic(user: str, password: str) -> str:
    """HTTP Basic as requests-oauthlib sends it: the pair as is, not form-encoded first."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def test_google_authorization_url_asks_offline_consent_with_pkce_and_our_state(
    google: GoogleOAuth, google_peer: GooglePeer
) -> None:
    url, verifier = await google.authorization_url("state-1")

    assert url.startswith(f"{google_peer.secure_url}/o/oauth2/v2/auth?")
    assert query_of(url) == {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": GOOGLE_CALLBACK,
        "scope": " ".join(GOOGLE_SCOPES),
        "state": "state-1",
        "code_challenge": pkce_challenge(verifier),
        "code_challenge_method": "S256",
        "access_type": "offline",
        "prompt": "consent",
    }
    assert 43 <= len(verifier) <= 128  # RFC 7636


async def test_google_code_exchange_sends_the_verifier_and_keeps_both_tokens(
    google: GoogleOAuth, google_peer: GooglePeer, tls: LoopbackTls
) -> None:
    url, verifier = await google.authorization_url("state-1")
    callback = await consent(url, tls)

    tokens = await google.complete(verifier, callback)

    [exchange] = google_peer.requests_to("/token")
    assert exchange.method == "POST"
    assert exchange.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert exchange.headers["Authorization"] == basic(CLIENT_ID, CLIENT_SECRET)
    assert exchange.form() == {
        "grant_type": "authorization_code",
        "code": callback["code"],
        "redirect_uri": GOOGLE_CALLBACK,
        "code_verifier": verifier,
    }
    assert callback["state"] == "state-1"
    assert tokens.access_token in google_peer.grants.access_tokens
    assert tokens.refresh_token in google_peer.grants.refresh_tokens
    assert tokens.scope == " ".join(GOOGLE_SCOPES)
    expected = datetime.now(UTC) + timedelta(seconds=3599)
    assert abs(tokens.expires_at - expected) < timedelta(seconds=10)


async def test_google_wrong_verifier_or_a_used_code_breaks_the_grant(
    google: GoogleOAuth, tls: LoopbackTls
) -> None:
    url, verifier = await google.authorization_url("state-1")
    callback = await consent(url, tls)

    with pytest.raises(GrantBroken, match="Invalid code verifier"):
        await google.complete(verifier[::-1], callback)
    with pytest.raises(GrantBroken, match="invalid_grant"):
        await google.complete(verifier, callback)  # the peer, as Google, spent the code


async def test_google_consent_refused_or_a_scope_unticked_breaks_the_grant(
    google: GoogleOAuth, google_peer: GooglePeer, tls: LoopbackTls
) -> None:
    with pytest.raises(GrantBroken, match="access_denied"):
        await google.complete("verifier", {"error": "access_denied", "state": "state-1"})

    url, verifier = await google.authorization_url("state-1")
    callback = await consent(url, tls)
    google_peer.grants.codes[callback["code"]]["scope"] = GOOGLE_SCOPES[0]  # list unticked

    with pytest.raises(GrantBroken, match=r"calendar\.calendarlist\.readonly"):
        await google.complete(verifier, callback)


async def test_google_refresh_posts_the_refresh_token_and_keeps_it(
    google: GoogleOAuth, google_peer: GooglePeer, tls: LoopbackTls
) -> None:
    url, verifier = await google.authorization_url("state-1")
    tokens = await google.complete(verifier, await consent(url, tls))

    refreshed = await google.refresh(tokens)

    refresh = google_peer.requests_to("/token")[-1]
    assert refresh.form() == {
        "grant_type": "refresh_token",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": tokens.refresh_token,
    }
    assert refreshed.access_token != tokens.access_token
    assert refreshed.refresh_token == tokens.refresh_token  # Google sends none back
    assert refreshed.scope == tokens.scope
    assert refreshed.expires_at.tzinfo is not None


async def test_google_revoked_refresh_token_breaks_the_grant_with_googles_reason(
    google: GoogleOAuth, google_peer: GooglePeer
) -> None:
    google_peer.grants.revoke()
    tokens = OAuthTokens(
        access_token="old", refresh_token="refresh-revoked", expires_at=datetime.now(UTC)
    )

    with pytest.raises(GrantBroken, match="Token has been expired or revoked"):
        await google.refresh(tokens)


async def test_google_token_endpoint_down_means_retry_later(
    google: GoogleOAuth, google_peer: GooglePeer, tls: LoopbackTls
) -> None:
    url, verifier = await google.authorization_url("state-1")
    callback = await consent(url, tls)
    google_peer.answer_next("/token", Answer(503, {"error": "backend_error"}, {"Retry-After": "9"}))

    with pytest.raises(CalendarRetryLater) as down:
        await google.complete(verifier, callback)
    tokens = await google.complete(verifier, callback)  # the code was not spent

    assert down.value.retry_after == 9
    assert tokens.refresh_token is not None


async def test_google_refresh_through_a_5xx_succeeds_on_google_auths_own_retry(
    google: GoogleOAuth, google_peer: GooglePeer, tls: LoopbackTls
) -> None:
    url, verifier = await google.authorization_url("state-1")
    tokens = await google.complete(verifier, await consent(url, tls))
    google_peer.answer_next("/token", Answer(500, {"error": "internal_failure"}))

    refreshed = await google.refresh(tokens)

    assert [r.form()["grant_type"] for r in google_peer.requests_to("/token")] == [
        "authorization_code",
        "refresh_token",
        "refresh_token",
    ]
    assert refreshed.access_token in google_peer.grants.access_tokens


async def test_microsoft_authorization_url_carries_pkce_nonce_state_and_offline_access(
    microsoft: MicrosoftOAuth, microsoft_peer: MicrosoftPeer
) -> None:
    url, pending = await microsoft.authorization_url("state-2")

    flow = json.loads(pending)  # kept between the start and the callback, so plain JSON
    query = query_of(url)
    assert url.startswith(f"{microsoft_peer.secure_url}/{TENANT}/oauth2/v2.0/authorize?")
    assert query["client_id"] == CLIENT_ID
    assert query["response_type"] == "code"
    assert query["response_mode"] == "form_post"
    assert query["redirect_uri"] == MICROSOFT_CALLBACK
    assert set(query["scope"].split()) == {
        "Calendars.ReadWrite",
        "offline_access",
        "openid",
        "profile",
    }
    assert query["state"] == flow["state"] == "state-2"
    assert query["code_challenge"] == pkce_challenge(flow["code_verifier"])
    assert query["code_challenge_method"] == "S256"
    assert query["nonce"]
    [discovery] = microsoft_peer.requests_to("/.well-known/openid-configuration")
    assert discovery.path == f"/{TENANT}/v2.0/.well-known/openid-configuration"


async def test_microsoft_code_exchange_sends_the_verifier_and_keeps_both_tokens(
    microsoft: MicrosoftOAuth, microsoft_peer: MicrosoftPeer, tls: LoopbackTls
) -> None:
    url, pending = await microsoft.authorization_url("state-2")
    posted = await consent(url, tls)

    tokens = await microsoft.complete(pending, posted)

    [exchange] = microsoft_peer.requests_to("/oauth2/v2.0/token")
    assert exchange.path == f"/{TENANT}/oauth2/v2.0/token"
    form = exchange.form()
    assert form["grant_type"] == "authorization_code"
    assert form["code"] == posted["code"]
    assert form["redirect_uri"] == MICROSOFT_CALLBACK
    assert form["code_verifier"] == json.loads(pending)["code_verifier"]
    assert (form["client_id"], form["client_secret"]) == (CLIENT_ID, CLIENT_SECRET)
    assert "offline_access" in form["scope"].split()
    assert tokens.access_token in microsoft_peer.grants.access_tokens
    assert tokens.refresh_token in microsoft_peer.grants.refresh_tokens


async def test_microsoft_another_flows_callback_a_refusal_or_a_wrong_verifier_break_the_grant(
    microsoft: MicrosoftOAuth, microsoft_peer: MicrosoftPeer, tls: LoopbackTls
) -> None:
    url, pending = await microsoft.authorization_url("state-2")
    posted = await consent(url, tls)

    with pytest.raises(GrantBroken, match="does not match"):
        await microsoft.complete(pending, posted | {"state": "someone-elses"})
    declined = {"state": "state-2", "error": "access_denied", "error_description": "AADSTS65004"}
    with pytest.raises(GrantBroken, match="access_denied"):
        await microsoft.complete(pending, declined)
    tampered = json.loads(pending) | {"code_verifier": "x" * 43}
    with pytest.raises(GrantBroken, match="AADSTS70000: Invalid code verifier"):
        await microsoft.complete(json.dumps(tampered), posted)


async def test_microsoft_refresh_rotates_the_refresh_token(
    microsoft: MicrosoftOAuth, microsoft_peer: MicrosoftPeer, tls: LoopbackTls
) -> None:
    url, pending = await microsoft.authorization_url("state-2")
    tokens = await microsoft.complete(pending, await consent(url, tls))

    refreshed = await microsoft.refresh(tokens)

    form = microsoft_peer.requests_to("/oauth2/v2.0/token")[-1].form()
    assert form["grant_type"] == "refresh_token"
    assert form["refresh_token"] == tokens.refresh_token
    assert "Calendars.ReadWrite" in form["scope"].split()
    assert refreshed.refresh_token not in (None, tokens.refresh_token)
    assert refreshed.access_token in microsoft_peer.grants.access_tokens


async def test_microsoft_revoked_grant_breaks_with_the_aadsts_reason(
    microsoft: MicrosoftOAuth, microsoft_peer: MicrosoftPeer
) -> None:
    microsoft_peer.grants.revoke()
    tokens = OAuthTokens(access_token="old", refresh_token="gone", expires_at=datetime.now(UTC))

    with pytest.raises(GrantBroken, match="invalid_grant: AADSTS70000"):
        await microsoft.refresh(tokens)


async def test_microsoft_token_endpoint_down_means_retry_later(
    microsoft: MicrosoftOAuth, microsoft_peer: MicrosoftPeer
) -> None:
    microsoft_peer.answer_next("/oauth2/v2.0/token", Answer(503, None, {"Retry-After": "5"}))
    tokens = OAuthTokens(access_token="old", refresh_token="any", expires_at=datetime.now(UTC))

    with pytest.raises(CalendarRetryLater):
        await microsoft.refresh(tokens)
