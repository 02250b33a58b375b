"""Dashboard sign-in: an API token is exchanged for a session, kept on the server.

The browser holds only an opaque random session id, in an HttpOnly, SameSite=Strict cookie
(Secure when served over TLS); the token itself is never stored, only its SHA-256, which is
looked up again every few seconds so a revoked or expired token ends its sessions within that
time. Each session has its own CSRF token, required on every form post (hidden field
``csrf``) and every htmx request (header ``X-CSRF-Token``); the sign-in form, before any
session exists, uses a double-submit cookie instead.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

import attrs
import trio
from starlette.requests import Request
from starlette.responses import Response

from .._auth import BOOTSTRAP_NAME, Principal, Role, hash_token

__all__ = [
    "COOKIE",
    "LOGIN_COOKIE",
    "Session",
    "SessionStore",
    "check_csrf",
    "read_form",
    "set_cookie",
]

COOKIE = "csms_session"
LOGIN_COOKIE = "csms_login_csrf"
#: A session unused this long ends.
IDLE_SECONDS = 12 * 3600
#: How often a session's token is looked up again (revocation takes effect within this).
RECHECK_SECONDS = 5.0
#: At most this many sessions; the least recently used goes first.
MAX_SESSIONS = 10_000
#: A form body larger than this is refused (the dashboard's forms are a few hundred bytes).
MAX_FORM_BYTES = 64 * 1024

#: The token hash's (name, role label), or None when it is not live.
TokenCheck = Callable[[str], Awaitable[tuple[str, str] | None]]


class CsrfError(Exception):
    """The form or request carried no valid CSRF token."""


@attrs.define
class Session:
    id: str
    principal: Principal
    token_hash: str
    csrf: str
    checked_at: float
    used_at: float

    def can(self, role: Role) -> bool:
        return self.principal.role >= role


class SessionStore:
    def __init__(self, check: TokenCheck, *, admin_token: str | None = None) -> None:
        self._check = check
        self._admin_hash = hash_token(admin_token) if admin_token else None
        self._sessions: dict[str, Session] = {}

    async def _principal(self, digest: str) -> Principal | None:
        if self._admin_hash is not None and hmac.compare_digest(digest, self._admin_hash):
            return Principal(BOOTSTRAP_NAME, Role.ADMIN)
        found = await self._check(digest)
        return None if found is None else Principal(found[0], Role.parse(found[1]))

    async def sign_in(self, token: str) -> Session | None:
        """A new session for a live token, or None."""
        token = token.strip()
        if not token or len(token) > 512:
            return None
        digest = hash_token(token)
        principal = await self._principal(digest)
        if principal is None:
            return None
        now = trio.current_time()
        if len(self._sessions) >= MAX_SESSIONS:
            oldest = min(self._sessions.values(), key=lambda s: s.used_at)
            del self._sessions[oldest.id]
        session = Session(
            secrets.token_urlsafe(32), principal, digest, secrets.token_urlsafe(32), now, now
        )
        self._sessions[session.id] = session
        return session

    async def get(self, request: Request) -> Session | None:
        """The request's live session, or None."""
        session_id = request.cookies.get(COOKIE)
        session = self._sessions.get(session_id) if session_id else None
        if session is None:
            return None
        now = trio.current_time()
        if now - session.used_at > IDLE_SECONDS:
            self._sessions.pop(session.id, None)
            return None
        if now - session.checked_at > RECHECK_SECONDS:
            principal = await self._principal(session.token_hash)
            if principal is None:
                self._sessions.pop(session.id, None)
                return None
            session.principal = principal
            session.checked_at = now
        session.used_at = now
        return session

    def end(self, session: Session) -> None:
        self._sessions.pop(session.id, None)

    def end_named(self, name: str) -> None:
        """End every session of the token named ``name`` (it was revoked)."""
        for session in [s for s in self._sessions.values() if s.principal.name == name]:
            self.end(session)

    def __len__(self) -> int:
        return len(self._sessions)


def set_cookie(request: Request, response: Response, name: str, value: str, **kw: object) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
        **kw,  # type: ignore[arg-type]
    )


async def read_form(request: Request) -> dict[str, str]:
    """An application/x-www-form-urlencoded body (the only kind the dashboard posts)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise CsrfError("the form is too large")
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def check_csrf(request: Request, session: Session, form: dict[str, str]) -> None:
    """The session's CSRF token must come with the form or as the htmx header."""
    sent = form.get("csrf") or request.headers.get("x-csrf-token") or ""
    if not hmac.compare_digest(sent.encode(), session.csrf.encode()):
        raise CsrfError("missing or wrong CSRF token")
