"""A video through the product: upload, tracks as faces, review, publish with sound rule, check.

Real database (SQLite, and PostgreSQL with TEST_DATABASE_URL), a real clip
composed of two real portraits, the real engine; the queue runs in memory
and ``run_jobs`` runs the jobs. The published file is judged on its own:
PyAV for sound and metadata, the project's detector and matcher per frame.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import av
import numpy as np
import pytest
from sqlalchemy import select

from bench.videoclip import compose_clip
from consentflow.consent.service import record_consent
from consentflow.faces.matching import MatchThresholds
from consentflow.jobs import enqueue
from consentflow.models import (
    AuditEvent,
    Face,
    PhotoPurpose,
    Publication,
    TakedownTask,
    VideoTrack,
    utcnow,
)
from consentflow.photos.crypto import cipher_from_config
from consentflow.photos.storage import storage_from_config
from consentflow.photos.video import local_copy
from consentflow.privacy.service import erase_person, remaining_encodings, subject_access_data
from consentflow.publish.background import request_publication
from consentflow.publish.redact import SOLID_FILL, head_region
from consentflow.publish.redaction import set_face_redaction
from consentflow.publish.refusals import refusal_panels
from consentflow.publish.service import PublicationRefused, approve_purpose
from consentflow.publish.video import (
    prepare_video,
    preview_key,
    record_video_publication,
    render_and_check,
    set_keep_audio,
)
from consentflow.review.crops import crop_key
from consentflow.review.rules import decide_channels, resolve_faces
from consentflow.review.service import record_review
from consentflow.video.analyse import VideoSettings
from tests.jobs.photo_helpers import ACTOR, enrol, photo, run_jobs, upload
from tests.jobs.video_helpers import (
    ACTORS,
    FPS,
    HEIGHT,
    SECONDS,
    WIDTH,
    frame_distances,
    leaked_metadata,
    make_clip,
    portrait_encoding,
    streams_and_metadata,
)
from tests.services.test_publish_support import build_world, consent

pytestmark = [pytest.mark.slow]
WEB = "website"


@pytest.fixture(scope="module")
def clip_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_clip(tmp_path_factory.mktemp("clip") / "musical.mp4")


def _world(db_session, app, clip_bytes, *, biden_video: bool, name: str = "musical.mp4"):
    """Two enrolled people; Obama may be in website videos, Biden in website PHOTOS only."""
    w = build_world(db_session, app)
    now = utcnow()
    w.year.starts_on = (now - timedelta(days=30)).date()
    w.year.ends_on = (now + timedelta(days=300)).date()
    consent(db_session, w, w.obama, {"website.photo", "website.video", "face_matching"},
            at=now - timedelta(days=3))
    biden = {"website.photo", "face_matching"} | ({"website.video"} if biden_video else set())
    consent(db_session, w, w.biden, biden, at=now - timedelta(days=3))
    enrol(app, db_session, w.school, w.obama, "obama2.jpg")
    enrol(app, db_session, w.school, w.biden, "biden.jpg")
    db_session.commit()
    [result] = upload(app, db_session, w.album, [(name, clip_bytes)])
    assert result.status == "accepted" and result.video
    run_jobs(app)
    return w, photo(db_session, result.photo_id)


def _tracks(db_session, video_id):
    return list(db_session.scalars(select(VideoTrack).where(VideoTrack.photo_id == video_id)
                                   .order_by(VideoTrack.number)))


def _confirm_and_approve(db_session, w, video, now) -> PhotoPurpose:
    """Every track's suggestion confirmed two hours ago, the website use approved one hour ago."""
    for face in db_session.scalars(select(Face).where(Face.photo_id == video.id)):
        record_review(db_session, actor=w.actor, school_id=w.school.id, face_id=face.id,
                      kind="confirm", expected_version=None, now=now - timedelta(hours=2))
    return approve_purpose(db_session, actor=w.actor, school_id=w.school.id, photo_id=video.id,
                           channel=WEB, expected_version=None, now=now - timedelta(hours=1))


