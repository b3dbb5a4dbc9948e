"""OAuth 2.0 authorization code with PKCE for Google and Microsoft, and the grant an account holds.

Both vendors' libraries block (requests), so every call runs in a thread. An authorization starts
with `authorization_url(state)`, which answers the URL and a `pending` string to keep with the
state until the callback (Google: the PKCE code verifier; Microsoft: msal's flow as JSON), and
ends with `complete(pending, callback_query)`.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import google.auth.exceptions
import google.oauth2.credentials
import msal  # type: ignore[import-untyped]
import requests
from google.auth.transport.requests import Request
from google_auth_oauthlib.flow import Flow  # type: ignore[import-untyped]
from oauthlib.oauth2 import OAuth2Error  # type: ignore[import-untyped]

from activities.calendars.port import (
    CalendarRefused,
    CalendarRetryLater,
    GrantBroken,
    retry_after_seconds,
)
from contract.calendars import OAuthTokens
from domain.timezones import utc_now

GOOGLE_AUTH_URI = "https://accounts.google.com/o/oauth2/v2/auth"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
# Events of every calendar (read and write) and the calendar list; nothing of settings or ACLs.
GOOGLE_SCOPES = (
    "https://www.googleapis.com/auth/calendar.events",
    "https://www.googleapis.com/auth/calendar.calendarlist.readonly",
)
MICROSOFT_AUTHORITY = "https://login.microsoftonline.com/common"
# msal adds openid, profile and offline_access (the refresh token) itself, and refuses them here.
MICROSOFT_SCOPES = ("Calendars.ReadWrite",)
REFRESH_AHEAD = timedelta(minutes=5)
REQUEST_TIMEOUT_SECONDS = 20
# The user must sign in again: the grant is gone, or the tenant now asks for more.
MICROSOFT_REAUTHORIZE = frozenset({"invalid_grant", "interaction_required", "consent_required"})
UNAVAILABLE = frozenset({"temporarily_unavailable", "server_error"})
Clock = Callable[[], datetime]


class TokenRefresher(Protocol):
    async def refresh(self, tokens: OAuthTokens) -> OAuthTokens: ...


class OAuthClient(TokenRefresher, Protocol):
    """What connecting a Google or Microsoft account needs from its vendor."""

    async def authorization_url(self, state: str) -> tuple[str, str]: ...

    async def complete(self, pending: str, callback: Mapping[str, str]) -> OAuthTokens: ...

    async def aclose(self) -> None: ...


class GoogleOAuth:
    """Google's web-server flow through google-auth-oauthlib; refresh through google-auth."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        auth_uri: str = GOOGLE_AUTH_URI,
        token_uri: str = GOOGLE_TOKEN_URI,
        ca_bundle: str | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._config = {
            "web": {
                "client_id": client_id,
                "client_secret": client_secret,
                "auth_uri": auth_uri,
                "token_uri": token_uri,
            }
        }
        self._redirect_uri = redirect_uri
        self._verify: str | bool = ca_bundle or True
        self._clock = clock

    async def authorization_url(self, state: str) -> tuple[str, str]:
        """The consent URL (offline access, consent asked again so a refresh token comes back)
        and the PKCE code verifier to keep for `exchange`."""
        return await asyncio.to_thread(self._authorization_url, state)

    async def complete(self, pending: str, callback: Mapping[str, str]) -> OAuthTokens:
        if "error" in callback:
            raise GrantBroken(f"Google did not authorize the calendar: {callback['error']}")
        if "code" not in callback:
            raise GrantBroken("Google's callback carried no authorization code")
        return await self.exchange(callback["code"], pending)

    async def exchange(self, code: str, code_verifier: str) -> OAuthTokens:
        """The tokens for an authorization code; GrantBroken when a scope we need was not
        granted (Google lets the user untick one)."""
        token = await asyncio.to_thread(self._fetch_token, code, code_verifier)
        granted = token.get("scope") or []
        granted = granted.split() if isinstance(granted, str) else list(granted)
        missing = [scope for scope in GOOGLE_SCOPES if scope not in granted]
        if missing:
            raise GrantBroken(f"Google did not grant {', '.join(missing)}: connect again")
        return OAuthTokens(
            access_token=token["access_token"],
            refresh_token=token.get("refresh_token"),
            expires_at=self._clock() + timedelta(seconds=int(token.get("expires_in", 3600))),
            scope=" ".join(granted),
        )

    async def refresh(self, tokens: OAuthTokens) -> OAuthTokens:
        if tokens.refresh_token is None:
            raise GrantBroken("Google gave no refresh token: connect again")
        access_token, refresh_token, expiry = await asyncio.to_thread(
            self._refresh, tokens.refresh_token
        )
        return tokens.model_copy(
            update={
                "access_token": access_token,
                "refresh_token": refresh_token or tokens.refresh_token,
                "expires_at": expiry.replace(tzinfo=UTC),  # google-auth's naive UTC
            }
        )

    async def aclose(self) -> None:
        """Nothing to close: each call has its own session."""

    def _flow(self, code_verifier: str | None = None) -> Any:
        flow = Flow.from_client_config(
            self._config,
            scopes=list(GOOGLE_SCOPES),
            redirect_uri=self._redirect_uri,
            code_verifier=code_verifier,
        )
        flow.oauth2session.register_compliance_hook("access_token_response", _unless_unavailable)
        flow.oauth2session.headers["Connection"] = "close"  # see PinnedSession
        return flow

    def _authorization_url(self, state: str) -> tuple[str, str]:
        flow = self._flow()
        url, _ = flow.authorization_url(state=state, access_type="offline", prompt="consent")
        return url, flow.code_verifier

    def _fetch_token(self, code: str, code_verifier: str) -> dict[str, Any]:
        flow = self._flow(code_verifier)
        try:
            return dict(
                flow.fetch_token(code=code, verify=self._verify, timeout=REQUEST_TIMEOUT_SECONDS)
            )
        except Warning as changed:  # oauthlib's "Scope has changed": fewer scopes granted
            return dict(getattr(changed, "token", {}))
        except OAuth2Error as err:
            said = f"{err.error}: {err.description}"
            if err.error == "invalid_grant":
                raise GrantBroken(f"Google refused the authorization code ({said})") from err
            raise CalendarRefused(f"Google refused the code exchange ({said})") from err
        except requests.RequestException as err:
            raise CalendarRetryLater(f"Google's token endpoint is unreachable: {err!r}") from err
        finally:
            flow.oauth2session.close()

    def _refresh(self, refresh_token: str) -> tuple[str, str | None, datetime]:
        web = self._config["web"]
        credentials = google.oauth2.credentials.Credentials(  # type: ignore[no-untyped-call]
            token=None,
            refresh_token=refresh_token,
            token_uri=web["token_uri"],
            client_id=web["client_id"],
            client_secret=web["client_secret"],
        )
        session = PinnedSession(self._verify)
        try:
            credentials.refresh(Request(session))  # type: ignore[no-untyped-call]
        except google.auth.exceptions.RefreshError as err:
            answer = err.args[1] if len(err.args) > 1 and isinstance(err.args[1], dict) else {}
            if err.retryable:
                raise CalendarRetryLater(f"Google could not refresh the token: {err}") from err
            if answer.get("error") == "invalid_grant":
                raise GrantBroken(f"Google refused the refresh token ({err.args[0]})") from err
            raise CalendarRefused(f"Google refused the refresh ({err.args[0]})") from err
        except google.auth.exceptions.TransportError as err:
            raise CalendarRetryLater(f"Google's token endpoint is unreachable: {err}") from err
        finally:
            session.close()
        if credentials.token is None or credentials.expiry is None:
            raise CalendarRetryLater("Google's token endpoint answered no access token")
        return credentials.token, credentials.refresh_token, credentials.expiry


