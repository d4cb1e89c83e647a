"""500+ hostile files through the real upload form and the real API, good files between them.

The corpus is generated from a seed (``hostile_corpus``). Batches of hostile
files with two good photos in each go alternately through the web form (in
Dutch, as a school sees it) and the JSON API; then the worker's job runs
for every photo that was kept. Required: no 5xx answer, no job that raises,
every rejection with a message (Dutch on the form: not the English msgid),
every good file kept (stored byte for byte) and processed, every hostile
file the corpus says must be refused refused, every file it says is a real
photo kept. The peak memory of this process (the web app and the worker
ran in it) is printed.
"""

from __future__ import annotations

import logging
import random
import resource
from collections import Counter
from hashlib import sha256

import pytest
from sqlalchemy import select

from consentflow.jobs import get_queue
from consentflow.models import Photo
from consentflow.photos.imaging import MESSAGES
from consentflow.photos.storage import storage_from_config
from tests import factories
from tests.jobs.small_photos import event_photo
from tests.web.hostile_corpus import corpus
from tests.web.test_api import _token
from tests.web.test_upload_security_pages import _api_upload, _web_upload

pytestmark = [
    pytest.mark.slow,
    # Production runs with Python's default warning filters: Pillow's notes on
    # a damaged EXIF block are warnings there, not errors (the suite makes
    # every warning an error, which would hide what production does).
    pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin"),
    pytest.mark.filterwarnings("ignore::UserWarning:PIL.Image"),
]

SEED = 20261202
BATCH = 12
ENGLISH = set(MESSAGES.values())


def _answers(response, via: str) -> list[dict]:
    assert response.status_code < 500, (via, response.status_code)
    assert response.status_code == 200, (via, response.status_code, response.get_data()[:300])
    return response.get_json()["results"]


def test_hostile_corpus_through_the_form_and_the_api(app, client, auth, db_session,
                                                     caplog) -> None:
    app.config["BABEL_DEFAULT_LOCALE"] = "nl"  # the form answers as a Dutch school sees it
    caplog.set_level(logging.ERROR)
    school = factories.school(db_session, biometric_mode="all")
    user = auth.as_role(db_session, "pr", school)
    album = factories.album(db_session, school=school, created_by=user)
    db_session.commit()
    raw = _token(db_session, user, school)
    db_session.commit()

    specimens = corpus(SEED)
    assert len(specimens) >= 500
    random.Random(SEED).shuffle(specimens)
    good_index = 0
    outcomes: list[tuple[object, dict, str]] = []  # (specimen or good bytes, answer, via)
    for batch_no, start in enumerate(range(0, len(specimens), BATCH)):
        batch = specimens[start:start + BATCH]
        goods = []
        for _ in range(2):
            data = event_photo(10_000 + good_index)
            goods.append((f"goed-{good_index}.jpg", data))
            good_index += 1
        # Good files first, in the middle and last: a bad neighbour costs them nothing.
        files = ([goods[0]] + [(s.name, s.data) for s in batch[:BATCH // 2]] + [goods[1]]
                 + [(s.name, s.data) for s in batch[BATCH // 2:]])
        kinds: list[object] = [goods[0][1], *batch[:BATCH // 2], goods[1][1],
                               *batch[BATCH // 2:]]
        via = "web" if batch_no % 2 == 0 else "api"
        if via == "web":
            response = _web_upload(client, auth, album.id, files)
        else:
            response = _api_upload(client, raw, album.id, files)
        results = _answers(response, via)
        assert len(results) == len(files)
        outcomes.extend((kind, result, via) for kind, result in zip(kinds, results))

    # Every answer is an answer; every rejection says why (in Dutch on the form).
    wrong: list[str] = []
    families: Counter[tuple[str, str]] = Counter()
    for kind, result, via in outcomes:
        status = result["status"]
        if status == "rejected":
            if not result["message"]:
                wrong.append(f"{result['filename']}: rejected without a message")
            elif via == "web" and result["message"] in ENGLISH:
                wrong.append(f"{result['filename']}: English message on the Dutch form")
        if isinstance(kind, bytes):  # a good photo
            if status != "accepted":
                wrong.append(f"good {result['filename']}: {status} {result['code']}")
            continue
        families[(kind.family, status)] += 1
        if kind.expect == "reject" and status != "rejected":
            wrong.append(f"{kind.name}: {status}, expected a rejection")
        if kind.expect == "accept" and status != "accepted":
            wrong.append(f"{kind.name}: {status} {result['code']}, expected to be kept")
    assert not wrong, "\n".join(wrong)

    # The worker processes everything kept; no job raises.
    queue = get_queue(app)
    ran = queue.run_pending()
    db_session.expire_all()
    photos = list(db_session.scalars(select(Photo).where(Photo.album_id == album.id)))
    accepted = [r for _, r, _ in outcomes if r["status"] == "accepted"]
    assert ran == len(accepted) == len(photos)
    stuck = [(p.original_filename, p.state, p.failure_reason) for p in photos
             if p.state != "needs_review"]
    assert stuck == []
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []
    # Every good file is kept byte for byte.
    storage = storage_from_config(app.config)
    by_name = {p.original_filename: p for p in photos}
    for index in range(good_index):
        photo = by_name[f"goed-{index}.jpg"]
        data = event_photo(10_000 + index)
        assert photo.sha256 == sha256(data).hexdigest()
        assert storage.read(photo.storage_key) == data

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nhostile corpus: {len(specimens)} files + {good_index} good ones in "
          f"{len(outcomes) // (BATCH + 2)} batches (web and API); kept {len(accepted)}; "
          f"peak memory of the web process (app, test client and worker): {peak_mb:.0f} MB")
    for (family, status), count in sorted(families.items()):
        print(f"  {family:18} {status:9} {count}")