def _review_and_publish(app, db_session, w, video, *, keep_audio: bool) -> Publication:
    now = utcnow()
    pp = _confirm_and_approve(db_session, w, video, now)
    assert pp.status == "approved"
    set_keep_audio(db_session, actor=w.actor, school_id=w.school.id, photo_id=video.id,
                   channel=WEB, keep=keep_audio, now=now)
    request_publication(db_session, actor=w.actor, school_id=w.school.id, photo_id=video.id,
                        channel=WEB, channel_note=None, now=utcnow())
    db_session.commit()
    enqueue("publish_purpose", pp.id)
    run_jobs(app)
    pp = db_session.get(PhotoPurpose, pp.id)
    assert pp.refusal is None, pp.refusal
    assert pp.status != "publishing", [(e.action, e.details) for e in db_session.scalars(select(AuditEvent))][-4:]
    [publication] = db_session.scalars(select(Publication).where(Publication.photo_id == video.id))
    return publication


def test_video_is_processed_into_tracks_matched_like_photo_faces(app, db_session, clip_bytes):
    w, video = _world(db_session, app, clip_bytes, biden_video=False)
    assert video.state == "needs_review"
    assert (video.width, video.height) == (640, 360)
    assert video.progress_done == video.progress_total == 25
    tracks = _tracks(db_session, video.id)
    assert len(tracks) == 2
    suggested = {t.face.matched_person_id for t in tracks}
    assert suggested == {w.obama.id, w.biden.id}
    for track in tracks:
        assert track.first_frame == 0 and track.last_frame == 24
        assert track.face.encoding_encrypted is not None  # matched: kept, encrypted
        storage = storage_from_config(app.config)
        assert storage.exists(track.boxes_key)
    # The decision rule asks "<channel>.video": Biden's photo consent does not count.
    resolved = resolve_faces(db_session, video.id)
    by_person = {d.resolved.suggested_person_id: (d.decision, d.basis) for d in
                 decide_channels(db_session, resolved, [WEB], utcnow().date())[WEB]}
    assert by_person[w.biden.id] == ("blur_no_consent", "no_consent")
    # A suggestion only, until a reviewer confirms it.
    assert by_person[w.obama.id] == ("blur_unknown", "awaiting_confirmation")


def test_an_avi_from_an_older_camera_is_processed_like_an_mp4(app, db_session, tmp_path: Path):
    """The upload accepts AVI (MPEG-4 part 2, PCM sound), so the engine must not refuse it later."""
    avi = tmp_path / "musical.avi"
    compose_clip(avi, ACTORS, WIDTH, HEIGHT, FPS, SECONDS, audio=True)
    w, video = _world(db_session, app, avi.read_bytes(), biden_video=False, name="musical.avi")
    assert video.state == "needs_review", video.failure_reason
    assert video.progress_done == video.progress_total == 25
    tracks = _tracks(db_session, video.id)
    assert {t.face.matched_person_id for t in tracks} == {w.obama.id, w.biden.id}


def test_published_video_blurs_the_unconsented_person_in_every_frame_and_drops_sound(
        app, db_session, clip_bytes, tmp_path: Path):
    w, video = _world(db_session, app, clip_bytes, biden_video=False)
    publication = _review_and_publish(app, db_session, w, video, keep_audio=True)
    path = tmp_path / "published.mp4"
    path.write_bytes(storage_from_config(app.config).read(publication.derivative_key))
    # Sound: the reviewer asked to keep it, but Biden may not be in this video: dropped.
    assert publication.video_snapshot["audio"] == {
        "requested": True, "kept": False, "rule": publication.video_snapshot["audio"]["rule"]}
    kinds, meta = streams_and_metadata(path)
    assert kinds == ["video"]
    assert leaked_metadata(meta) == []
    # Independent check: the project's matcher never recognises Biden, on any frame.
    loose = MatchThresholds.defaults().loose
    biden = frame_distances(path, portrait_encoding("biden.jpg"))
    assert len(biden) == 25
    assert min(biden) > loose, biden
    # Obama is shown and recognisable on (nearly) every frame.
    obama = frame_distances(path, portrait_encoding("obama2.jpg"))
    assert sum(d < loose for d in obama) >= 20, obama
    # The snapshot names both tracks with their consent basis and time range.
    entries = {e["person_id"]: e for e in publication.snapshot}
    assert entries[w.biden.id]["decision"] == "blur_no_consent"
    assert entries[w.obama.id]["decision"] == "show"
    assert entries[w.obama.id]["consent_record_id"] is not None
    assert entries[w.obama.id]["track"] in (1, 2) and entries[w.obama.id]["to"] > 2.0
    assert db_session.scalar(select(AuditEvent.id).where(AuditEvent.action == "video.published"))


