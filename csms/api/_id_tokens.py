"""Id tokens (who may charge): create, list, get, update, delete. Fields are named as in OCPP's
IdTokenInfo; an idToken is matched case-insensitively, as OCPP requires.

Every change drops the token from the node's id-token cache before the response is sent, so the
next Authorize on this node sees it (other nodes hear of it through the database's notification).
"""

from __future__ import annotations

import functools
import re

import psycopg
from starlette.responses import Response

from csms.storage import Connection, tokens
from csms.storage import NotFound as RowNotFound

from ._auth import Role
from ._errors import Conflict, NotFound
from ._routing import Call, Endpoint, Param, json_response
from ._v2g import v2g_owner_changed
from .bodies import IdToken, IdTokenBody, IdTokenList, IdTokenUpdate

__all__ = ["ENDPOINTS"]

_PREFIX = "/api/v1/id-tokens"
_TOKEN = re.compile(r"[!-~]{1,255}")
_TYPE = re.compile(r"[A-Za-z0-9]{1,20}")
_DOCS = {
    "type": "The IdTokenEnum value (ISO14443, Central, eMAID, ...).",
    "idToken": "The token value (case-insensitive).",
}


def token_view(row: tokens.IdTokenRow) -> IdToken:
    return IdToken(row.id_token, row.type, row.status, row.expires_at, row.group_id, row.user_id)


async def _find(call: Call) -> tokens.IdTokenRow:
    id_token, type_ = call.path("idToken"), call.path("type")
    row = None
    if _TOKEN.fullmatch(id_token) and _TYPE.fullmatch(type_):
        row = await call.control.database.run(tokens.get_id_token, id_token, type_)
    if row is None:
        raise NotFound(f"no id token {id_token!r} of type {type_!r}")
    return row


def _create(conn: Connection, body: IdTokenBody) -> tokens.IdTokenRow | None:
    """Insert unless a token with the same value (any case) and type exists; None then."""
    if tokens.get_id_token(conn, body.id_token, body.type) is not None:
        return None
    tokens.upsert_id_token(
        conn,
        body.id_token,
        body.type,
        status=body.status,
        expires_at=body.cache_expiry_date_time,
        group_id=body.group_id_token,
        user_id=body.user_id,
    )
    return tokens.get_id_token(conn, body.id_token, body.type)


async def create(call: Call) -> Response:
    body: IdTokenBody = call.body
    try:
        row = await call.control.database.run(_create, body)
    except psycopg.errors.ForeignKeyViolation:
        raise NotFound(f"no user {body.user_id!r}") from None
    call.control.id_token_changed(body.id_token, body.type)  # "unknown" may be cached
    if row is None:
        raise Conflict(f"id token {body.id_token!r} of type {body.type!r} exists", code="exists")
    if row.user_id is not None:
        v2g_owner_changed(call, row.user_id)
    return json_response(token_view(row), 201, {"Location": f"{_PREFIX}/{row.type}/{row.id_token}"})


async def list_all(call: Call) -> Response:
    rows = await call.control.database.run(
        functools.partial(tokens.list_id_tokens, group_id=call.query["groupIdToken"])
    )
    return json_response(IdTokenList([token_view(r) for r in rows]))


async def get_one(call: Call) -> Response:
    return json_response(token_view(await _find(call)))


async def update(call: Call) -> Response:
    row = await _find(call)
    body: IdTokenUpdate = call.body
    write = functools.partial(
        tokens.upsert_id_token,
        status=body.status,
        expires_at=body.cache_expiry_date_time,
        group_id=body.group_id_token,
        user_id=row.user_id,
    )
    await call.control.database.run(write, row.id_token, row.type)
    call.control.id_token_changed(row.id_token, row.type)
    return json_response(
        IdToken(
            row.id_token,
            row.type,
            body.status,
            body.cache_expiry_date_time,
            body.group_id_token,
            row.user_id,
        )
    )


async def delete(call: Call) -> Response:
    row = await _find(call)
    try:
        await call.control.database.run(tokens.delete_id_token, row.id_token, row.type)
    except RowNotFound:
        raise NotFound(f"no id token {row.id_token!r} of type {row.type!r}") from None
    finally:
        call.control.id_token_changed(row.id_token, row.type)
    return Response(status_code=204)


ENDPOINTS = (
    Endpoint(
        "POST",
        _PREFIX,
        create,
        Role.OPERATOR,
        "Create an id token",
        "id-tokens",
        ok=201,
        body=IdTokenBody,
        response=IdToken,
        errors=(404, 409, 422),
        description="409 `exists` if the token exists; 404 when `userId` names no user.",
    ),
    Endpoint(
        "GET",
        _PREFIX,
        list_all,
        Role.VIEWER,
        "List id tokens",
        "id-tokens",
        response=IdTokenList,
        query=(Param("groupIdToken", description="Only this group's.", pattern=r"^[!-~]{1,255}$"),),
        errors=(422,),
    ),
    Endpoint(
        "GET",
        _PREFIX + "/{type}/{idToken}",
        get_one,
        Role.VIEWER,
        "Get an id token",
        "id-tokens",
        response=IdToken,
        errors=(404,),
        path_docs=_DOCS,
    ),
    Endpoint(
        "PUT",
        _PREFIX + "/{type}/{idToken}",
        update,
        Role.OPERATOR,
        "Replace an id token's IdTokenInfo",
        "id-tokens",
        body=IdTokenUpdate,
        response=IdToken,
        errors=(404, 422),
        path_docs=_DOCS,
    ),
    Endpoint(
        "DELETE",
        _PREFIX + "/{type}/{idToken}",
        delete,
        Role.OPERATOR,
        "Delete an id token",
        "id-tokens",
        ok=204,
        errors=(404,),
        path_docs=_DOCS,
    ),
)
