"""Straight from the path to the endpoint: the request path of every call costs one dictionary
walk instead of Starlette's middleware layers and a regular expression per route tried.

Only what Starlette would answer the same way takes the short cut: a path that matches exactly
one route of the table, with that route's method. Everything else (lifespan, unknown paths, a
method the path does not allow, trailing-slash redirects, ``HEAD``, a ``root_path``) goes through
the Starlette application as before, so behaviour does not depend on which way a request went.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

__all__ = ["FastRoutes", "RouteTable"]

Handler = Callable[[Request], Awaitable[Response]]
Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]

#: Key of a path parameter's branch in the tree (no path segment can be ``None``).
_PARAM = None


def _segments(path: str) -> list[str]:
    """``/a/b/`` is ``["a", "b", ""]``: a trailing slash is an empty last segment, which no
    route has (Starlette redirects those)."""
    return path.split("/")[1:]


def _overlap(a: list[str | None], b: list[str | None]) -> bool:
    """Whether one concrete path could match both templates (``None`` is a parameter)."""
    if len(a) != len(b):
        return False
    return all(x is None or y is None or x == y for x, y in zip(a, b, strict=True))


class RouteTable:
    """Method and path templates (``/api/v1/stations/{stationId}``) to handlers, as a tree of
    path segments. Templates that could match the same path are left out: their order in the
    table decides, which only Starlette's router knows."""

    def __init__(self, routes: Iterable[tuple[str, str, Handler]]) -> None:
        parsed: list[tuple[str, list[str | None], list[str], Handler]] = []
        for method, path, handler in routes:
            shape: list[str | None] = []
            names: list[str] = []
            for segment in _segments(path):
                if segment.startswith("{") and segment.endswith("}"):
                    shape.append(_PARAM)
                    names.append(segment[1:-1])
                else:
                    shape.append(segment)
            parsed.append((method, shape, names, handler))
        self._tree: dict[Any, Any] = {}
        self.size = 0
        for i, (method, shape, names, handler) in enumerate(parsed):
            if any(
                m == method and _overlap(shape, other)
                for j, (m, other, _, _) in enumerate(parsed)
                if j != i
            ):
                continue
            node = self._tree
            for part in shape:
                node = node.setdefault(part, {})
            node.setdefault("", {})[method] = (tuple(names), handler)
            self.size += 1

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
        """The handler and path parameters of the one route matching, or None.

        A word of the path is tried as itself first, then as a parameter: ``DELETE
        /devices/CP1/certificates/install`` is the ``{hash}`` route when only ``POST`` has the
        word ``install``. For one method at most one template can match (overlapping ones are
        left out), so the first found is the one."""
        segments = _segments(path)
        if any(not segment for segment in segments):
            return None  # an empty segment (a trailing or double slash) matches no route
        found = self._walk(self._tree, segments, 0, method)
        if found is None:
            return None
        names, handler, values = found
        return handler, dict(zip(names, values, strict=True))

    def _walk(
        self, node: Mapping[Any, Any], segments: list[str], at: int, method: str
    ) -> tuple[tuple[str, ...], Handler, list[str]] | None:
        if at == len(segments):
            leaf = node.get("")
            found = leaf.get(method) if leaf is not None else None
            return None if found is None else (found[0], found[1], [])
        segment = segments[at]
        child = node.get(segment)
        if child is not None:
            found = self._walk(child, segments, at + 1, method)
            if found is not None:
                return found
        child = node.get(_PARAM)
        if child is not None:
            found = self._walk(child, segments, at + 1, method)
            if found is not None:
                found[2].insert(0, segment)
                return found
        return None


class FastRoutes:
    """The ASGI entry point: the route table first, the full Starlette stack otherwise."""

    def __init__(self, table: RouteTable, fallback: ASGIApp) -> None:
        self.table = table
        self.fallback = fallback

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            found = self.table.match(scope["method"], scope["path"])
            if found is not None:
                handler, params = found
                scope["path_params"] = params
                response = await handler(Request(scope, receive, send))
                await response(scope, receive, send)
                return
        await self.fallback(scope, receive, send)