def test_sound_is_kept_only_when_asked_and_everyone_may_be_in_the_video(
        app, db_session, clip_bytes, tmp_path: Path):
    w, video = _world(db_session, app, clip_bytes, biden_video=True)
    publication = _review_and_publish(app, db_session, w, video, keep_audio=True)
    path = tmp_path / "published.mp4"
    path.write_bytes(storage_from_config(app.config).read(publication.derivative_key))
    kinds, meta = streams_and_metadata(path)
    assert kinds == ["video", "audio"]
    assert publication.video_snapshot["audio"]["kept"] is True
    assert leaked_metadata(meta) == []
    assert {e["decision"] for e in publication.snapshot} == {"show"}


def test_withdrawing_video_consent_takes_the_video_down_and_export_and_erasure_cover_it(
        app, db_session, clip_bytes):
    w, video = _world(db_session, app, clip_bytes, biden_video=False)
    publication = _review_and_publish(app, db_session, w, video, keep_audio=False)
    at = utcnow()
    # Withdrawing PHOTO consent does not touch the video; withdrawing VIDEO consent does.
    record_consent(db_session, actor=ACTOR, person_id=w.obama.id, school_year_id=w.year.id,
                   form_id=w.form.id, decisions={"website.photo": False, "website.video": True,
                                                 "face_matching": True},
                   signer_kind="self", signer_guardian_id=None, signer_name=None,
                   method="in_person", signed_at=at, evidence=None, evidence_filename=None,
                   storage_dir=app.config["STORAGE_DIR"], now=at)
    db_session.flush()
    assert db_session.scalars(select(TakedownTask)).all() == []
    record_consent(db_session, actor=ACTOR, person_id=w.obama.id, school_year_id=w.year.id,
                   form_id=w.form.id, decisions={"website.photo": False, "website.video": False,
                                                 "face_matching": True},
                   signer_kind="self", signer_guardian_id=None, signer_name=None,
                   method="in_person", signed_at=at, evidence=None, evidence_filename=None,
                   storage_dir=app.config["STORAGE_DIR"], now=at + timedelta(seconds=1))
    db_session.flush()
    [task] = db_session.scalars(select(TakedownTask)).all()
    assert (task.publication_id, task.person_id) == (publication.id, w.obama.id)
    # Subject access lists the video, its seconds and the publication.
    data = subject_access_data(db_session, w.school.id, w.obama.id)
    [seen] = [p for p in data["photos_matched"] if p["photo_id"] == video.id]
    assert seen["media"] == "video" and seen["seconds"][1] > 2.0
    assert [p["media"] for p in data["publications"]] == ["video"]
    # Erasure removes the track encodings and the crops and frame boxes of the video.
    storage = storage_from_config(app.config)
    track = next(t for t in _tracks(db_session, video.id) if t.face.matched_person_id == w.biden.id)
    crop = crop_key(video, track.face)
    assert storage.exists(crop) and storage.exists(track.boxes_key)
    erase_person(db_session, actor=ACTOR, school_id=w.school.id, person_id=w.biden.id,
                 now=utcnow(), storage=storage)
    db_session.flush()
    assert remaining_encodings(db_session, w.school.id, w.biden.id) == 0
    assert db_session.get(Face, track.face_id).encoding_encrypted is None
    assert not storage.exists(crop) and not storage.exists(track.boxes_key)


