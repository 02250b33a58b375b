"""Users and the id tokens linked to them, through the API against the real database."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import trio

from csms.actors import Node
from csms.api import create_token

from .conftest import client

USERS = "/api/v1/users"


def error_of(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    error: dict[str, Any] = r.json()["error"]
    return error


async def test_users_are_created_listed_and_read(node: Node, api: httpx.AsyncClient) -> None:
    r = await api.post(USERS, json={"userId": "maria", "name": "Maria", "walletId": "wallet-7"})
    assert r.status_code == 201, r.text
    assert r.headers["location"] == "/api/v1/users/maria"
    created = r.json()
    assert {k: created[k] for k in ("userId", "name", "walletId", "idTokens")} == {
        "userId": "maria",
        "name": "Maria",
        "walletId": "wallet-7",
        "idTokens": [],
    }
    assert (await api.get(f"{USERS}/maria")).json() == created
    assert (
        error_of(await api.post(USERS, json={"userId": "maria", "name": "M"}), 409)["code"]
        == "exists"
    )
    for user_id in ("zeca", "ana"):
        assert (await api.post(USERS, json={"userId": user_id, "name": user_id})).json()[
            "walletId"
        ] is None
    page = (await api.get(USERS, params={"limit": 2})).json()
    assert [u["userId"] for u in page["items"]] == ["ana", "maria"]
    assert page["next"] == "maria"
    page = (await api.get(USERS, params={"after": "maria"})).json()
    assert ([u["userId"] for u in page["items"]], page["next"]) == (["zeca"], None)
    assert error_of(await api.get(f"{USERS}/nobody"), 404)["code"] == "not_found"
    # a path no user id can have is not looked up
    assert (await api.get(f"{USERS}/has%20space")).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Maria"}, "userId"),
        ({"userId": "", "name": "Maria"}, "userId"),
        ({"userId": "a/b", "name": "Maria"}, "userId"),
        ({"userId": "x" * 65, "name": "Maria"}, "userId"),
        ({"userId": "maria"}, "name"),
        ({"userId": "maria", "name": ""}, "name"),
        ({"userId": "maria", "name": "x" * 201}, "name"),
        ({"userId": "maria", "name": "Maria", "walletId": ""}, "walletId"),
        ({"userId": "maria", "name": "Maria", "email": "m@example.com"}, "email"),
    ],
)
async def test_a_bad_user_is_422_naming_the_field(
    api: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    assert error_of(await api.post(USERS, json=body), 422)["field"] == field


async def test_id_tokens_are_linked_to_users(node: Node, api: httpx.AsyncClient) -> None:
    for user_id in ("maria", "ana"):
        await api.post(USERS, json={"userId": user_id, "name": user_id})
    # created with its user through the id-token endpoint
    r = await api.post(
        "/api/v1/id-tokens", json={"idToken": "TAG1", "type": "ISO14443", "userId": "maria"}
    )
    assert r.status_code == 201, r.text
    assert r.json()["userId"] == "maria"
    r = await api.post(
        "/api/v1/id-tokens", json={"idToken": "TAG3", "type": "ISO14443", "userId": "nobody"}
    )
    assert error_of(r, 404)["code"] == "not_found"
    assert (await api.get("/api/v1/id-tokens/ISO14443/TAG3")).status_code == 404
    # an existing token linked afterwards, matched case-insensitively
    await api.post("/api/v1/id-tokens", json={"idToken": "TAG2", "type": "ISO14443"})
    r = await api.post(f"{USERS}/maria/id-tokens", json={"idToken": "tag2", "type": "ISO14443"})
    assert r.status_code == 200, r.text
    assert r.json()["idTokens"] == [
        {"idToken": "TAG1", "type": "ISO14443"},
        {"idToken": "TAG2", "type": "ISO14443"},
    ]
    assert (await api.get("/api/v1/id-tokens/ISO14443/TAG2")).json()["userId"] == "maria"
    # linking it again to the same user changes nothing
    again = await api.post(f"{USERS}/maria/id-tokens", json={"idToken": "TAG2", "type": "ISO14443"})
    assert again.json() == r.json()
    # a token is never moved silently from one user to another
    r = await api.post(f"{USERS}/ana/id-tokens", json={"idToken": "TAG2", "type": "ISO14443"})
    assert error_of(r, 409)["code"] == "linked_to_other_user"
    assert (await api.get(f"{USERS}/ana")).json()["idTokens"] == []
    # neither a missing token nor a missing user
    r = await api.post(f"{USERS}/maria/id-tokens", json={"idToken": "TAG9", "type": "ISO14443"})
    error_of(r, 404)
    r = await api.post(f"{USERS}/nobody/id-tokens", json={"idToken": "TAG2", "type": "ISO14443"})
    error_of(r, 404)
    r = await api.post(f"{USERS}/maria/id-tokens", json={"idToken": "TAG2"})
    assert error_of(r, 422)["field"] == "type"
    # replacing a token's IdTokenInfo keeps its user
    r = await api.put("/api/v1/id-tokens/ISO14443/TAG1", json={"status": "Blocked"})
    assert r.json()["userId"] == "maria"


async def test_viewers_read_users_and_operators_write_them(node: Node, database_url: str) -> None:
    viewer = await trio.to_thread.run_sync(create_token, database_url, "viewer", "dashboard")
    operator = await trio.to_thread.run_sync(create_token, database_url, "operator", "ops")
    async with client(node, viewer) as v, client(node, operator) as o:
        error_of(await v.post(USERS, json={"userId": "maria", "name": "Maria"}), 403)
        assert (await o.post(USERS, json={"userId": "maria", "name": "Maria"})).status_code == 201
        await o.post("/api/v1/id-tokens", json={"idToken": "TAG1", "type": "ISO14443"})
        link = {"idToken": "TAG1", "type": "ISO14443"}
        error_of(await v.post(f"{USERS}/maria/id-tokens", json=link), 403)
        assert (await o.post(f"{USERS}/maria/id-tokens", json=link)).status_code == 200
        assert (await v.get(USERS)).json()["items"][0]["idTokens"] == [link]
        assert (await v.get(f"{USERS}/maria")).status_code == 200
    async with client(node, token=None) as anonymous:
        error_of(await anonymous.get(USERS), 401)
