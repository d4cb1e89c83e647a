"""Scale run: PostgreSQL, the Redis queue, gunicorn and the worker, under load (not CI).

What a school board's installation runs, on one machine:

1. a throwaway PostgreSQL database (created on --database-url's server, dropped
   afterwards), migrated with ``flask db upgrade``; Redis db 15 as the queue
   (flushed before and after);
2. an event of N photos (1600x1200, two or three of the bundled real faces on
   a varied background; generated once into the bench cache, quick to make)
   plus one 200-face group photo (bench/group_photo.py composes it), uploaded
   through the photos service as the web upload does and queued; reference
   portraits enrolled as in bench/pipeline.py;
3. gunicorn (--web processes) and ``flask worker`` (--workers processes) start;
   the clock runs until no photo is left uploaded/processing: photos per minute;
4. then --users simulated PR officers (locust, headless, loopback only, for
   --seconds; see scale_load.py) sign in and open the group photo's review page
   and the album page: p50/p95 per page;
5. the peak memory (VmHWM, the kernel's high-water mark of resident memory) of
   every gunicorn and worker process, read just before they are stopped.

The bench instance signs its officer in with a password only (SECOND_FACTOR_ROLES
is empty there) and serves plain HTTP on 127.0.0.1; nothing else differs from
a real installation.

    .venv/bin/python bench/scale.py [--photos 1000] [--users 20] [--seconds 60]
        [--web 2] [--workers 2] [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# The faces bundled with the app (demo/data) unless the caller names another folder.
DEMO_FACES = Path(__file__).resolve().parents[1] / "consentflow" / "demo" / "data"
os.environ.setdefault("CONSENTFLOW_FACES_DIR", str(DEMO_FACES))

import pipeline  # noqa: E402
from common import CACHE_DIR, FACES_DIR, ROOT, Sample, machine, table  # noqa: E402
from group_photo import group_200  # noqa: E402
from PIL import Image  # noqa: E402

# The bundled faces the event photos are made of (each a different person or pair).
_SOURCES = ("obama.jpg", "biden.jpg", "lin-manuel-miranda.png", "two_people.jpg", "obama2.jpg")
PASSWORD = "scale-run-password-" + secrets.token_hex(4)


def small_event_photo(index: int) -> Sample:
    """Photo ``index`` of the event: 1600x1200, two or three real faces, unique bytes."""
    path = CACHE_DIR / f"scale-event-{index:05d}.jpg"
    if not path.exists():
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        shade = (90 + index * 7 % 120, 110 + index * 13 % 100, 100 + index * 29 % 110)
        canvas = Image.new("RGB", (1600, 1200), shade)
        count = 2 + index % 2
        for slot in range(count):
            name = _SOURCES[(index + slot) % len(_SOURCES)]
            with Image.open(FACES_DIR / name) as source:
                face = source.convert("RGB")
            face.thumbnail((500, 500))
            x = 40 + slot * 520 + index % 17
            y = 200 + (index * 11 + slot * 90) % 300
            canvas.paste(face, (x, y))
        canvas.save(path, quality=88)
    return Sample(path.name, path, [], derived=True)


def _event_or_group(photos: int) -> Any:
    """The event photos, then the group photo as the last upload."""
    group = group_200()

    def make(index: int) -> Sample:
        return group if index == photos else small_event_photo(index)

    return make


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tree(pid: int) -> list[int]:
    """pid and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def _peak_rss(pid: int) -> list[tuple[int, str, float]]:
    """(pid, command, peak RSS in MB) of a process and its descendants."""
    rows = []
    for member in _tree(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text()
            argv = Path(f"/proc/{member}/cmdline").read_bytes().decode(errors="replace").split("\0")
            cmd = " ".join([Path(argv[0]).name, *argv[1:]])[:60]
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                rows.append((member, cmd.strip(), int(line.split()[1]) / 1024))
    return rows


def _add_officer(app: Any) -> tuple[str, int]:
    """A PR officer of the bench school (password sign-in) for the load phase."""
    from sqlalchemy import select

    from consentflow.audit.service import Actor
    from consentflow.auth.service import create_user
    from consentflow.extensions import db
    from consentflow.models import School

    with app.app_context():
        school = db.session.scalars(select(School).where(School.slug == "bench-school")).one()
        email = "officer@bench.example"
        create_user(db.session, actor=Actor.system("bench"), email=email, name="Bench Officer",
                    password=PASSWORD, roles=[(school, "pr")])
        db.session.commit()
        school_id = school.id
        db.session.remove()
    return email, school_id


def run(args: argparse.Namespace) -> int:
    instance = Path(tempfile.mkdtemp(prefix="consentflow-scale-"))
    db_url, pg_name = pipeline._create_pg_database(args.database_url)
    pipeline._flush_redis(args.redis_url)
    pipeline._write_config(instance, queue="redis", db_url=db_url, redis_url=args.redis_url, engine={})
    with open(instance / "config.py", "a") as config:
        config.write("SECOND_FACTOR_ROLES = []\nSESSION_COOKIE_SECURE = False\n")
    env = pipeline._child_env(instance)
    for key in [k for k in os.environ if k.startswith("CONSENTFLOW_")]:
        del os.environ[key]
    os.environ["CONSENTFLOW_INSTANCE_PATH"] = str(instance)
    port = _free_port()
    load_before = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    procs: dict[str, subprocess.Popen[bytes]] = {}
    app: Any = None
    try:
        subprocess.run(pipeline._flask("db", "upgrade"), env=env, cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        from consentflow import create_app

        app = create_app()
        started_make = time.perf_counter()
        for index in range(args.photos):
            small_event_photo(index)
        make_s = time.perf_counter() - started_make
        # pipeline._setup uploads event_photo(i) for i < n: the photos of this run instead.
        pipeline.event_photo = _event_or_group(args.photos)  # type: ignore[attr-defined]
        setup = pipeline._setup(app, args.photos + 1)
        album_id, group_id = setup["album_id"], setup["photo_ids"][-1]
        email, _school = _add_officer(app)
        n = len(setup["photo_ids"])

        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        logs = {name: open(instance / f"{name}.log", "wb") for name in ("web", "worker")}
        started = time.perf_counter()
        procs["worker"] = subprocess.Popen(pipeline._flask("worker", "--workers", str(args.workers)), env=env,
                                           cwd=ROOT, stdout=logs["worker"], stderr=subprocess.STDOUT,
                                           start_new_session=True)
        procs["web"] = subprocess.Popen([gunicorn, "-w", str(args.web), "-b", f"127.0.0.1:{port}",
                                         "--timeout", "120", "wsgi:app"], env=env, cwd=ROOT,
                                        stdout=logs["web"], stderr=subprocess.STDOUT, start_new_session=True)
        timed_out = False
        while True:
            time.sleep(1)
            pending = sum(pipeline._poll(app, album_id).get(s, 0) for s in pipeline.PENDING)
            if pending == 0 or procs["worker"].poll() is not None:
                break
            if time.perf_counter() - started > args.timeout:
                timed_out = True
                break
        wall = time.perf_counter() - started
        res = pipeline._results(app, album_id)

        load = subprocess.run(
            [sys.executable, str(Path(__file__).with_name("scale_load.py")), "--host", f"http://127.0.0.1:{port}",
             "--email", email, "--password", PASSWORD, "--review", f"/review/photo/{group_id}",
             "--album", f"/photos/albums/{album_id}", "--users", str(args.users), "--seconds", str(args.seconds)],
            cwd=ROOT, capture_output=True, text=True, check=False)
        pages = json.loads(load.stdout.strip().splitlines()[-1]) if load.returncode == 0 else {}
        memory = {name: _peak_rss(proc.pid) for name, proc in procs.items()}
    finally:
        for proc in procs.values():
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(proc.pid, sig)
                    proc.wait(timeout=20)
                    break
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    continue
        pipeline._flush_redis(args.redis_url)
        if app is not None:
            from consentflow.extensions import db

            with app.app_context():
                db.engine.dispose()
        pipeline._drop_pg_database(args.database_url, pg_name)
    load_after = ", ".join(f"{v:.2f}" for v in os.getloadavg())

    states = res["states"]
    done = sum(1 for s in states if s == "needs_review")
    failed = sum(1 for s in states if s == "failed")
    print(f"# scale run: {args.photos} event photos + a 200-face group photo; machine: {machine()}\n")
    print(f"load average before: {load_before}; after: {load_after}; event photos generated in {make_s:.1f} s, "
          f"uploaded in {setup['upload_s']:.1f} s (not timed below)\n")
    print(table(["web", "workers", "photos", "wall s", "photos/min", "done", "failed", "faces"],
                [[args.web, args.workers, n, round(wall, 1), round((done + failed) / wall * 60, 1), done, failed,
                  sum(res["faces"].values())]]))
    print()
    if pages:
        print(table(["page", "users", "requests", "failures", "p50 ms", "p95 ms"],
                    [[name, args.users, v["requests"], v["failures"], v["p50_ms"], v["p95_ms"]]
                     for name, v in pages.items()]))
    else:
        print(f"load phase failed (exit {load.returncode}):\n{load.stderr[-2000:]}")
    print()
    print(table(["process", "pid", "command", "peak RSS MB"],
                [[name, pid, cmd, round(mb, 1)] for name, rows in memory.items() for pid, cmd, mb in rows]))
    problems = timed_out or failed or not pages or any(v["failures"] for v in pages.values())
    if timed_out:
        print(f"\nTIMED OUT after {args.timeout} s with photos still pending")
    if problems:
        print(f"\nPROBLEMS FOUND; logs kept in {instance}")
    else:
        shutil.rmtree(instance, ignore_errors=True)
    return 1 if problems else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=1000)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the load phase")
    parser.add_argument("--web", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--workers", type=int, default=2, help="job worker processes")
    parser.add_argument("--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/",
                        help="the PostgreSQL server; a throwaway database is made on it")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--timeout", type=float, default=7200.0, help="give up processing after this many s")
    sys.exit(run(parser.parse_args()))


if __name__ == "__main__":
    main()