def test_a_render_that_leaves_a_face_recognisable_is_refused_naming_track_and_time(
        app, db_session, clip_bytes, tmp_path: Path):
    """The check runs on the rendered file: a render without blur is caught and nothing published."""
    w, video = _world(db_session, app, clip_bytes, biden_video=False)
    now = utcnow()
    _confirm_and_approve(db_session, w, video, now)
    storage = storage_from_config(app.config)
    plan = prepare_video(db_session, actor=w.actor, school_id=w.school.id, photo_id=video.id,
                         channel=WEB, storage=storage, now=now,
                         cipher=cipher_from_config(app.config))
    biden_track = next(t.number for t in _tracks(db_session, video.id)
                       if t.face.matched_person_id == w.biden.id)
    assert [t.id for t in plan.blurred_tracks] == [biden_track]
    # Simulate a renderer that forgot the blur: the check must catch it on the file.
    broken = replace(plan, blur={})
    with local_copy(storage, plan.storage_key) as source:
        result = render_and_check(broken, source, str(tmp_path / "out.mp4"), VideoSettings(),
                                  MatchThresholds.defaults().loose)
    assert not result.check.passed
    with pytest.raises(PublicationRefused) as refused:
        record_video_publication(db_session, actor=w.actor, school_id=w.school.id, plan=plan,
                                 result=result, storage=storage, now=utcnow())
    assert f"track {biden_track} at 0:0" in str(refused.value)
    db_session.commit()
    pp = db_session.scalar(select(PhotoPurpose).where(PhotoPurpose.photo_id == video.id))
    assert pp.status == "pending" and pp.refusal["code"] == "video_leak"
    # On Biden's track's region, or resembling Biden's own portrait: nobody else.
    assert {leak["track"] for leak in pp.refusal["leaks"]} - {None} == {biden_track}
    assert {leak["person_id"] for leak in pp.refusal["leaks"]} - {None} <= {w.biden.id}
    assert all(leak["time"] is not None for leak in pp.refusal["leaks"])
    assert photo(db_session, video.id).state == "needs_review"
    assert db_session.scalars(select(Publication)).all() == []
    assert db_session.scalar(select(AuditEvent.id).where(AuditEvent.action == "video.leak"))
    # The refusal offers the track's face the stronger redactions (no hand-drawn box on a video).
    biden_face = next(t.face_id for t in _tracks(db_session, video.id) if t.number == biden_track)
    with app.test_request_context():
        [panel] = refusal_panels(db_session, photo(db_session, video.id))
    remedies = {leak["face_id"]: leak["remedies"] for leak in panel["leaks"]}
    assert remedies[biden_face] == ["wide", "solid", "block"]
    assert panel["block_label"] == "Block the video for this purpose"


def test_a_track_covered_with_a_solid_block_is_grey_on_every_frame_it_covers(
        app, db_session, clip_bytes, tmp_path: Path):
    """The remedy for a refused video: the reviewer's stronger redaction applies to the whole track."""
    w, video = _world(db_session, app, clip_bytes, biden_video=False)
    now = utcnow()
    _confirm_and_approve(db_session, w, video, now)
    biden = next(t for t in _tracks(db_session, video.id) if t.face.matched_person_id == w.biden.id)
    before, _audio = preview_key(db_session, photo(db_session, video.id), WEB, now)
    set_face_redaction(db_session, actor=w.actor, school_id=w.school.id, face_id=biden.face_id,
                       mode="solid", now=now)
    after, _audio = preview_key(db_session, photo(db_session, video.id), WEB, now)
    assert after != before  # the preview shows the new choice, not an older render
    storage = storage_from_config(app.config)
    plan = prepare_video(db_session, actor=w.actor, school_id=w.school.id, photo_id=video.id,
                         channel=WEB, storage=storage, now=now, cipher=cipher_from_config(app.config))
    biden_boxes = {frame: box for frame, boxes in plan.blur.items() for box in boxes
                   if plan.how.get(box) == "solid"}
    assert len(biden_boxes) == biden.last_frame - biden.first_frame + 1
    out = tmp_path / "out.mp4"
    with local_copy(storage, plan.storage_key) as source:
        result = render_and_check(plan, source, str(out), VideoSettings(), MatchThresholds.defaults().loose)
    assert result.check.passed
    with av.open(str(out)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            box = biden_boxes[index]
            pixels = frame.to_ndarray(format="rgb24")
            region = head_region(box, pixels.shape[1], pixels.shape[0], "solid")
            inner = pixels[region.top + 4:region.bottom - 4, region.left + 4:region.right - 4]
            # H.264 moves a flat grey by a few levels (more where its colour blocks meet the edge).
            off = np.abs(inner.astype(int) - np.array(SOLID_FILL)).max(axis=2)
            assert (off <= 6).mean() >= 0.98, index
    publication = record_video_publication(db_session, actor=w.actor, school_id=w.school.id, plan=plan,
                                           result=result, storage=storage, now=utcnow())
    redactions = {e["face_id"]: e["redaction"] for e in publication.snapshot}
    assert redactions[biden.face_id] == "solid"  # the publication record says how the track was hidden
