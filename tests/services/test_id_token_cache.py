"""The id-token cache on its own: a fake clock, no database."""

from __future__ import annotations

import dataclasses

import pytest

from csms.services.id_tokens import Cached, IdTokenCache


@dataclasses.dataclass(frozen=True)
class Row:
    id_token: str
    status: str = "Accepted"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def cache(**options: float) -> tuple[IdTokenCache[Row], Clock]:
    clock = Clock()
    return IdTokenCache(clock=clock, **options), clock  # type: ignore[arg-type]


def fill(c: IdTokenCache[Row], id_token: str, row: Row | None, type: str = "ISO14443") -> None:
    assert c.put(id_token, type, row, generation=c.generation)


def test_a_miss_then_a_hit_with_the_row_kept() -> None:
    c, _ = cache()
    assert c.get("TAG1", "ISO14443") is None
    fill(c, "TAG1", Row("TAG1"))
    assert c.get("TAG1", "ISO14443") == Cached(Row("TAG1"))
    assert c.get("TAG1", "Central") is None  # the type is part of the key
    assert (c.stats.hits, c.stats.misses) == (1, 2)


def test_the_least_recently_used_entry_goes_first() -> None:
    c, _ = cache(max_entries=2)
    fill(c, "A", Row("A"))
    fill(c, "B", Row("B"))
    assert c.get("A", "ISO14443") is not None  # A is now the most recently used
    fill(c, "C", Row("C"))
    assert len(c) == 2
    assert c.get("B", "ISO14443") is None
    assert c.get("A", "ISO14443") is not None
    assert c.get("C", "ISO14443") is not None
    assert c.stats.evictions == 1
    fill(c, "C", Row("C", "Blocked"))  # replacing an entry evicts nothing
    assert c.stats.evictions == 1
    assert c.get("C", "ISO14443") == Cached(Row("C", "Blocked"))


def test_a_known_token_is_kept_for_the_ttl() -> None:
    c, clock = cache(ttl=300, negative_ttl=5)
    fill(c, "TAG1", Row("TAG1"))
    clock.now += 299.9
    assert c.get("TAG1", "ISO14443") is not None
    clock.now += 0.1
    assert c.get("TAG1", "ISO14443") is None
    assert len(c) == 0
    assert c.stats.expirations == 1


def test_an_unknown_token_is_kept_briefly() -> None:
    c, clock = cache(ttl=300, negative_ttl=5)
    fill(c, "NOPE", None)
    clock.now += 4.9
    assert c.get("NOPE", "ISO14443") == Cached(None)  # a hit whose answer is "no such token"
    clock.now += 0.1
    assert c.get("NOPE", "ISO14443") is None


def test_invalidate_drops_the_token_in_any_case_and_only_of_its_type() -> None:
    c, _ = cache()
    fill(c, "tag1", Row("TAG1"))  # presented in lower case, stored in upper
    fill(c, "Tag1", Row("TAG1"))
    fill(c, "TAG1", Row("TAG1"), type="Central")
    fill(c, "TAG2", Row("TAG2"))
    assert c.invalidate("TAG1", "ISO14443") == 2
    assert c.get("tag1", "ISO14443") is None
    assert c.get("Tag1", "ISO14443") is None
    assert c.get("TAG1", "Central") is not None
    assert c.get("TAG2", "ISO14443") is not None
    assert c.stats.invalidations == 2
    assert c.invalidate("TAG1", "ISO14443") == 0


def test_invalidate_drops_the_entry_answered_by_the_stored_row_whatever_was_presented() -> None:
    """The database's lower() may fold what Python's casefold() does not (a Turkish dotted I
    in some locales): the entry is listed under the stored value as well as the presented one."""
    c, _ = cache()
    assert "İ1".casefold() != "i1".casefold()
    fill(c, "İ1", Row("i1"))
    assert c.invalidate("i1", "ISO14443") == 1
    assert len(c) == 0


def test_an_unknown_token_created_later_is_invalidated_too() -> None:
    c, _ = cache()
    fill(c, "new1", None)
    c.invalidate("NEW1", "ISO14443")
    assert c.get("new1", "ISO14443") is None


def test_a_read_that_began_before_an_invalidation_is_not_kept() -> None:
    c, _ = cache()
    before = c.generation
    c.invalidate("OTHER", "ISO14443")  # any invalidation, even of another token
    assert not c.put("TAG1", "ISO14443", Row("TAG1"), generation=before)
    assert c.get("TAG1", "ISO14443") is None
    assert c.stats.stale_puts == 1
    before = c.generation
    c.clear()
    assert not c.put("TAG1", "ISO14443", Row("TAG1"), generation=before)


def test_clear_forgets_everything() -> None:
    c, _ = cache()
    fill(c, "A", Row("A"))
    fill(c, "B", None)
    c.clear()
    assert len(c) == 0
    assert c.get("A", "ISO14443") is None
    assert c.stats.invalidations == 2
    fill(c, "A", Row("A"))  # the index was cleared with the entries
    assert c.invalidate("a", "ISO14443") == 1


@pytest.mark.parametrize(
    "options", [{"max_entries": 0}, {"ttl": -1}, {"negative_ttl": -0.5}], ids=str
)
def test_bad_bounds_are_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must"):
        IdTokenCache(**options)  # type: ignore[arg-type]
