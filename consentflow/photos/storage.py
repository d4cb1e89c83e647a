"""Where originals and derived files live: behind a small interface.

Keys are content addresses (``ab/cd/<sha256>``) so a duplicate costs nothing
and a stored file cannot be swapped without its key changing. The local
backend writes under ``STORAGE_DIR`` (inside the instance folder), which no
route serves: files reach a browser only through role-checked views.
Another backend (S3-compatible) implements the same ``Storage`` protocol and
is chosen by ``STORAGE_BACKEND``.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable
from typing import BinaryIO, Protocol

_KEY_RE = re.compile(r"^[a-z0-9_]+(/[a-z0-9_.-]+)+$")


class Storage(Protocol):
    def put(self, data: bytes) -> str: ...
    def put_file(self, handle: BinaryIO, sha256: str) -> str: ...
    def put_at(self, key: str, data: bytes) -> str: ...
    def open(self, key: str) -> BinaryIO: ...
    def read(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def delete_prefix(self, prefix: str) -> int: ...


def content_key(data: bytes, prefix: str = "orig") -> str:
    return content_key_of(hashlib.sha256(data).hexdigest(), prefix)


def content_key_of(sha256: str, prefix: str = "orig") -> str:
    """The key of content whose sha256 (hex) is known."""
    return f"{prefix}/{sha256[:2]}/{sha256[2:4]}/{sha256}"


class LocalStorage:
    """Files under a root folder; writes are atomic (temp file + rename)."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        os.makedirs(self.root, mode=0o700, exist_ok=True)

    def _path(self, key: str) -> str:
        # Keys are generated here, but check anyway: no traversal out of the root.
        if not _KEY_RE.match(key) or ".." in key:
            raise ValueError(f"invalid storage key {key!r}")
        return os.path.join(self.root, *key.split("/"))

    def put(self, data: bytes) -> str:
        """Store ``data`` under its sha256; storing it twice is a no-op."""
        key = content_key(data)
        if not self.exists(key):
            self.put_at(key, data)
        return key

    def put_file(self, handle: BinaryIO, sha256: str) -> str:
        """Store an open file whose sha256 the caller has taken, copied in blocks (a large video).

        The copy is hashed again on the way: a file that changed since it
        was checked is refused rather than stored under the wrong key.
        """
        key = content_key_of(sha256)
        if self.exists(key):
            return key

        def copy(out: BinaryIO) -> None:
            digest = hashlib.sha256()
            handle.seek(0)
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
                out.write(block)
            if digest.hexdigest() != sha256:
                raise ValueError("the file changed while it was stored")

        return self._write(key, copy)

    def put_at(self, key: str, data: bytes) -> str:
        """Store derived data (thumbnails) under a caller-chosen key."""
        return self._write(key, lambda out: out.write(data))

    def _write(self, key: str, write: Callable[[BinaryIO], object]) -> str:
        """Write through a temporary file renamed into place: readers never see half a file."""
        path = self._path(key)
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                write(out)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return key

    def open(self, key: str) -> BinaryIO:
        return open(self._path(key), "rb")

    def read(self, key: str) -> bytes:
        with self.open(key) as fh:
            return fh.read()

    def exists(self, key: str) -> bool:
        return os.path.isfile(self._path(key))

    def delete(self, key: str) -> None:
        try:
            os.unlink(self._path(key))
        except FileNotFoundError:
            pass

    def delete_prefix(self, prefix: str) -> int:
        """Delete every file whose key starts with ``prefix`` (within one folder); a count."""
        folder, _, start = prefix.rpartition("/")
        path = self._path(folder + "/x")[:-2]  # validates the folder part of the key
        try:
            names = [n for n in os.listdir(path) if n.startswith(start) and not n.startswith(".")]
        except FileNotFoundError:
            return 0
        for name in names:
            self.delete(f"{folder}/{name}")
        return len(names)


def storage_from_config(config: object) -> Storage:
    """The configured backend (only ``local`` exists so far)."""
    get = config.get  # type: ignore[attr-defined]
    backend = get("STORAGE_BACKEND", "local")
    if backend == "local":
        return LocalStorage(str(get("STORAGE_DIR")))
    raise ValueError(f"Unknown STORAGE_BACKEND {backend!r}")
