"""What every dashboard page shares: the templates, the signed-in session, the role checks, the
operator's time zone and language, and the HTML responses."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import quote

import jinja2
import trio
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from csms.storage import Connection

from .._auth import Role
from ._energy import EnergyTally
from ._hub import EventHub
from ._i18n import LANGUAGES, translator
from ._sessions import CsrfError, Session, SessionStore, check_csrf, read_form

if TYPE_CHECKING:
    from .._control import ControlPlane
    from .._routing import ApiState

__all__ = [
    "STATEMENT_TIMEOUT_MS",
    "BoundedDatabase",
    "Dashboard",
    "Memo",
    "Page",
    "form_page",
    "format_kw",
    "format_kwh",
    "page",
]

HERE = Path(__file__).parent
#: What a missing value shows (an en dash).
NONE = "\u2013"
LANG_COOKIE = "csms_lang"
#: Response headers of every page: no framing, no sniffing, scripts only from the node itself.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
        " connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


T = TypeVar("T")
P = ParamSpec("P")

#: A dashboard statement gives up after this long. A page's reads are bounded queries of
#: milliseconds; the worker thread running one cannot be cancelled when the page's reader goes
#: away, but PostgreSQL can end the statement, so none outlives its page by more than this.
STATEMENT_TIMEOUT_MS = 5_000


def _bounded(
    conn: Connection,
    fn: Callable[Concatenate[Connection, P], T],
    /,
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    conn.execute(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}")
    return fn(conn, *args, **kwargs)


class BoundedDatabase:
    """The control plane's database as the dashboard uses it: ``await db.run(fn, *args)``, each
    call in one transaction whose statements give up after ``STATEMENT_TIMEOUT_MS``."""

    def __init__(self, dash: Dashboard) -> None:
        self._dash = dash

    async def run(
        self, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        return await self._dash.control.database.run(_bounded, fn, *args, **kwargs)


class Memo:
    """Values kept for a while, each computed by one task at a time: the pages asking for a
    key while it is being computed wait for that value, so fifty dashboards refreshing on the
    same batch of events cost one query, not fifty queued on the database threads."""

    MAX_KEYS = 64

    def __init__(self) -> None:
        self._values: dict[str, tuple[float, Any]] = {}
        self._computing: dict[str, trio.Event] = {}

    async def get(self, key: str, ttl: float, make: Callable[[], Awaitable[T]]) -> T:
        """``make()``'s value, reused for ``ttl`` seconds."""
        while True:
            now = trio.current_time()
            hit = self._values.get(key)
            if hit is not None and hit[0] > now:
                value: T = hit[1]
                return value
            running = self._computing.get(key)
            if running is None:
                break
            await running.wait()  # then read what it stored (or compute, if it failed)
        done = self._computing[key] = trio.Event()
        try:
            value = await make()
            if len(self._values) >= self.MAX_KEYS:
                self._evict(now)
            self._values[key] = (now + ttl, value)
            return value
        finally:
            del self._computing[key]
            done.set()

    def _evict(self, now: float) -> None:
        """Make room: the expired values go (a key per batch of events leaves many), and
        everything only when none has: the long-lived ones (the energy tally's figure, the
        price curve) stay while the per-batch ones come and go."""
        for key in [k for k, (until, _) in self._values.items() if until <= now]:
            del self._values[key]
        if len(self._values) >= self.MAX_KEYS:
            self._values.clear()


class Dashboard:
    """The dashboard's state: one per application."""

    def __init__(self, api: ApiState, store: SessionStore) -> None:
        self.api = api
        self.store = store
        self.hub = EventHub(api.control)
        self.memo = Memo()
        self.db = BoundedDatabase(self)
        self.energy = EnergyTally(self.db.run)
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["kw"] = format_kw
        self.env.filters["kwh"] = format_kwh
        self.env.filters["num"] = _num

    @property
    def control(self) -> ControlPlane:
        return self.api.control

    def time_zone(self) -> dt.tzinfo:
        try:
            return self.control.prices.time_zone
        except Exception:  # a control plane without prices: UTC
            return dt.UTC


def _num(value: Any, places: int = 1) -> str:
    if value is None:
        return NONE
    return f"{Decimal(value):,.{places}f}"


def format_kw(watts: Any) -> str:
    return NONE if watts is None else f"{Decimal(watts) / 1000:,.1f} kW"


def format_kwh(wh: Any) -> str:
    return NONE if wh is None else f"{Decimal(wh) / 1000:,.1f} kWh"


class Page:
    """One request to a signed-in page."""

    def __init__(self, dash: Dashboard, request: Request, session: Session) -> None:
        self.dash = dash
        self.request = request
        self.session = session
        self.language = request.cookies.get(LANG_COOKIE, "en")
        if self.language not in LANGUAGES:
            self.language = "en"
        self.tz = dash.time_zone()

    @property
    def control(self) -> ControlPlane:
        return self.dash.control

    @property
    def db(self) -> BoundedDatabase:
        """The database for this page's reads and writes (statements bounded in time)."""
        return self.dash.db

    @property
    def partial(self) -> bool:
        """An htmx request for a fragment (a live refresh or a form's answer)."""
        return self.request.headers.get("hx-request") == "true"

    def can(self, role: Role) -> bool:
        return self.session.can(role)

    def local(self, instant: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
        if instant is None:
            return NONE
        return instant.astimezone(self.tz).strftime(fmt)

    def render(self, template: str, status: int = 200, /, **context: Any) -> HTMLResponse:
        html = self.dash.env.get_template(template).render(
            _=translator(self.language),
            page=self,
            session=self.session,
            principal=self.session.principal,
            csrf=self.session.csrf,
            role=Role,
            path=self.request.url.path,
            languages=LANGUAGES,
            language=self.language,
            tz_name=str(self.tz),
            **context,
        )
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)

    def problem(self, status: int, title: str, message: str) -> HTMLResponse:
        template = "_problem.html" if self.partial else "problem.html"
        return self.render(template, status, title=title, message=message)


def _to_login(request: Request) -> Response:
    if request.headers.get("hx-request") == "true":
        return Response(status_code=401, headers={"HX-Redirect": "/login"})
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


Handler = Callable[[Page], Awaitable[Response]]
FormHandler = Callable[[Page, dict[str, str]], Awaitable[Response]]


def page(dash: Dashboard, role: Role = Role.VIEWER) -> Callable[[Handler], Any]:
    """A GET page for signed-in users with at least ``role``."""

    def wrap(handler: Handler) -> Any:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            session = await dash.store.get(request)
            if session is None:
                return _to_login(request)
            p = Page(dash, request, session)
            if not session.can(role):
                return p.problem(403, "Forbidden", f"This needs the {role.label} role.")
            return await handler(p)

        return endpoint

    return wrap


def form_page(dash: Dashboard, role: Role) -> Callable[[FormHandler], Any]:
    """A form post: signed in, the session's CSRF token, at least ``role`` (else 403)."""

    def wrap(handler: FormHandler) -> Any:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            session = await dash.store.get(request)
            if session is None:
                return _to_login(request)
            p = Page(dash, request, session)
            try:
                form = await read_form(request)
                check_csrf(request, session, form)
            except CsrfError:
                return p.problem(
                    403,
                    "Forbidden",
                    "The session's CSRF token is missing or wrong: reload the page.",
                )
            if not session.can(role):
                return p.problem(403, "Forbidden", f"This needs the {role.label} role.")
            return await handler(p, form)

        return endpoint

    return wrap
