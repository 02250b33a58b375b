"""Station passwords: strength rules, generation, and the salted hash they are stored as.

Station passwords are random machine secrets (A00.FR.205: "a randomly chosen passwordString with a
sufficiently high entropy"), not human passwords, so a slow KDF buys nothing and would make a
reconnect storm of tens of thousands of stations cost minutes of CPU. One HMAC-SHA256 keyed with a
per-password random salt is the stored form (A01.FR.08: only salted hashes are stored), compared in
constant time.

Stored format: ``sha256$<salt-hex>$<digest-hex>``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

#: Part 2 §2.1.4, passwordString: "a-z", "A-Z", "0-9" or any of ``* - _ = : + | @ .``
PASSWORD_ALPHABET = frozenset(string.ascii_letters + string.digits + "*-_=:+|@.")
#: A00.FR.205 / A00.FR.304: at least 16 characters.
MIN_PASSWORD_LENGTH = 16
#: A00.FR.205 (edition 3): at most 40; the 2025 errata lets ``BasicAuthPassword.maxLimit`` go to 64.
MAX_PASSWORD_LENGTH = 40

_SCHEME = "sha256"
_SALT_BYTES = 16
_GENERATOR_ALPHABET = "".join(sorted(PASSWORD_ALPHABET))


def is_strong_password(password: str, *, max_length: int = MAX_PASSWORD_LENGTH) -> bool:
    """Whether ``password`` is a passwordString of acceptable length (16 to ``max_length``)."""
    return MIN_PASSWORD_LENGTH <= len(password) <= max_length and all(
        ch in PASSWORD_ALPHABET for ch in password
    )


def generate_password(length: int = 32) -> str:
    """A random passwordString of ``length`` characters (about 6.2 bits of entropy each)."""
    if not MIN_PASSWORD_LENGTH <= length <= 64:
        raise ValueError(f"password length must be between {MIN_PASSWORD_LENGTH} and 64")
    return "".join(secrets.choice(_GENERATOR_ALPHABET) for _ in range(length))


def _digest(salt: bytes, password: str) -> bytes:
    return hmac.new(salt, password.encode("utf-8"), hashlib.sha256).digest()


def hash_password(password: str) -> str:
    """The stored form of ``password``, with a fresh random salt."""
    salt = secrets.token_bytes(_SALT_BYTES)
    return f"{_SCHEME}${salt.hex()}${_digest(salt, password).hex()}"


def verify_password(stored: str, password: str) -> bool:
    """Whether ``password`` matches ``stored`` (a :func:`hash_password` result), in constant time.

    Raises ValueError if ``stored`` is not in the stored format: that is corrupt data, not a wrong
    password, and must not be mistaken for one.
    """
    scheme, _, rest = stored.partition("$")
    salt_hex, _, digest_hex = rest.partition("$")
    try:
        salt = bytes.fromhex(salt_hex)
        expected = bytes.fromhex(digest_hex)
    except ValueError:
        raise ValueError("stored password hash is malformed") from None
    if scheme != _SCHEME or not salt or len(expected) != hashlib.sha256().digest_size:
        raise ValueError("stored password hash is malformed")
    return hmac.compare_digest(_digest(salt, password), expected)
