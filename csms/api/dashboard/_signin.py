"""Sign-in, sign-out, the language switch and the live event stream."""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from .._auth import Role
from ._core import LANG_COOKIE, SECURITY_HEADERS, Dashboard, form_page
from ._i18n import LANGUAGES, translator
from ._sessions import COOKIE, LOGIN_COOKIE, CsrfError, read_form, set_cookie

__all__ = ["signin_routes"]

log = logging.getLogger("csms.dashboard")


def _safe_next(target: str | None) -> str:
    """Only a path of this site (no scheme, no host, no ``//``) is followed after sign-in."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _login_form(
    dash: Dashboard, request: Request, *, error: bool = False, status: int = 200
) -> Response:
    language = request.cookies.get(LANG_COOKIE, "en")
    csrf = secrets.token_urlsafe(32)
    html = dash.env.get_template("login.html").render(
        _=translator(language if language in LANGUAGES else "en"),
        csrf=csrf,
        next=_safe_next(request.query_params.get("next")),
        error=error,
        languages=LANGUAGES,
        language=language,
    )
    response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
    set_cookie(request, response, LOGIN_COOKIE, csrf, max_age=3600)
    return response


def signin_routes(dash: Dashboard) -> list[tuple[str, str, Any]]:
    async def login_page(request: Request) -> Response:
        if await dash.store.get(request) is not None:
            return RedirectResponse(_safe_next(request.query_params.get("next")), 303)
        return _login_form(dash, request)

    async def login(request: Request) -> Response:
        try:
            form = await read_form(request)
        except CsrfError:
            return _login_form(dash, request, error=True, status=400)
        expected = request.cookies.get(LOGIN_COOKIE, "")
        sent = form.get("csrf", "")
        if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
            return _login_form(dash, request, error=True, status=403)
        session = await dash.store.sign_in(form.get("token", ""))
        if session is None:
            log.info("dashboard sign-in refused")
            return _login_form(dash, request, error=True, status=401)
        log.info(
            "dashboard sign-in",
            extra={"token_name": session.principal.name, "role": session.principal.role.label},
        )
        response = RedirectResponse(_safe_next(form.get("next")), status_code=303)
        set_cookie(request, response, COOKIE, session.id)
        response.delete_cookie(LOGIN_COOKIE, path="/")
        return response

    @form_page(dash, Role.VIEWER)
    async def logout(page: Any, form: dict[str, str]) -> Response:
        dash.store.end(page.session)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    async def language(request: Request) -> Response:
        code = request.path_params["code"]
        back = _safe_next(request.query_params.get("next"))
        response = RedirectResponse(back, status_code=303)
        if code in LANGUAGES:
            set_cookie(request, response, LANG_COOKIE, code, max_age=365 * 86400)
        return response

    async def events(request: Request) -> Response:
        session = await dash.store.get(request)
        if session is None:
            return Response(status_code=401)

        async def still_signed_in() -> AsyncIterator[bool]:
            while True:
                yield await dash.store.get(request) is not None

        return StreamingResponse(
            # an open overview (?figures=1) has its figures in the stream's messages
            dash.hub.stream(still_signed_in(), figures=request.query_params.get("figures") == "1"),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    return [
        ("GET", "/login", login_page),
        ("POST", "/login", login),
        ("POST", "/logout", logout),
        ("GET", "/lang/{code}", language),
        ("GET", "/events", events),
    ]
