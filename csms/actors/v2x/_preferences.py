"""Whose EV it is and what its owner allows: the id token's user (the node's id-token cache,
kept true by the database's notifications) and that user's V2G preferences (``v2g_preferences``,
cached here for ``ttl`` seconds and forgotten at once when the REST API says they changed)."""

from __future__ import annotations

import logging

import trio

from csms.actors.database import Database
from csms.actors.id_tokens import IdTokens
from csms.services.v2g_preferences import V2GPreferences
from csms.storage import users

__all__ = ["PreferencesCache"]

log = logging.getLogger("csms.v2x")


class PreferencesCache:
    def __init__(self, database: Database, id_tokens: IdTokens, *, ttl: float = 30.0) -> None:
        self._database = database
        self._id_tokens = id_tokens
        self._ttl = ttl
        self._known: dict[str, tuple[V2GPreferences | None, float]] = {}

    def __len__(self) -> int:
        return len(self._known)

    def forget(self, user_id: str) -> None:
        self._known.pop(user_id, None)

    async def user_of(self, id_token: str | None, type_: str | None) -> str | None:
        if not id_token or not type_:
            return None
        row = await self._id_tokens.get(id_token, type_)
        return None if row is None else row.user_id

    async def of_user(self, user_id: str | None) -> V2GPreferences | None:
        """The user's preferences; None for no user, or a user who never set any (who has
        therefore not opted in)."""
        if user_id is None:
            return None
        known = self._known.get(user_id)
        if known is not None and trio.current_time() < known[1]:
            return known[0]
        row = await self._database.run(users.get_preferences, user_id)
        prefs = None
        if row is not None:
            try:
                prefs = row.preferences
            except (ValueError, KeyError) as exc:  # a window stored by hand: not opted in
                log.warning(
                    "stored V2G preferences unreadable", extra={"user": user_id, "error": repr(exc)}
                )
        self._known[user_id] = (prefs, trio.current_time() + self._ttl)
        return prefs
