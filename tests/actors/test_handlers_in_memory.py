"""Station handlers without PostgreSQL: the database is an ``InMemoryDatabase`` where it is not
what the test is about (here the authorization rules of C01, through the id-token cache)."""

from __future__ import annotations

import datetime as dt

import pytest

from csms.actors import EventBus, InMemoryDatabase
from csms.actors.station import HANDLERS, StationContext, StationServices
from csms.domain.station import StationState
from csms.protocol import Version, v201
from csms.runtime import Actor, ChildSpec, Strategy, Supervisor
from csms.storage import tokens

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


class Idle(Actor):
    async def receive(self, message: object) -> None:
        raise AssertionError(f"the handler wrote {message!r}")


def context(database: InMemoryDatabase) -> StationContext:
    # Authorize stores nothing: the persistence address is that of a tree that never runs
    tree = Supervisor(Strategy.ONE_FOR_ONE, [ChildSpec.actor("persistence", Idle)])
    services = StationServices(
        node_id="node-1",
        persistence=tree.ref("persistence"),
        database=database,
        events=EventBus("node-1"),
        clock=lambda: NOW,
    )
    return StationContext(
        station_id="CP001",
        version=Version.V201,
        messages=v201,
        state=StationState("CP001", "2.0.1", NOW),
        limits={},
        services=services,
    )


def token_row(status: str, expires_at: dt.datetime | None = None) -> tokens.IdTokenRow:
    return tokens.IdTokenRow("TAG1", "ISO14443", status, expires_at, None, None)


@pytest.mark.parametrize(
    ("row", "status"),
    [
        (token_row("Accepted"), "Accepted"),
        (token_row("Blocked"), "Blocked"),
        (token_row("Accepted", expires_at=NOW - dt.timedelta(seconds=1)), "Expired"),
        (None, "Invalid"),  # an unknown token, in 2.0.1
    ],
)
async def test_authorize_answers_from_the_id_token_row(
    row: tokens.IdTokenRow | None, status: str
) -> None:
    database = InMemoryDatabase({tokens.get_id_token: lambda id_token, type_: row})
    request = v201.AuthorizeRequest(
        id_token=v201.IdToken(id_token="TAG1", type=v201.IdTokenEnum.ISO14443)
    )
    response = await HANDLERS["Authorize"](context(database), request, {})
    assert response.id_token_info.status == v201.AuthorizationStatusEnum(status)
    assert database.calls == [("get_id_token", ("TAG1", "ISO14443"))]


async def test_the_in_memory_database_refuses_a_call_it_was_not_given() -> None:
    database = InMemoryDatabase()
    with pytest.raises(LookupError, match="get_id_token"):
        await database.run(tokens.get_id_token, "TAG1", "ISO14443")
