"""`make run` ends in `make serve`: one SIGTERM to make stops the web app and
the worker with every process they started (as a service manager expects)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            children = (task / "children").read_text().split() if (task / "children").exists() else []
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.mark.slow
def test_sigterm_to_make_serve_stops_web_and_worker(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSENTFLOW_")}
    env.update(CONSENTFLOW_INSTANCE_PATH=str(tmp_path), CONSENTFLOW_SECRET_KEY="s" * 48,
               CONSENTFLOW_SESSION_COOKIE_SECURE="false")
    subprocess.run([str(ROOT / ".venv/bin/flask"), "--app", "consentflow", "init"], cwd=ROOT,
                   env=env, check=True, capture_output=True)
    make = subprocess.Popen(["make", "-s", "serve", f"PORT={port}", "WORKERS=2"], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as r:
                    assert r.status == 200
                break
            except OSError:
                assert make.poll() is None, "make serve exited early"
                assert time.monotonic() < deadline, "the web app did not answer"
                time.sleep(0.5)
        # The worker's own processes (two) are up too.
        while len(_descendants(make.pid)) < 7:
            assert time.monotonic() < deadline, f"processes: {_descendants(make.pid)}"
            time.sleep(0.5)
        started = _descendants(make.pid)
        make.send_signal(signal.SIGTERM)
        make.wait(timeout=60)
        deadline = time.monotonic() + 30
        while any(_alive(p) for p in started) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not [p for p in started if _alive(p)], "processes outlived make serve"
    finally:
        if make.poll() is None:
            make.kill()
