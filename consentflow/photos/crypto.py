"""Encryption at rest for face encodings (biometric data, GDPR art. 9).

The key never lives in the database: it comes from ``FACE_KEY`` (environment
or instance config) or from the key file ``FACE_KEY_FILE``, created with mode
0600 on first use. Someone with a database dump alone cannot read encodings.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
from cryptography.fernet import Fernet, InvalidToken

_lock = threading.Lock()


class FaceKeyError(RuntimeError):
    """The face-encoding key is missing, unreadable or wrong."""


def load_key(key: str | bytes | None, key_file: str | None) -> bytes:
    """The Fernet key: the configured value, else the key file (created 0600 if absent)."""
    if key:
        raw = key.encode() if isinstance(key, str) else key
        _check(raw)
        return raw
    if not key_file:
        raise FaceKeyError("No FACE_KEY and no FACE_KEY_FILE configured.")
    with _lock:
        if not os.path.exists(key_file):
            os.makedirs(os.path.dirname(key_file) or ".", exist_ok=True)
            new = Fernet.generate_key()
            # O_EXCL: two processes starting together never overwrite each other's key.
            try:
                fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(new)
        with open(key_file, "rb") as fh:
            raw = fh.read().strip()
    _check(raw)
    return raw


def _check(raw: bytes) -> None:
    try:
        Fernet(raw)
    except (ValueError, TypeError) as err:
        raise FaceKeyError("FACE_KEY is not a valid Fernet key.") from err


class EncodingCipher:
    """Encrypts and decrypts 128-d encodings (stored as float64 bytes inside the token)."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def encrypt(self, encoding: npt.ArrayLike) -> bytes:
        vector = np.asarray(encoding, dtype=np.float64).reshape(-1)
        if vector.shape != (128,):
            raise ValueError("a face encoding has 128 values")
        return self._fernet.encrypt(vector.tobytes())

    def decrypt(self, token: bytes) -> npt.NDArray[np.float64]:
        try:
            raw = self._fernet.decrypt(bytes(token))
        except InvalidToken as err:
            raise FaceKeyError("A face encoding cannot be decrypted with the current key.") from err
        return np.frombuffer(raw, dtype=np.float64).copy()


def cipher_from_config(config: Mapping[str, Any]) -> EncodingCipher:
    """Build the cipher from a Flask config mapping."""
    return EncodingCipher(load_key(config.get("FACE_KEY") or None, config.get("FACE_KEY_FILE") or None))
