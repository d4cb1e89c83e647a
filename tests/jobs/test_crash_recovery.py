"""Crash recovery with real workers: SIGKILL one of two ``flask worker`` processes 20 times.

100 small photos (one real face each) are uploaded and queued; two real
``flask worker`` processes (Huey consumers, as in production) work the
queue: on SQLite with the SQLite queue, on PostgreSQL with Redis (a key
prefix of its own per run). One of them, the victim, is killed with SIGKILL
(its whole process group) each time it has started a job, and restarted at
once, as a process supervisor would: first while the photos are processed,
then while they are published, purpose after purpose, until it was killed
20 times.

Then, with the lease and the sweeper (both short here), every photo must be
processed exactly once (one ``photo.processed`` event, one set of faces),
published exactly once per purpose, nothing left processing or publishing,
no worker traceback other than the kills, and no file in storage that no row
refers to.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from consentflow.audit.service import Actor
from consentflow.extensions import db
from consentflow.jobs import enqueue, get_queue
from consentflow.models import AuditEvent, Face, Photo, PhotoPurpose, Publication, utcnow
from consentflow.photos.storage import storage_from_config
from consentflow.photos.uploads import receive_upload, upload_limits
from consentflow.publish.background import request_publication
from consentflow.publish.service import approve_purpose
from tests import factories
from tests.conftest import _empty_tables, database_kind, make_app
from tests.jobs.photo_helpers import enrol
from tests.jobs.small_photos import event_photo

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PHOTOS = 100
KILLS = 20
KILLS_WHILE_PROCESSING = 8
# Short on purpose: a killed worker's job is free again after LEASE seconds.
LEASE = 4
# Purposes are published two at a time until the victim was killed 20 times
# (a loaded machine restarts workers slower, so it may need more of them).
CHANNELS = ("website", "social_media", "newsletter", "prospectus", "parent_portal", "press")
# Generous bound for the whole run to settle after the last kill (the sweeper runs every minute).
SETTLE_SECONDS = 240
JOB_START = re.compile(r"job (process_photo|publish_purpose)\((\d+),\) start")


def _settings(instance: Path, database_url: str) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "SECRET_KEY": "crash-test-secret-key-0123456789",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "STORAGE_DIR": str(instance / "storage"),
        "AUDIT_HEAD_FILE": str(instance / "audit-head.json"),
        "FACE_KEY_FILE": str(instance / "face.key"),
        "PHOTO_LEASE_SECONDS": LEASE,
        "PUBLISH_LEASE_SECONDS": LEASE,
        # Jobs lost from the queue with a killed worker: re-queued after 6x5 s / 20 s.
        "PHOTO_STALE_SECONDS": 5,
        "PUBLISH_STALE_SECONDS": 20,
        "WORKER_LOG_LEVEL": "INFO",
    }
    if database_kind() == "postgresql":
        settings.update(QUEUE_BACKEND="redis", REDIS_URL="redis://127.0.0.1:6379/9",
                        QUEUE_NAME=f"cf-crash-{uuid.uuid4().hex[:10]}")
    else:
        settings.update(QUEUE_BACKEND="sqlite", QUEUE_SQLITE_PATH=str(instance / "queue.db"),
                        QUEUE_NAME="cf-crash")
    return settings


class Worker:
    """One ``flask worker --workers 1`` in its own process group, logging to its own file."""

    def __init__(self, instance: Path, name: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONSENTFLOW_")}
        env["CONSENTFLOW_INSTANCE_PATH"] = str(instance)
        env["PYTHONPATH"] = str(ROOT)
        self.log_path = instance / f"worker-{name}.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "consentflow", "worker", "--workers", "1"],
            env=env, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def started_jobs(self) -> list[tuple[str, int]]:
        return [(kind, int(ident)) for kind, ident in JOB_START.findall(self.log())]

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self._log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        self.kill()


@pytest.fixture
def crash_app(migrated: str, tmp_path: Path) -> Iterator[Any]:
    instance = tmp_path / "instance"
    instance.mkdir()
    settings = _settings(instance, migrated)
    (instance / "config.py").write_text(
        "".join(f"{key} = {value!r}\n" for key, value in settings.items()))
    app = make_app(migrated, instance, **settings)
    ctx = app.app_context()
    ctx.push()
    try:
        yield app
    finally:
        get_queue(app).huey.flush()  # our queue (or Redis key prefix) only
        db.session.remove()
        ctx.pop()
        _empty_tables(app)


def _count(stmt: Any) -> int:
    db.session.expire_all()
    value = db.session.scalar(stmt)
    db.session.commit()  # never keep a snapshot open while the workers write
    return int(value or 0)


def _pending_photos(album_id: int) -> int:
    return _count(select(func.count()).select_from(Photo).where(
        Photo.album_id == album_id, Photo.state.in_(("uploaded", "processing"))))


def _pending_publications() -> int:
    return _count(select(func.count()).select_from(PhotoPurpose).where(
        PhotoPurpose.status == "publishing"))


def _in_flight(kind: str, ident: int) -> bool:
    """Was the job the victim started still unfinished when it was killed?"""
    if kind == "process_photo":
        return _count(select(func.count()).select_from(Photo).where(
            Photo.id == ident, Photo.state == "processing")) == 1
    return _count(select(func.count()).select_from(PhotoPurpose).where(
        PhotoPurpose.id == ident, PhotoPurpose.status == "publishing",
        PhotoPurpose.publish_started_at.is_not(None))) == 1


class Killer:
    """Kills the victim each time it has started a job, and restarts it at once."""

    def __init__(self, instance: Path, seed: int) -> None:
        self.instance = instance
        self.rng = random.Random(seed)
        self.victim = Worker(instance, "victim-0")
        self.kills = 0
        self.interrupted: list[tuple[str, int]] = []
        self.hit: set[tuple[str, int]] = set()
        self.logs: list[str] = []

    def kill_once(self, work_left: Any, *, last: bool = False) -> bool:
        """Wait for the victim to start a job, let it run a moment, SIGKILL it; False if no work.

        Each job is killed at most once. The crashes are meant to be
        independent: a restarted victim's sweep often hands it the job it was
        just killed in, and killing that again and again would be a job that
        crashes every worker, which the product fails on purpose after four
        interruptions (``processing.fail_exhausted``, its own test) and
        which seen under load made this test fail for the wrong reason.

        After the ``last`` kill of a phase the restart waits until the killed
        job's lease has expired, so the sweep every consumer runs when it
        starts finds it at once instead of at the next minute's sweep (which
        the earlier kills rely on); that keeps the test short.
        """
        seen = len(self.victim.started_jobs())
        while True:
            while len(self.victim.started_jobs()) == seen:
                if not work_left():
                    return False
                time.sleep(0.1)
            seen = len(self.victim.started_jobs())
            if self.victim.started_jobs()[-1] in self.hit:
                continue
            time.sleep(self.rng.uniform(0.0, 0.6))
            job = self.victim.started_jobs()[-1]  # it may have moved on meanwhile
            if job not in self.hit:
                break
        self.hit.add(job)
        self.victim.kill()
        self.kills += 1
        if _in_flight(*job):
            self.interrupted.append(job)
        self.logs.append(self.victim.log())
        if last:
            time.sleep(LEASE + 1)
        self.victim = Worker(self.instance, f"victim-{self.kills}")
        return True


def _settle(album_id: int) -> None:
    deadline = time.monotonic() + SETTLE_SECONDS
    while _pending_photos(album_id) or _pending_publications():
        assert time.monotonic() < deadline, (
            f"stuck: {_pending_photos(album_id)} photo(s) processing, "
            f"{_pending_publications()} publication(s) publishing")
        time.sleep(0.5)


def _storage_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_sigkill_twenty_times_every_photo_processed_and_published_exactly_once(crash_app) -> None:
    app = crash_app
    session = db.session
    instance = Path(app.instance_path)
    school = factories.school(session, biometric_mode="all")
    barack = factories.person(session, school=school, first="Barack", external_id="200001")
    enrol(app, session, school, barack, "obama.jpg")
    pr = factories.user(session, school=school, roles=("pr",))
    album = factories.album(session, school=school, purposes=CHANNELS)
    session.commit()
    actor, album_id, school_id = Actor(pr.id, pr.email), album.id, school.id
    storage, limits = storage_from_config(app.config), upload_limits(app.config)

    import io

    photo_ids = []
    for index in range(PHOTOS):
        result = receive_upload(session, storage, actor, album, f"event-{index:03}.jpg",
                                io.BytesIO(event_photo(index)), limits)
        assert result.status == "accepted", result
        photo_ids.append(result.photo_id)

    steady = Worker(instance, "steady")
    killer = Killer(instance, seed=13)
    published_channels: list[str] = []
    try:
        # Phase 1: kills while the photos are processed.
        while killer.kills < KILLS_WHILE_PROCESSING and killer.kill_once(
                lambda: _pending_photos(album_id) > 0,
                last=killer.kills + 1 == KILLS_WHILE_PROCESSING):
            pass
        processing_kills = killer.kills
        deadline = time.monotonic() + SETTLE_SECONDS
        while _pending_photos(album_id):
            assert time.monotonic() < deadline, "photos stuck in processing"
            time.sleep(0.5)
        db.session.expire_all()
        not_done = [(p.id, p.state, p.attempts, p.failure_reason) for p in db.session.scalars(
            select(Photo).where(Photo.album_id == album_id, Photo.state != "needs_review"))]
        db.session.commit()
        assert not_done == [], f"photos not processed (id, state, attempts, reason): {not_done}"
        # Phase 2: publish, two purposes at a time, killing the victim until it died 20 times.
        for batch in (CHANNELS[0:2], CHANNELS[2:4], CHANNELS[4:6]):
            if killer.kills >= KILLS:
                break
            requested = []
            for photo_id in photo_ids:
                for channel in batch:
                    approve_purpose(session, actor=actor, school_id=school_id,
                                    photo_id=photo_id, channel=channel, expected_version=None,
                                    now=utcnow())
                    requested.append(request_publication(
                        session, actor=actor, school_id=school_id, photo_id=photo_id,
                        channel=channel, channel_note=None, now=utcnow()).id)
                session.commit()
            # Queued together, so that the kills meet a full queue.
            for purpose_id in requested:
                enqueue("publish_purpose", purpose_id)
            published_channels.extend(batch)
            while killer.kills < KILLS and killer.kill_once(
                    lambda: _pending_publications() > 0, last=killer.kills + 1 == KILLS):
                pass
            _settle(album_id)
        _settle(album_id)
    finally:
        killer.victim.stop()
        steady.stop()
    logs = killer.logs + [killer.victim.log(), steady.log()]

    kinds = Counter(kind for kind, _ in killer.interrupted)
    print(f"\nkills: {killer.kills} ({processing_kills} while processing); jobs interrupted "
          f"mid-run: {dict(kinds)}; purposes published: {published_channels}")
    session.expire_all()
    print("photo states:", dict(Counter(p.state for p in session.scalars(select(Photo)))),
          "purposes:", dict(Counter((pp.status, (pp.refusal or {}).get("code"))
                                    for pp in session.scalars(select(PhotoPurpose)))))
    assert killer.kills == KILLS
    assert kinds["process_photo"] >= 1 and kinds["publish_purpose"] >= 1

    session.expire_all()
    photos = list(session.scalars(select(Photo).where(Photo.album_id == album_id)))
    assert len(photos) == PHOTOS
    assert Counter(p.state for p in photos) == Counter({"published": PHOTOS})
    # Processed exactly once: one audit event each, and one face per photo (never a second set).
    processed = Counter(session.scalars(select(AuditEvent.object_id).where(
        AuditEvent.action == "photo.processed")))
    assert processed == Counter({str(pid): 1 for pid in photo_ids})
    faces = Counter(session.scalars(select(Face.photo_id)))
    assert faces == Counter({pid: 1 for pid in photo_ids})
    # Published exactly once per photo and purpose; nothing failed, refused or left claimed.
    pubs = Counter(session.execute(select(Publication.photo_id, Publication.purpose)).all())
    assert set(pubs.values()) == {1}
    assert len(pubs) == PHOTOS * len(published_channels)
    published_events = _count(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "photo.published"))
    assert published_events == PHOTOS * len(published_channels)
    purposes = list(session.scalars(select(PhotoPurpose)))
    assert {(pp.status, pp.publish_started_at, pp.refusal) for pp in purposes} == {
        ("approved", None, None)}
    failures = _count(select(func.count()).select_from(AuditEvent).where(AuditEvent.action.in_(
        ("photo.failed", "photo.publication_failed"))))
    assert failures == 0
    # No orphans: every stored file is an original or a publication's derivative.
    referenced = {p.storage_key for p in photos} | set(session.scalars(
        select(Publication.derivative_key)))
    assert _storage_files(Path(app.config["STORAGE_DIR"])) - referenced == set()
    # The only errors in the workers' logs are the kills themselves (no traceback).
    assert not [log for log in logs if "Traceback" in log]
