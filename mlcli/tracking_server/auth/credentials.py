"""Secrets at rest: passwords as argon2id hashes (argon2-cffi's defaults), personal API
tokens as random strings shown once and stored only as their SHA-256 (a token has 256
bits of entropy, so a fast hash suffices and lets every request look it up)."""

from __future__ import annotations

import hashlib
import secrets


def hash_password(password: str) -> str:
    from argon2 import PasswordHasher

    return PasswordHasher().hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    from argon2 import PasswordHasher
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return PasswordHasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
