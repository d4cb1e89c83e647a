"""Evidence files: content-addressed (sha256) under STORAGE_DIR/evidence, never web-served."""

from __future__ import annotations

import hashlib
import os
import re

from consentflow.errors import InvalidInput, NotFound

MAX_EVIDENCE_BYTES = 25 * 1024 * 1024
# Scans of paper forms: the content decides, not the file name.
_SIGNATURES = (
    (b"%PDF-", ".pdf"),
    (b"\xff\xd8\xff", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", ".png"),
)
_KEY_RE = re.compile(r"^evidence/[0-9a-f]{2}/[0-9a-f]{64}\.(pdf|jpg|png|heic|webp|json)$")


def evidence_extension(data: bytes, filename: str | None) -> str:
    """The extension for stored evidence, checked against the content."""
    if (filename or "").lower().endswith(".json") and data[:1] in (b"{", b"["):
        return ".json"
    for magic, ext in _SIGNATURES:
        if data.startswith(magic):
            return ext
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypmsf1"):
        return ".heic"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    raise InvalidInput("The evidence must be a scan or photo of the signed form (PDF, JPEG, PNG, HEIC or WebP).")


def store_evidence(storage_dir: str, data: bytes, filename: str | None) -> tuple[str, str]:
    """Store once by content; returns (sha256, storage key relative to storage_dir)."""
    if not data:
        raise InvalidInput("The evidence file is empty.")
    if len(data) > MAX_EVIDENCE_BYTES:
        raise InvalidInput("The evidence file is larger than 25 MB.")
    ext = evidence_extension(data, filename)
    digest = hashlib.sha256(data).hexdigest()
    key = f"evidence/{digest[:2]}/{digest}{ext}"
    path = os.path.join(storage_dir, key)
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    return digest, key


def evidence_path(storage_dir: str, key: str) -> str:
    """The file for a stored key; keys that do not look like ours are refused."""
    if not _KEY_RE.match(key or ""):
        raise NotFound("No such evidence file.")
    path = os.path.join(storage_dir, key)
    if not os.path.isfile(path):
        raise NotFound("The evidence file is missing from storage.")
    return path
