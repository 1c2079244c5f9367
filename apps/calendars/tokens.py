"""The feed's secret: a random token, of which only the prefix and a SHA-256 hash are stored.

Pure functions, no Django imports. SHA-256 (not a slow password hash) is enough because the
token is 256 random bits, not a human's password: nothing can be guessed from the hash.
"""

import hashlib
import hmac
import re
import secrets

TOKEN_BYTES = 32
PREFIX_LENGTH = 10
# secrets.token_urlsafe(32): 43 characters of the URL-safe base64 alphabet.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def prefix_of(token: str) -> str:
    return token[:PREFIX_LENGTH]


def hash_of(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def well_formed(token: str) -> bool:
    return TOKEN_SHAPE.fullmatch(token) is not None


def matches(token: str, stored_hash: str) -> bool:
    """Constant-time comparison, so response times say nothing about how much of a guess was right."""
    return hmac.compare_digest(hash_of(token), stored_hash)
