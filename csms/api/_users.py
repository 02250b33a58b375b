"""Users: create, list, get, and link id tokens to them (a user owns any number of tokens).

A token is linked, never created here: creating one grants charging, which is the id-token
endpoint's business (it also takes ``userId``). A token already linked to another user is
refused (409 ``linked_to_other_user``) rather than silently moved.
"""

from __future__ import annotations

import functools
import re

import psycopg
from starlette.responses import Response

from csms.storage import NotFound as RowNotFound
from csms.storage import users

from ._auth import Role
from ._errors import Conflict, NotFound
from ._routing import Call, Endpoint, Param, json_response
from ._v2g import v2g_owner_changed
from ._v2g_bodies import USER_ID_PATTERN, User, UserBody, UserIdToken, UserIdTokenBody, UserPage

__all__ = ["ENDPOINTS"]

_PREFIX = "/api/v1/users"
_USER_ID = re.compile(USER_ID_PATTERN)
_ID_DOC = {"userId": "The user's id."}


def user_view(row: users.UserRow) -> User:
    return User(
        user_id=row.user_id,
        name=row.name,
        wallet_id=row.wallet_id,
        id_tokens=[UserIdToken(value, type_) for value, type_ in row.id_tokens],
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def require_user_id(user_id: str) -> str:
    """A user id that can exist, or 404 (checked before it reaches the database)."""
    if _USER_ID.fullmatch(user_id) is None:
        raise NotFound(f"no user {user_id!r}")
    return user_id


async def create(call: Call) -> Response:
    body: UserBody = call.body
    write = functools.partial(users.create_user, wallet_id=body.wallet_id)
    try:
        row = await call.control.database.run(write, body.user_id, body.name)
    except psycopg.errors.UniqueViolation:
        raise Conflict(f"user {body.user_id!r} exists", code="exists") from None
    return json_response(user_view(row), 201, {"Location": f"{_PREFIX}/{row.user_id}"})


async def list_all(call: Call) -> Response:
    limit = call.query["limit"]
    fetch = functools.partial(users.list_users, after=call.query["after"], limit=limit + 1)
    rows = await call.control.database.run(fetch)
    page = rows[:limit]
    more = len(rows) > limit
    return json_response(
        UserPage([user_view(r) for r in page], page[-1].user_id if more and page else None)
    )


async def get_one(call: Call) -> Response:
    user_id = require_user_id(call.path("userId"))
    row = await call.control.database.run(users.get_user, user_id)
    if row is None:
        raise NotFound(f"no user {user_id!r}")
    return json_response(user_view(row))


async def link_id_token(call: Call) -> Response:
    user_id = require_user_id(call.path("userId"))
    body: UserIdTokenBody = call.body
    try:
        linked = await call.control.database.run(
            users.link_id_token, user_id, body.id_token, body.type
        )
    except RowNotFound:
        raise NotFound(f"no user {user_id!r}") from None
    if linked.token is None:
        raise NotFound(f"no id token {body.id_token!r} of type {body.type!r}")
    if linked.previous_user_id not in (None, user_id):
        raise Conflict(
            f"id token {linked.token.id_token!r} belongs to another user",
            code="linked_to_other_user",
        )
    if linked.previous_user_id is None:  # a change: caches and the V2G owner hear of it
        call.control.id_token_changed(linked.token.id_token, linked.token.type)
        v2g_owner_changed(call, user_id)
    row = await call.control.database.run(users.get_user, user_id)
    if row is None:  # deleted meanwhile
        raise NotFound(f"no user {user_id!r}")
    return json_response(user_view(row))


ENDPOINTS = (
    Endpoint(
        "POST",
        _PREFIX,
        create,
        Role.OPERATOR,
        "Create a user",
        "users",
        ok=201,
        body=UserBody,
        response=User,
        errors=(409, 422),
        description="409 `exists` if the id is taken.",
    ),
    Endpoint(
        "GET",
        _PREFIX,
        list_all,
        Role.VIEWER,
        "List users, in id order, with their id tokens",
        "users",
        response=UserPage,
        query=(
            Param(
                "after", description="The last id of the previous page.", pattern=USER_ID_PATTERN
            ),
            Param("limit", int, "Page size.", minimum=1, maximum=1000, default=100),
        ),
        errors=(422,),
    ),
    Endpoint(
        "GET",
        _PREFIX + "/{userId}",
        get_one,
        Role.VIEWER,
        "Get a user with their id tokens",
        "users",
        response=User,
        errors=(404,),
        path_docs=_ID_DOC,
    ),
    Endpoint(
        "POST",
        _PREFIX + "/{userId}/id-tokens",
        link_id_token,
        Role.OPERATOR,
        "Link an existing id token to the user",
        "users",
        body=UserIdTokenBody,
        response=User,
        errors=(404, 409, 422),
        path_docs=_ID_DOC,
        description="404 when the user or the token does not exist; 409 `linked_to_other_user`"
        " when the token belongs to someone else. Linking it again to the same user is a no-op.",
    ),
)
