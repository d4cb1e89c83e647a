"""The demo school gets portraits and an album, once."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from consentflow.demo import load_demo
from consentflow.models import Album, Photo, ReferenceFace, School
from tests.jobs.photo_helpers import run_jobs

pytestmark = pytest.mark.slow


def test_demo_photos_are_idempotent(app, db_session):
    load_demo()
    db_session.commit()
    school = db_session.scalar(select(School).where(School.slug == "voorbeeld"))
    refs = db_session.scalar(select(func.count()).select_from(ReferenceFace))
    load_demo()
    db_session.commit()
    assert db_session.scalar(select(func.count()).select_from(Album)) == 1
    assert db_session.scalar(select(func.count()).select_from(Photo)) == 3
    assert db_session.scalar(select(func.count()).select_from(ReferenceFace)) == refs
    if school.biometric_mode == "all":
        assert refs == 5
    run_jobs(app)
    states = set(db_session.scalars(select(Photo.state)))
    assert states == {"needs_review"}
