"""The operator's dashboard, served by the node at ``/`` beside the API (``/api/v1``).

Server-rendered pages (Jinja2 templates in ``templates/``) with two small libraries kept in
``static/vendor`` (htmx for fragment updates, uPlot for charts; no build step, nothing fetched at
run time). Sign-in exchanges an API token for a server-side session (``_sessions``); the token's
role decides what a page shows and what it lets one do. Pages change live: one shared
subscription to the node's events feeds a Server-Sent Events stream per open page (``_hub``),
telling it which of its parts to fetch again; an open overview's figures come in the message
itself, computed once per batch for all of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.routing import BaseRoute, Match, Mount, NoMatchFound, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from csms.storage import tokens as token_repo

from ._activity import activity_routes
from ._admin import admin_routes
from ._commands import command_routes
from ._core import HERE, Dashboard
from ._hub import EventHub
from ._overview import overview_routes
from ._sessions import SessionStore
from ._signin import signin_routes
from ._stations import station_routes
from ._v2g import v2g_routes

if TYPE_CHECKING:
    from .._routing import ApiState

__all__ = ["Dashboard", "EventHub", "Pages", "dashboard_routes"]

_MATCHED = "csms.dashboard.route"


class Pages(BaseRoute):
    """The dashboard's routes as one entry of the application's router: they are pages, not
    endpoints of the API (whose every ``Route`` the OpenAPI document describes)."""

    def __init__(self, routes: list[BaseRoute]) -> None:
        self.routes = routes

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        partial: tuple[Match, Scope] | None = None
        for route in self.routes:
            match, child = route.matches(scope)
            if match is Match.FULL:
                return match, {**child, _MATCHED: route}
            if match is Match.PARTIAL and partial is None:
                partial = (match, {**child, _MATCHED: route})
        return partial or (Match.NONE, {})

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await scope[_MATCHED].handle(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        for route in self.routes:
            try:
                return route.url_path_for(name, **path_params)
            except NoMatchFound:
                continue
        raise NoMatchFound(name, path_params)


def dashboard_routes(api: ApiState, *, admin_token: str | None = None) -> tuple[Dashboard, Pages]:
    """The dashboard over the API's state, and its routes."""

    async def check(digest: str) -> tuple[str, str] | None:
        row = await api.control.database.run(token_repo.api_token_by_hash, digest)
        return None if row is None else (row.name, row.role)

    dash = Dashboard(api, SessionStore(check, admin_token=admin_token))
    table = [
        *signin_routes(dash),
        *overview_routes(dash),
        *station_routes(dash),
        *command_routes(dash),
        *activity_routes(dash),
        *v2g_routes(dash),
        *admin_routes(dash),
    ]
    routes: list[BaseRoute] = [
        Route(path, handler, methods=[method]) for method, path, handler in table
    ]
    routes.append(Mount("/static", StaticFiles(directory=HERE / "static"), name="static"))
    return dash, Pages(routes)
