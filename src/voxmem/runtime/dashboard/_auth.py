"""Dashboard sign-in: the admin token exchanged once for a session cookie, and the CSRF
token every form carries.

- The token is typed into a login form (never put in a URL) and compared in constant
  time. A correct one opens a server-side session; the browser holds only its random
  id in an ``HttpOnly``, ``SameSite=Strict`` cookie.
- Sessions live in this runtime's memory, so a cookie issued by another runtime (or
  before a restart) opens nothing.
- Each session has its own CSRF token; a state-changing request must send it back in
  the form (``csrf``) or the ``X-CSRF-Token`` header. The login form, which has no
  session yet, uses a double-submit cookie instead.
- API clients may read the JSON twins with ``Authorization: Bearer <token>``; only a
  signed-in browser session can submit the dashboard's forms.
"""

from __future__ import annotations

import collections
import dataclasses
import hmac
import secrets
import time
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response

__all__ = ["CSRF_FIELD", "CSRF_HEADER", "LOGIN_COOKIE", "SESSION_COOKIE", "DashboardAuth",
           "DashboardSession"]

SESSION_COOKIE = "voxmem_session"
LOGIN_COOKIE = "voxmem_login"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
#: A dashboard session ends after this long, signed in or idle.
SESSION_TTL_S = 12 * 3600
#: Sessions kept at most; the oldest is signed out first.
MAX_SESSIONS = 256
LOGIN_NONCE_TTL_S = 3600


@dataclasses.dataclass(frozen=True, slots=True)
class DashboardSession:
    id: str
    csrf: str
    expires_at: float


class DashboardAuth:
    """Issues and checks dashboard sessions for one runtime and its admin ``token``."""

    def __init__(self, token: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._token = token.encode("utf-8")
        self._clock = clock
        self._sessions: collections.OrderedDict[str, DashboardSession] = \
            collections.OrderedDict()

    # -- the admin token ----------------------------------------------------------------
    def token_matches(self, presented: str) -> bool:
        # compare_digest: the time taken must not tell how much of the token matched.
        return hmac.compare_digest(presented.strip().encode("utf-8"), self._token)

    def bearer_ok(self, request: Request) -> bool:
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and self.token_matches(presented)

    # -- sessions -----------------------------------------------------------------------
    def open_session(self) -> DashboardSession:
        session = DashboardSession(id=secrets.token_urlsafe(32), csrf=secrets.token_urlsafe(32),
                                   expires_at=self._clock() + SESSION_TTL_S)
        self._sessions[session.id] = session
        while len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)
        return session

    def close_session(self, session: DashboardSession) -> None:
        self._sessions.pop(session.id, None)

    def session_of(self, request: Request) -> DashboardSession | None:
        sid = request.cookies.get(SESSION_COOKIE)
        if not sid:
            return None
        session = self._sessions.get(sid)
        if session is None:
            return None
        if session.expires_at <= self._clock():
            self._sessions.pop(sid, None)
            return None
        return session

    def can_read(self, request: Request) -> bool:
        return self.session_of(request) is not None or self.bearer_ok(request)

    @staticmethod
    def csrf_ok(session: DashboardSession, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(
            str(presented).encode("utf-8"), session.csrf.encode("utf-8"))

    # -- cookies ------------------------------------------------------------------------
    @staticmethod
    def set_session_cookie(response: Response, session: DashboardSession) -> None:
        response.set_cookie(SESSION_COOKIE, session.id, max_age=SESSION_TTL_S, path="/",
                            httponly=True, samesite="strict")

    @staticmethod
    def clear_session_cookie(response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")

    @staticmethod
    def new_login_nonce() -> str:
        return secrets.token_urlsafe(24)

    @staticmethod
    def set_login_cookie(response: Response, nonce: str) -> None:
        response.set_cookie(LOGIN_COOKIE, nonce, max_age=LOGIN_NONCE_TTL_S, path="/login",
                            httponly=True, samesite="strict")

    @staticmethod
    def login_nonce_ok(request: Request, presented: str | None) -> bool:
        cookie = request.cookies.get(LOGIN_COOKIE)
        return bool(cookie) and bool(presented) and hmac.compare_digest(
            str(cookie).encode("utf-8"), str(presented).encode("utf-8"))
