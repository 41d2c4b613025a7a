"""Random bearer secrets (login tokens, API keys) and the digests stored in their place.

Both are 256-bit random values, so a plain SHA-256 digest is enough to make a stolen database
useless: inverting it means guessing 2**256 values, and a slow, salted KDF (needed for
low-entropy passwords) would add nothing but latency. An unsalted digest also lets a key be
found with one indexed lookup, which keeps a cold key check at Fusion far below its 5 ms budget.
"""

from __future__ import annotations

import hashlib
import secrets

API_KEY_MARKER = "fk_"
PREFIX_HEX_CHARS = 8
"""``fk_`` + 8 hex characters: the public part of a key, shown in listings to tell keys apart."""


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", errors="surrogateescape")).hexdigest()


def new_api_key() -> tuple[str, str]:
    """A fresh API key and its display prefix, e.g. ``fk_3f9a0c1d_<43 chars>``, ``fk_3f9a0c1d``."""
    prefix = API_KEY_MARKER + secrets.token_hex(PREFIX_HEX_CHARS // 2)
    return f"{prefix}_{secrets.token_urlsafe(32)}", prefix


def new_login_token() -> str:
    return "ft_" + secrets.token_urlsafe(32)
