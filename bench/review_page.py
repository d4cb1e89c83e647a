"""Server time of the review page for a group photo of 200 faces (SPEC §8: "a group photo of 200 faces").

Builds, in a temporary SQLite database made by the migrations (or the
database named by --database-url), a school with 400 people (half with
consent for the website), an album and one photo record with 200 face rows
shaped as the pipeline leaves them: matched, ambiguous, weak and unknown
faces with up to three candidates each, and a quarter already decided by a
reviewer. The faces need no image for this timing (the crops are separate,
cached requests). Then it requests the review page several times as a
logged-in PR officer and prints the median server time. Target: under 2 s.

    .venv/bin/python bench/review_page.py [--faces 200] [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PASSWORD = "bench-password-long-enough"


def _app(database_url: str, instance: Path):  # type: ignore[no-untyped-def]
    from consentflow import create_app

    return create_app({
        "TESTING": True, "SECRET_KEY": os.urandom(24).hex(), "WTF_CSRF_ENABLED": False,
        "SQLALCHEMY_DATABASE_URI": database_url, "INSTANCE_PATH": str(instance),
        "STORAGE_DIR": str(instance / "storage"), "AUDIT_HEAD_FILE": str(instance / "head.json"),
        "FACE_KEY_FILE": str(instance / "face.key"), "QUEUE_BACKEND": "memory",
        "SERVER_NAME": "localhost", "BABEL_DEFAULT_LOCALE": "nl",
    })


def _seed(n_faces: int, rng: random.Random) -> tuple[int, str]:
    from consentflow.audit.service import Actor
    from consentflow.auth.service import create_user
    from consentflow.extensions import db
    from consentflow.models import (
        Album,
        ConsentForm,
        ConsentRecord,
        Face,
        FaceReview,
        Person,
        Photo,
        School,
        SchoolYear,
    )
    from consentflow.models.consent import DEFAULT_PURPOSES

    session = db.session
    now = datetime.now(timezone.utc)
    school = School(name="Bench College", slug="bench", biometric_mode="all")
    session.add(school)
    session.flush()
    start = date(now.year if now.month >= 8 else now.year - 1, 8, 1)
    year = SchoolYear(school_id=school.id, label="bench", starts_on=start,
                      ends_on=date(start.year + 1, 7, 31))
    session.add(year)
    session.flush()
    form = ConsentForm(school_id=school.id, school_year_id=year.id, version=1, title="Media",
                       wording="...", purposes=list(DEFAULT_PURPOSES))
    session.add(form)
    people = [Person(school_id=school.id, kind="student", external_id=f"B{i:05d}",
                     first_name=f"Kind{i}", last_name=f"Achternaam{i}", group_name=f"{i % 8 + 1}A",
                     date_of_birth=date(2013, 1, 1) + timedelta(days=i)) for i in range(400)]
    session.add_all(people)
    session.flush()
    for person in people[::2]:
        session.add(ConsentRecord(
            school_id=school.id, person_id=person.id, school_year_id=year.id, form_id=form.id,
            decisions={p: True for p in DEFAULT_PURPOSES}, signer_kind="self",
            signer_name=person.full_name, method="paper", signed_at=now - timedelta(days=3),
            recorded_at=now - timedelta(days=3), evidence_sha256="0" * 64))
    user = create_user(session, actor=Actor.system("bench"), email="pr@bench.example",
                       name="PR", password=PASSWORD, roles=[(school, "pr")])
    album = Album(school_id=school.id, title="Groepsfoto", event_date=now.date(),
                  purposes=["website", "social_media"])
    session.add(album)
    session.flush()
    photo = Photo(school_id=school.id, album_id=album.id, sha256="b" * 64, storage_key=None,
                  original_filename="groep_200.jpg", media_type="image/jpeg", width=8000,
                  height=6000, byte_size=12_000_000, state="needs_review", processed_at=now)
    session.add(photo)
    session.flush()
    cols = 20
    statuses = ["matched"] * 6 + ["ambiguous"] * 2 + ["weak"] + ["unknown"]
    suggested = rng.sample(people, n_faces)
    faces = []
    for i in range(n_faces):
        left, top = (i % cols) * 400 + 20, (i // cols) * 580 + 20
        status = rng.choice(statuses)
        cands = sorted(rng.sample(people, 3), key=lambda _: rng.random())
        candidates = [] if status == "unknown" else [
            {"person_id": p.id, "distance": round(0.4 + 0.05 * k + rng.random() * 0.03, 4)}
            for k, p in enumerate([suggested[i]] + cands[:2])]
        faces.append(Face(
            photo_id=photo.id, left=left, top=top, right=left + 300, bottom=top + 380,
            source="detector", detector="centerface+hog", score=0.9, match_status=status,
            matched_person_id=suggested[i].id if status == "matched" else None,
            distance=candidates[0]["distance"] if candidates else None, candidates=candidates))
    session.add_all(faces)
    session.flush()
    for face in faces[::4]:  # a quarter already decided
        kind = "confirm" if face.matched_person_id else "not_person"
        session.add(FaceReview(photo_id=photo.id, face_id=face.id, kind=kind,
                               person_id=face.matched_person_id, left=face.left, top=face.top,
                               right=face.right, bottom=face.bottom, reviewer_id=user.id,
                               created_at=now))
    session.commit()
    return photo.id, str(user.email)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=200)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--database-url", default=None,
                        help="an empty database (default: a temporary SQLite file)")
    args = parser.parse_args()

    from flask_migrate import upgrade

    with tempfile.TemporaryDirectory(prefix="cf-review-bench-") as tmp:
        instance = Path(tmp)
        url = args.database_url or f"sqlite:///{instance / 'bench.db'}"
        app = _app(url, instance)
        with app.app_context():
            upgrade()
            photo_id, email = _seed(args.faces, random.Random(200))
        client = app.test_client()
        reply = client.post("/login", data={"email": email, "password": PASSWORD})
        assert reply.status_code == 302, reply.status_code
        times, size = [], 0
        for _ in range(args.runs + 1):  # the first request warms templates and caches
            started = time.perf_counter()
            page = client.get(f"/review/photo/{photo_id}")
            times.append(time.perf_counter() - started)
            assert page.status_code == 200, page.status_code
            size = len(page.data)
        html = page.get_data(as_text=True)
        tiles = html.count('<li class="tile ')
        load = os.getloadavg()
        print(f"review page, {args.faces} faces ({tiles} tiles), {url.split(':', 1)[0]}: "
              f"median {statistics.median(times[1:]) * 1000:.0f} ms over {args.runs} requests "
              f"(min {min(times[1:]) * 1000:.0f}, max {max(times[1:]) * 1000:.0f}, "
              f"first {times[0] * 1000:.0f}); HTML {size / 1024:.0f} KiB; "
              f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; target < 2000 ms")


if __name__ == "__main__":
    main()
