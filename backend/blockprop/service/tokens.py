"""Unguessable ids and edit tokens. Only a SHA-256 of an edit token is ever stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_id() -> str:
    """An unguessable id (128 random bits, URL-safe)."""
    return secrets.token_urlsafe(16)


def new_edit_token() -> str:
    return secrets.token_urlsafe(24)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(given: str | None, stored_hash: str) -> bool:
    return bool(given) and hmac.compare_digest(hash_token(given or ""), stored_hash)