class MicrosoftOAuth:
    """Microsoft identity platform through msal's confidential client.

    A new msal application per call keeps no user's tokens in memory (they live in our store);
    they share one HTTP cache, so the authority's discovery is read once a day and msal's own
    throttling of 429/5xx answers (for their Retry-After) holds across calls.
    """

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        authority: str = MICROSOFT_AUTHORITY,
        ca_bundle: str | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._client_id = client_id
        self._client_secret = client_secret
        self._redirect_uri = redirect_uri
        self._authority = authority
        self._session = PinnedSession(ca_bundle or True)
        self._clock = clock
        self._http_cache: dict[Any, Any] = {}
        self._lock = threading.Lock()  # msal's cache mapping is not shared safely otherwise

    async def authorization_url(self, state: str) -> tuple[str, str]:
        """The consent URL (PKCE and nonce built in) and msal's flow, as JSON, to keep."""
        flow = await asyncio.to_thread(
            self._with_app,
            lambda app: app.initiate_auth_code_flow(
                list(MICROSOFT_SCOPES),
                redirect_uri=self._redirect_uri,
                state=state,
                response_mode="form_post",  # the code in a POST body, not in the URL (RFC 9700)
            ),
        )
        return flow["auth_uri"], json.dumps(flow)

    async def complete(self, pending: str, callback: Mapping[str, str]) -> OAuthTokens:
        """The tokens for the callback's form (posted to the redirect URI: code, state, ...);
        msal checks the state, and the id token's nonce."""
        flow, query = json.loads(pending), dict(callback)
        answer = await asyncio.to_thread(
            self._with_app, lambda app: app.acquire_token_by_auth_code_flow(flow, query)
        )
        return self._tokens(answer, None)

    async def refresh(self, tokens: OAuthTokens) -> OAuthTokens:
        refresh_token = tokens.refresh_token
        if refresh_token is None:
            raise GrantBroken("Microsoft gave no refresh token: connect again")
        answer = await asyncio.to_thread(
            self._with_app,
            lambda app: app.acquire_token_by_refresh_token(refresh_token, list(MICROSOFT_SCOPES)),
        )
        return self._tokens(answer, refresh_token)

    async def aclose(self) -> None:
        self._session.close()

    def _with_app(self, call: Callable[[Any], Any]) -> Any:
        with self._lock:
            try:
                app = msal.ConfidentialClientApplication(
                    self._client_id,
                    client_credential=self._client_secret,
                    authority=self._authority,
                    instance_discovery=False,  # no call to Microsoft about the host
                    http_client=self._session,
                    http_cache=self._http_cache,
                )
                try:
                    return call(app)
                except ValueError as err:
                    if isinstance(err, json.JSONDecodeError):
                        raise
                    # msal: the callback's state is not this flow's
                    raise GrantBroken(f"Microsoft's callback does not match: {err}") from err
            except (requests.RequestException, msal.exceptions.MsalServiceError) as err:
                # msal raises on a 5xx and when the authority cannot be reached.
                raise CalendarRetryLater(f"Microsoft sign-in could not answer: {err}") from err
            except json.JSONDecodeError as err:
                raise CalendarRetryLater(f"Microsoft sign-in answered no JSON: {err}") from err
            except ValueError as err:  # msal: the authority refused its discovery (4xx)
                raise CalendarRefused(f"Microsoft's authority is not usable: {err}") from err

    def _tokens(self, answer: dict[str, Any], refresh_token: str | None) -> OAuthTokens:
        if "error" in answer:
            said = f"{answer['error']}: {answer.get('error_description', '')}".strip()
            if answer["error"] in UNAVAILABLE:
                raise CalendarRetryLater(f"Microsoft sign-in is unavailable ({said})")
            if answer["error"] in MICROSOFT_REAUTHORIZE or answer["error"] == "access_denied":
                raise GrantBroken(f"Microsoft refused the grant ({said})")
            raise CalendarRefused(f"Microsoft refused the token request ({said})")
        scope = answer.get("scope")
        return OAuthTokens(
            access_token=answer["access_token"],
            refresh_token=answer.get("refresh_token") or refresh_token,
            expires_at=self._clock() + timedelta(seconds=int(answer.get("expires_in", 3600))),
            scope=" ".join(scope) if isinstance(scope, list) else scope,
        )


