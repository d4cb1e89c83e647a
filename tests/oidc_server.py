"""A real OpenID Connect provider on loopback: node-oidc-provider from npm (tests/oidc/).

``make install`` installs it with the machine's npm (``npm ci`` on the pinned
package-lock.json). The provider is configured in tests/oidc/provider.js.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

OIDC_DIR = Path(__file__).resolve().parent / "oidc"
CLIENT_SECRET = "test-client-secret-0123456789abcdef"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class OidcProvider:
    redirect_uris: list[str]
    port: int = field(default_factory=_free_port)
    _process: subprocess.Popen[str] | None = None
    _output: list[str] = field(default_factory=list)

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> OidcProvider:
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node not found: the sign-in tests need Node.js (apt-get install nodejs npm)")
        if not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
            raise RuntimeError("oidc-provider is not installed: run `make install` (npm ci in tests/oidc)")
        env = {**os.environ, "PORT": str(self.port), "REDIRECT_URIS": ",".join(self.redirect_uris),
               "NODE_ENV": "test"}
        self._process = subprocess.Popen(
            [node, "provider.js"], cwd=OIDC_DIR, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        ready = threading.Event()

        def _read() -> None:
            assert self._process is not None and self._process.stdout is not None
            for line in self._process.stdout:
                self._output.append(line)
                if line.startswith("READY"):
                    ready.set()

        threading.Thread(target=_read, daemon=True).start()
        if not ready.wait(timeout):
            self.stop()
            raise RuntimeError("oidc-provider did not start:\n" + "".join(self._output))
        return self

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._process is not None and self._process.stdout is not None:
            self._process.stdout.close()
