"""Encryption at rest for credentials (Fernet: AES-128-CBC + HMAC-SHA256, with a timestamp)."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken

from fustor_core.errors import FustorError


class SecretBox:
    """Encrypts credential secrets before they reach the database, decrypts them on demand."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def encrypt(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode("utf-8")).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode("ascii")).decode("utf-8")
        except InvalidToken:
            # Never include the ciphertext: the message may reach a log or an HTTP answer.
            raise FustorError(
                "a stored credential cannot be decrypted with the configured secret_key "
                "(was the key changed?)",
                code="credential_key_mismatch",
            ) from None
