"""Sealing small secrets at rest (TOTP seeds, OpenID client secrets) with a key from SECRET_KEY.

A copy of the database alone does not reveal them. The key is derived
(HKDF-SHA256) from the app's SECRET_KEY, one key per purpose; rotating
SECRET_KEY therefore means re-enrolling TOTP and re-entering client secrets.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from consentflow.errors import InvalidState


class SecretBox:
    """Seal and open strings for one purpose."""

    def __init__(self, secret_key: str, purpose: str) -> None:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"consentflow-secret-box",
                       info=purpose.encode()).derive(secret_key.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken as err:
            # SECRET_KEY changed since the secret was stored.
            raise InvalidState("A stored secret cannot be read; it must be set again.") from err
