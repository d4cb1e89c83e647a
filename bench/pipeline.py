"""End-to-end pipeline throughput: photos per minute through the real app.

Unlike throughput.py (engine only), this goes through everything a real
upload does: a fresh instance folder and database (migrated with
``flask db upgrade``), a school with biometric mode "all", reference
portraits enrolled from the real images (so matching runs against a real,
encrypted index), an album, N generated ~12-MP event photos (common.
event_photo, 5 faces each) uploaded through ``photos.service.upload_photo``
and committed one by one as the web upload does, then ``process_photo``
enqueued for each. Only then is the real worker started as a subprocess
(``flask --app consentflow worker --workers W``, Huey process workers) and
the clock starts. The database is polled every 0.5 s until every photo has
left ``uploaded``/``processing`` (or the timeout hits); then the worker gets
SIGINT and its process group is killed.

Reported: total wall time from worker start to the last photo, the time to
the first finished photo (startup: interpreter, app, models, index), photos
per minute overall and in steady state (from the first to the last finished
photo, by their ``processed_at``), failures, faces found, and integrity
checks (photos with zero faces, photos processed more than once, retries).

Run:
  /work/main/.venv/bin/python bench/pipeline.py                      # sqlite queue, SQLite db
  /work/main/.venv/bin/python bench/pipeline.py --queue redis \\
      --database-url postgresql+psycopg://postgres@127.0.0.1:5432/
Options: --photos 24 --workers 2 --timeout 150 --keep (keep the instance folder),
--engine KEY=VALUE (FACE_ENGINE override, repeatable; e.g. the engine before
the speed work: --engine detect_threads=1 --engine full_pass_side=0
--engine encoding_processes=1). The worker's CPU seconds (all its
processes) are printed too: wall figures depend on other load.
A PostgreSQL URL names the server: the script creates a fresh database on it
and drops it afterwards. The redis queue uses redis://127.0.0.1:6379/15 (or
--redis-url), flushed before and after the run.
"""

from __future__ import annotations

import argparse
import ast
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from common import FACES_DIR, ROOT, event_photo, machine, table

PYTHON = sys.executable
# Portraits enrolled as reference faces (one person each, obama twice):
# they are the faces pasted into the event photos, so matching has work to do.
PORTRAITS = {
    "P001": ("obama.jpg", "obama3.jpg"),
    "P002": ("biden.jpg",),
    "P003": ("lin-manuel-miranda.png",),
    "P004": ("Tom_Cruise_avp_2014_4.jpg",),
}
PENDING = ("uploaded", "processing")