class Grant:
    """An account's tokens: refreshed REFRESH_AHEAD before they expire, and once after the
    vendor refuses one (a 401); every new set goes to `on_refreshed` to be stored."""

    def __init__(
        self,
        tokens: OAuthTokens,
        refresher: TokenRefresher,
        on_refreshed: Callable[[OAuthTokens], Awaitable[None]],
        clock: Clock = utc_now,
    ) -> None:
        self.tokens = tokens
        self._refresher = refresher
        self._on_refreshed = on_refreshed
        self._clock = clock
        self._lock = asyncio.Lock()

    async def access_token(self) -> str:
        async with self._lock:
            if self._clock() >= self.tokens.expires_at - REFRESH_AHEAD:
                await self._refresh()
            return self.tokens.access_token

    async def refused(self, access_token: str) -> str:
        """A new access token after the vendor refused `access_token`; refreshed only if no
        other call has done so since."""
        async with self._lock:
            if self.tokens.access_token == access_token:
                await self._refresh()
            return self.tokens.access_token

    async def _refresh(self) -> None:
        self.tokens = await self._refresher.refresh(self.tokens)
        await self._on_refreshed(self.tokens)


class PinnedSession(requests.Session):
    """A requests session that passes `verify` with every request: requests lets
    REQUESTS_CA_BUNDLE override a session's own `verify`, but not a request's.

    Token calls are few: no connection is kept alive, since closing a session no longer
    closes its pooled connections (urllib3 2.8 leaves them to garbage collection)."""

    def __init__(self, verify: str | bool) -> None:
        super().__init__()
        self.headers["Connection"] = "close"
        self.mount("https://", requests.adapters.HTTPAdapter(max_retries=1))  # as msal's own
        self._pinned = verify

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs["verify"] = self._pinned
        kwargs.setdefault("timeout", REQUEST_TIMEOUT_SECONDS)
        return super().request(*args, **kwargs)


def _unless_unavailable(response: requests.Response) -> requests.Response:
    """requests-oauthlib reads any body as a token answer; a 429 or 5xx is not one."""
    if response.status_code == 429 or response.status_code >= 500:
        raise CalendarRetryLater(
            f"Google's token endpoint answered {response.status_code}",
            retry_after_seconds(response.headers.get("Retry-After")),
        )
    return response
