"""The load half of bench/scale.py: locust as a library, headless, on loopback.

A separate process because importing locust monkey-patches the standard library
for gevent, which the app side of scale.py (SQLAlchemy, subprocesses) must not
get. Every simulated user signs in once with the bench PR officer's password
(the real login form, CSRF token included), then requests the review page of
the group photo and the album page in turn for --seconds. Prints one JSON
line: per page the number of requests, failures, p50 and p95 in ms.

    python bench/scale_load.py --host http://127.0.0.1:PORT --email E --password P \
        --review /review/photo/N --album /photos/albums/N [--users 20] [--seconds 60]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from urllib.parse import urlparse

import gevent
from locust import HttpUser, between, events, task
from locust.env import Environment

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", required=True)
    parser.add_argument("--email", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--review", required=True)
    parser.add_argument("--album", required=True)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    if urlparse(args.host).hostname not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the scale run loads loopback only")

    class Officer(HttpUser):
        host = args.host
        wait_time = between(0.5, 1.5)

        def on_start(self) -> None:
            page = self.client.get("/login", name="login form")
            token = _CSRF.search(page.text)
            self.client.post("/login", name="login", data={
                "email": args.email, "password": args.password,
                "csrf_token": token.group(1) if token else ""})

        @task
        def review(self) -> None:
            self.client.get(args.review, name="review page (group photo)")

        @task
        def album(self) -> None:
            self.client.get(args.album, name="album page")

    env = Environment(user_classes=[Officer], events=events)
    runner = env.create_local_runner()
    runner.start(args.users, spawn_rate=args.users)
    gevent.spawn_later(args.seconds, runner.quit)
    runner.greenlet.join()
    out = {}
    for name in ("review page (group photo)", "album page", "login"):
        entry = env.stats.get(name, "GET" if name != "login" else "POST")
        out[name] = {
            "requests": entry.num_requests, "failures": entry.num_failures,
            "p50_ms": entry.get_response_time_percentile(0.5),
            "p95_ms": entry.get_response_time_percentile(0.95),
        }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