def _group_cpu(pgid: int) -> float:
    """CPU seconds (user + system, with reaped children) of every live process in a group."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        # After the ")": state ppid pgrp ... utime(12) stime(13) cutime(14) cstime(15).
        if int(fields[2]) == pgid:
            total += sum(int(v) for v in fields[11:15])
    return total / tick


def _engine_overrides(pairs: list[str]) -> dict[str, Any]:
    """``--engine detect_threads=1``: FACE_ENGINE overrides, values as Python literals."""
    result: dict[str, Any] = {}
    for pair in pairs:
        key, _, raw = pair.partition("=")
        result[key.strip()] = ast.literal_eval(raw.strip())
    return result


def _write_config(instance: Path, *, queue: str, db_url: str, redis_url: str,
                  engine: dict[str, Any]) -> None:
    lines = [
        f"SECRET_KEY = {secrets.token_hex(32)!r}",
        f"QUEUE_BACKEND = {queue!r}",
        f"REDIS_URL = {redis_url!r}",
        "QUEUE_NAME = 'consentflow-bench'",
        f"SQLALCHEMY_DATABASE_URI = {db_url!r}",
        f"FACE_ENGINE = {engine!r}",
    ]
    (instance / "config.py").write_text("\n".join(lines) + "\n")


def _child_env(instance: Path) -> dict[str, str]:
    # Nothing from the caller's CONSENTFLOW_* environment leaks into the run.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSENTFLOW_")}
    env["CONSENTFLOW_INSTANCE_PATH"] = str(instance)
    env["PYTHONPATH"] = str(ROOT)
    return env


def _flask(*args: str) -> list[str]:
    return [PYTHON, "-m", "flask", "--app", "consentflow", *args]


def _create_pg_database(server_url: str) -> tuple[str, str]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"consentflow_bench_{secrets.token_hex(4)}"
    admin = make_url(server_url).set(database="postgres")
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False), name


def _drop_pg_database(server_url: str, name: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    engine = create_engine(make_url(server_url).set(database="postgres"),
                           isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def _flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def _setup(app: Any, photos: int) -> dict[str, Any]:
    """School, uploader, people with enrolled portraits, album, N uploads; all committed."""
    from consentflow.audit.service import Actor
    from consentflow.auth.service import create_user
    from consentflow.extensions import db
    from consentflow.jobs import enqueue
    from consentflow.models import Album, Person, School, utcnow
    from consentflow.photos import service
    from consentflow.photos.crypto import cipher_from_config
    from consentflow.photos.enrol import enrol_portrait
    from consentflow.photos.imaging import Limits
    from consentflow.photos.storage import storage_from_config
    from consentflow.photos.tasks import engine_settings

    with app.app_context():
        session = db.session
        school = School(name="Bench School", slug="bench-school", biometric_mode="all")
        session.add(school)
        session.flush()
        user = create_user(session, actor=Actor.system("bench"), email="uploader@bench.example",
                           name="Bench Uploader", password=secrets.token_urlsafe(16),
                           roles=[(school, "teacher")])
        actor = Actor(user.id, user.email)
        cipher = cipher_from_config(app.config)
        today = utcnow().date()
        enrolled = 0
        for number, files in PORTRAITS.items():
            person = Person(school_id=school.id, kind="student", external_id=number,
                            first_name="Bench", last_name=number, date_of_birth=date(2012, 5, 1),
                            group_name="2A")
            session.add(person)
            session.flush()
            for name in files:
                enrol_portrait(session, cipher, Actor.system("bench"), school, person,
                               (FACES_DIR / name).read_bytes(), settings=engine_settings(),
                               today=today, now=utcnow())
                enrolled += 1
        album = service.create_album(session, actor, school.id, title="Bench event",
                                     event_date=today, purposes=["website"], now=utcnow())
        session.commit()
        album_id = album.id

        storage = storage_from_config(app.config)
        limits = Limits(int(app.config["UPLOAD_MAX_BYTES"]), int(app.config["UPLOAD_MAX_PIXELS"]))
        paths = [event_photo(i).path for i in range(photos)]  # generated (cached) before timing
        started = time.perf_counter()
        ids: list[int] = []
        for path in paths:
            album = session.get(Album, album_id)
            result = service.upload_photo(session, storage, actor, album, path.name,
                                          path.read_bytes(), limits=limits, now=utcnow())
            session.commit()  # as the web upload: commit each file, then enqueue
            if result.status != "accepted" or result.photo_id is None:
                raise SystemExit(f"upload of {path.name} not accepted: {result}")
            enqueue("process_photo", result.photo_id)
            ids.append(result.photo_id)
        upload_s = time.perf_counter() - started
        db.session.remove()
    return {"album_id": album_id, "photo_ids": ids, "people": len(PORTRAITS),
            "references": enrolled, "upload_s": upload_s}


def _poll(app: Any, album_id: int) -> dict[str, int]:
    from sqlalchemy import func, select

    from consentflow.extensions import db
    from consentflow.models import Photo

    with app.app_context():
        counts = dict(db.session.execute(
            select(Photo.state, func.count()).where(Photo.album_id == album_id)
            .group_by(Photo.state)).all())
        db.session.remove()
    return {str(k): int(v) for k, v in counts.items()}


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _results(app: Any, album_id: int) -> dict[str, Any]:
    from sqlalchemy import func, select

    from consentflow.extensions import db
    from consentflow.models import AuditEvent, Face, Photo

    with app.app_context():
        session = db.session
        photos = list(session.scalars(select(Photo).where(Photo.album_id == album_id)
                                      .order_by(Photo.id)))
        faces = dict(session.execute(
            select(Face.photo_id, func.count()).join(Photo, Photo.id == Face.photo_id)
            .where(Photo.album_id == album_id, Face.source == "detector")
            .group_by(Face.photo_id)).all())
        statuses = dict(session.execute(
            select(Face.match_status, func.count()).join(Photo, Photo.id == Face.photo_id)
            .where(Photo.album_id == album_id).group_by(Face.match_status)).all())
        ids = [str(p.id) for p in photos]
        events = session.execute(
            select(AuditEvent.action, AuditEvent.object_id)
            .where(AuditEvent.object_type == "photo", AuditEvent.object_id.in_(ids),
                   AuditEvent.action.in_(("photo.processed", "photo.retry", "photo.failed")))
        ).all()
        processed_events: dict[str, int] = {}
        for action, object_id in events:
            if action == "photo.processed":
                processed_events[object_id] = processed_events.get(object_id, 0) + 1
        out = {
            "states": [p.state for p in photos],
            "failures": [(p.id, p.original_filename, p.failure_reason) for p in photos
                         if p.state == "failed"],
            "processed_at": sorted(_aware(p.processed_at) for p in photos if p.processed_at),
            "attempts": {p.id: p.attempts for p in photos},
            "faces": {p.id: int(faces.get(p.id, 0)) for p in photos},
            "statuses": {str(k): int(v) for k, v in statuses.items()},
            "processed_events": processed_events,
            "retry_events": sum(1 for a, _ in events if a == "photo.retry"),
            "failed_events": sum(1 for a, _ in events if a == "photo.failed"),
        }
        session.remove()
    return out


def _stop(proc: subprocess.Popen[bytes]) -> str:
    if proc.poll() is not None:
        return f"worker had already exited with {proc.returncode}"
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=20)
        how = f"stopped by SIGINT (exit {proc.returncode})"
    except subprocess.TimeoutExpired:
        how = "did not stop within 20 s of SIGINT; killed"
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # leftover Huey worker processes, if any
    except ProcessLookupError:
        pass
    proc.wait()
    return how


def run(args: argparse.Namespace) -> int:
    instance = Path(tempfile.mkdtemp(prefix="consentflow-pipeline-"))
    pg_name: str | None = None
    redis_url = args.redis_url
    if args.database_url and args.database_url.startswith("postgresql"):
        db_url, pg_name = _create_pg_database(args.database_url)
        db_label = f"PostgreSQL (fresh database {pg_name})"
    elif args.database_url:
        db_url, db_label = args.database_url, args.database_url
    else:
        db_url = "sqlite:///" + str(instance / "consentflow.db")
        db_label = "SQLite (instance file, WAL)"
    if args.queue == "redis":
        _flush_redis(redis_url)
    engine = _engine_overrides(args.engine)
    _write_config(instance, queue=args.queue, db_url=db_url, redis_url=redis_url, engine=engine)
    env = _child_env(instance)
    for key in [k for k in os.environ if k.startswith("CONSENTFLOW_")]:
        del os.environ[key]
    os.environ["CONSENTFLOW_INSTANCE_PATH"] = str(instance)
    worker_log = instance / "worker.log"
    load_before = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    proc: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run(_flask("db", "upgrade"), env=env, cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        from consentflow import create_app

        app = create_app()
        setup = _setup(app, args.photos)
        album_id, n = setup["album_id"], len(setup["photo_ids"])

        with open(worker_log, "wb") as log:
            started_wall = datetime.now(timezone.utc)
            started = time.perf_counter()
            proc = subprocess.Popen(_flask("worker", "--workers", str(args.workers)), env=env,
                                    cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            first_done: float | None = None
            last_change = started
            timed_out = False
            while True:
                time.sleep(0.5)
                counts = _poll(app, album_id)
                pending = sum(counts.get(s, 0) for s in PENDING)
                now = time.perf_counter()
                if pending < n and first_done is None:
                    first_done = now - started
                if pending == 0:
                    last_change = now
                    break
                if proc.poll() is not None:
                    print(f"worker exited early with {proc.returncode}", file=sys.stderr)
                    break
                if now - started > args.timeout:
                    timed_out = True
                    break
            wall = last_change - started if not timed_out else now - started
            worker_cpu = _group_cpu(proc.pid)
            stop_note = _stop(proc)
        res = _results(app, album_id)
    finally:
        if proc is not None and proc.poll() is None:
            _stop(proc)
        if args.queue == "redis":
            _flush_redis(redis_url)
        if pg_name:
            try:
                from consentflow.extensions import db

                with app.app_context():  # type: ignore[possibly-undefined]
                    db.engine.dispose()
            except Exception:
                pass
            _drop_pg_database(args.database_url, pg_name)
    load_after = ", ".join(f"{v:.2f}" for v in os.getloadavg())

    states = res["states"]
    done = sum(1 for s in states if s == "needs_review")
    failed = sum(1 for s in states if s == "failed")
    left = sum(1 for s in states if s in PENDING)
    stamps = res["processed_at"]
    startup = (stamps[0] - started_wall).total_seconds() if stamps else float("nan")
    span = (stamps[-1] - stamps[0]).total_seconds() if len(stamps) > 1 else float("nan")
    steady = (len(stamps) - 1) / span * 60 if len(stamps) > 1 and span > 0 else float("nan")
    overall = (done + failed) / wall * 60 if wall > 0 else float("nan")
    face_counts = list(res["faces"].values())
    total_faces = sum(face_counts)
    zero = [pid for pid, c in res["faces"].items() if c == 0 and pid]
    twice = {pid: c for pid, c in res["processed_events"].items() if c > 1}
    multi_attempt = {pid: a for pid, a in res["attempts"].items() if a > 1}
    log_text = worker_log.read_text(errors="replace") if worker_log.exists() else ""
    tracebacks = log_text.count("Traceback")

    print(f"# pipeline, {n} event photos of 4000x3000 (5 faces each); machine: {machine()}\n")
    print(f"load average before the run: {load_before}; after: {load_after}\n")
    headers = ["queue", "database", "workers", "photos", "wall s", "startup s", "photos/min",
               "steady photos/min", "failed", "faces", "faces/photo"]
    row = [args.queue, db_label.split(" (")[0], args.workers, n, round(wall, 1),
           round(startup, 1), round(overall, 1), round(steady, 1), failed, total_faces,
           round(total_faces / n, 2) if n else 0]
    print(table(headers, [row]))
    print()
    print(f"* database: {db_label}; queue: {args.queue}"
          + (f" ({redis_url})" if args.queue == "redis" else " (instance queue.db)"))
    print(f"* setup: {setup['people']} people, {setup['references']} reference portraits "
          f"enrolled; upload of {n} photos through photos.service took {setup['upload_s']:.1f} s "
          "(not in the wall time)")
    print("* wall s = worker start to the poll that saw no photo left uploaded/processing "
          "(0.5 s polls); startup s = worker start to the first processed_at; steady = "
          "(photos - 1) / (last - first processed_at)")
    print(f"* states: done (needs_review) {done}, failed {failed}, still pending {left}"
          + (f" (TIMED OUT after {args.timeout} s)" if timed_out else ""))
    print(f"* face match statuses: {res['statuses']}")
    print(f"* photos with zero faces: {len(zero)}"
          + (f" {zero}" if zero else " (every event photo has 5 faces)"))
    print(f"* faces per photo: min {min(face_counts, default=0)}, "
          f"max {max(face_counts, default=0)}")
    print(f"* photos processed more than once (photo.processed audit events > 1): "
          f"{len(twice)}{' ' + str(twice) if twice else ''}; photos with attempts > 1: "
          f"{len(multi_attempt)}{' ' + str(multi_attempt) if multi_attempt else ''}; "
          f"photo.retry events: {res['retry_events']}, photo.failed events: "
          f"{res['failed_events']}")
    print(f"* worker CPU (all its processes, startup included): {worker_cpu:.1f} s, "
          f"{worker_cpu / max(1, done + failed):.2f} s per photo; "
          f"engine overrides: {engine or 'none (defaults)'}")
    print(f"* worker: {stop_note}; tracebacks in its log: {tracebacks}")
    for pid, name, reason in res["failures"]:
        print(f"  - failed photo {pid} {name}: {reason}")
    if tracebacks or args.keep:
        print(f"* worker log: {worker_log}" + ("" if args.keep else " (instance kept)"))
    problems = bool(zero or twice or failed or left or timed_out)
    if problems:
        print("\nPROBLEMS FOUND (see above)")
    if not (args.keep or tracebacks):
        shutil.rmtree(instance, ignore_errors=True)
    return 1 if problems else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=24)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--queue", choices=("sqlite", "redis"), default="sqlite")
    parser.add_argument("--database-url", default="",
                        help="default: SQLite in the instance; a postgresql URL names the server")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--timeout", type=float, default=150.0)
    parser.add_argument("--keep", action="store_true", help="keep the instance folder")
    parser.add_argument("--engine", action="append", default=[], metavar="KEY=VALUE",
                        help="FACE_ENGINE override, e.g. --engine detect_threads=1 (repeatable)")
    sys.exit(run(parser.parse_args()))


if __name__ == "__main__":
    main()
