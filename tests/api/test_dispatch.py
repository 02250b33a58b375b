"""The route table in front of Starlette: the same answer as Starlette's router for every path,
and whatever is not on it (unknown paths, other methods, trailing slashes, HEAD) still answered
by Starlette as before."""

from __future__ import annotations

from typing import Any

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.routing import Match, Route

from csms.actors import Node
from csms.api import endpoints
from csms.api._dispatch import RouteTable

from .conftest import client

TABLE = [(ep.method, ep.path, ep.handler) for ep in endpoints()]
ROUTES = [Route(path, handler, methods=[method]) for method, path, handler in TABLE]
METHODS = sorted({method for method, _, _ in TABLE} | {"HEAD", "OPTIONS"})


def starlette_match(method: str, path: str) -> tuple[Any, dict[str, Any]] | None:
    scope = {"type": "http", "method": method, "path": path, "root_path": ""}
    for route in ROUTES:
        match, child = route.matches(scope)
        if match is Match.FULL:
            return route.endpoint, child["path_params"]
    return None


# path segments: the templates' own words, parameter-like values, and awkward text
segment = st.one_of(
    st.sampled_from(sorted({s for _, p, _ in TABLE for s in p.split("/") if "{" not in s})),
    st.text(st.characters(codec="utf-8", exclude_characters="/"), max_size=6),
    st.sampled_from(["", "CP001", "{stationId}", "%2F", ".."]),
)


@st.composite
def paths(draw: st.DrawFn) -> str:
    if draw(st.booleans()):  # a template with its parameters filled in (or left empty)
        _, template, _ = draw(st.sampled_from(TABLE))
        parts = [draw(segment) if "{" in s else s for s in template.split("/")[1:]]
        if draw(st.booleans()):
            parts.append(draw(st.sampled_from(["", "extra"])))
        return "/" + "/".join(parts)
    return "/" + "/".join(draw(st.lists(segment, max_size=7)))


@settings(max_examples=300, deadline=None)
@given(method=st.sampled_from(METHODS), path=paths())
def test_the_table_answers_exactly_as_starlette_routes(method: str, path: str) -> None:
    # HEAD, which Starlette adds to every GET route, is left to Starlette
    expected = None if method == "HEAD" else starlette_match(method, path)
    assert RouteTable(TABLE).match(method, path) == expected


def test_every_endpoint_is_on_the_table() -> None:
    assert RouteTable(TABLE).size == len(endpoints())


def test_templates_that_could_match_one_path_are_left_to_starlette() -> None:
    async def a(request: Any) -> Any: ...
    async def b(request: Any) -> Any: ...

    table = RouteTable([("GET", "/x/{id}", a), ("GET", "/x/special", b), ("POST", "/x/special", b)])
    assert table.size == 1  # only the POST: Starlette's order decides between the two GETs
    assert table.match("GET", "/x/special") is None
    assert table.match("GET", "/x/1") is None
    assert table.match("POST", "/x/special") == (b, {})


async def test_requests_off_the_table_are_answered_by_starlette(node: Node) -> None:
    async with client(node) as api:
        r = await api.get("/api/v1/nowhere")
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "not_found"
        r = await api.put("/api/v1/stations")
        assert r.status_code == 405
        assert r.json()["error"]["code"] == "method_not_allowed"
        r = await api.get("/api/v1/stations/", follow_redirects=False)
        assert r.status_code == 307
        assert httpx.URL(r.headers["location"]).path == "/api/v1/stations"
        r = await api.head("/healthz")
        assert r.status_code == 200
        assert r.content == b""
        r = await api.get("/healthz")
        assert r.json()["status"] == "ok"
