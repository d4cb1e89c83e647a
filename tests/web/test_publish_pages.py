"""Publication, download, bundle, takedown dashboard and subject access over HTTP."""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy import select

from consentflow.audit.service import Actor
from consentflow.consent.service import record_consent
from consentflow.models import AuditEvent, Publication, TakedownTask, utcnow
from tests.jobs.photo_helpers import run_jobs
from tests.services.test_publish_support import build_world, confirm_both

pytestmark = [pytest.mark.slow]
VERSION_RE = re.compile(r'name="version" value="(\d+)"')


def _consent(db_session, app, w, person, decisions, at):
    return record_consent(
        db_session, actor=Actor.system("test"), person_id=person.id, school_year_id=w.year.id,
        form_id=w.form.id, decisions=decisions, signer_kind="self", signer_guardian_id=None,
        signer_name=None, method="in_person", signed_at=at, evidence=None,
        evidence_filename=None, storage_dir=app.config["STORAGE_DIR"], now=at,
    )


def _published_world(app, client, auth, db_session):
    w = build_world(db_session, app)
    # The school year of the fixture covers 2026-08-01..2027-07-31; consent is looked up today.
    today = utcnow()
    w.year.starts_on = (today - timedelta(days=30)).date()
    w.year.ends_on = (today + timedelta(days=300)).date()
    _consent(db_session, app, w, w.obama, {"social_media.photo": True}, today - timedelta(days=2))
    confirm_both(db_session, w, at=today - timedelta(days=1))
    db_session.commit()
    auth.as_role(db_session, "pr", school=w.school)
    page = client.get(f"/review/photo/{w.photo.id}?channel=social_media").get_data(as_text=True)
    csrf = auth.csrf("/review/")
    version = int(VERSION_RE.search(page).group(1))
    approved = client.post(f"/review/photo/{w.photo.id}/purpose/social_media", follow_redirects=True,
                           data={"action": "approve", "version": version, "csrf_token": csrf})
    assert 'data-publish="social_media"' in approved.get_data(as_text=True)
    published = client.post(f"/publish/photo/{w.photo.id}/social_media", follow_redirects=True,
                            data={"channel_note": "Instagram @school", "csrf_token": csrf})
    assert published.status_code == 200
    # The request only claimed the purpose; the page polls while the worker publishes.
    assert "publish-progress" in published.get_data(as_text=True)
    assert db_session.scalar(select(Publication)) is None
    status = client.get(f"/publish/photo/{w.photo.id}/social_media/status").get_json()
    assert (status["state"], status["done"]) == ("queued", False)
    assert run_jobs(app) >= 1
    status = client.get(f"/publish/photo/{w.photo.id}/social_media/status").get_json()
    assert (status["state"], status["progress"], status["done"]) == ("published", 100, True)
    publication = db_session.scalar(select(Publication))
    assert publication is not None
    assert status["publication_url"] == f"/publish/publication/{publication.id}"
    assert "Consent snapshot" in client.get(status["publication_url"]).get_data(as_text=True)
    return w, publication, csrf


def test_publish_download_and_bundle(app, client, auth, db_session):
    w, publication, _ = _published_world(app, client, auth, db_session)
    download = client.get(f"/publish/publication/{publication.id}/download")
    assert download.status_code == 200
    assert "attachment" in download.headers["Content-Disposition"]
    assert hashlib.sha256(download.data).hexdigest() == publication.derivative_sha256

    bundle = client.get(f"/publish/album/{w.album.id}/bundle.zip")
    assert bundle.status_code == 200
    with zipfile.ZipFile(io.BytesIO(bundle.data)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        (entry,) = manifest["publications"]
        assert hashlib.sha256(archive.read(entry["file"])).hexdigest() == entry["sha256"]
        captions = [n for n in archive.namelist() if n.startswith("captions/")]
        assert "Photo: J. Fotograaf" in archive.read(captions[0]).decode()
    assert {e["decision"] for e in entry["snapshot"]} == {"show", "blur_no_consent"}
    assert db_session.scalar(select(AuditEvent).where(AuditEvent.action == "album.exported"))


def test_takedown_dashboard_after_withdrawal(app, client, auth, db_session):
    w, publication, csrf = _published_world(app, client, auth, db_session)
    _consent(db_session, app, w, w.obama, {"social_media.photo": False}, utcnow())
    db_session.commit()
    (task,) = db_session.scalars(select(TakedownTask)).all()
    html = client.get("/publish/takedowns").get_data(as_text=True)
    assert f'data-task="{task.id}"' in html and "Instagram @school" in html
    assert "Barack Obama" in html
    done = client.post(f"/publish/takedowns/{task.id}/done", follow_redirects=True,
                       data={"note": "Post deleted on Instagram", "csrf_token": csrf})
    assert "Takedown recorded." in done.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(TakedownTask, task.id).done_at is not None
    assert db_session.get(Publication, publication.id).taken_down_at is not None


def test_subject_access_and_erasure_roles(app, client, auth, db_session):
    w = build_world(db_session, app)
    db_session.commit()
    auth.as_role(db_session, "privacy", school=w.school)
    assert "Barack Obama" in client.get("/privacy/?q=obama").get_data(as_text=True)
    csrf = auth.csrf(f"/privacy/person/{w.obama.id}")
    export = client.post(f"/privacy/person/{w.obama.id}/export", data={"csrf_token": csrf})
    assert export.status_code == 200 and export.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(export.data)) as archive:
        assert json.loads(archive.read("data.json"))["person"]["id"] == w.obama.id
        assert "Obama" in archive.read("index.html").decode()
    # Privacy is read-only: erasure is for admins.
    denied = client.post(f"/privacy/person/{w.obama.id}/erase", data={"csrf_token": csrf, "confirm": "y"})
    assert denied.status_code == 403
    assert db_session.get(type(w.obama), w.obama.id).erased_at is None
