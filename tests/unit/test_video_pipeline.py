"""The whole video path on a clip made of real faces: tracks, coverage, render, verify, match.

Real detector (CenterFace), real dlib encodings, real libx264. The clip
is 640x360, 12 fps, 3.5 s (42 frames): detection runs on every 2nd frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from bench.videoclip import Actor, TruthBox, compose_clip, face_box
from consentflow.faces.engine import EngineSettings, FaceBox, encode_faces
from consentflow.faces.matching import MatchThresholds, ReferenceIndex
from consentflow.video.analyse import VideoAnalysis, VideoSettings, analyse_video, match_tracks
from consentflow.video.decode import iter_frames, probe_video
from consentflow.video.render import RenderedVideo, render_video
from consentflow.video.tracking import Track, boxes_per_frame
from consentflow.video.verify import verify_video
from tests.unit.video_support import (
    ACTORS,
    BIDEN,
    FACES,
    FPS,
    HEIGHT,
    OBAMA,
    OBAMA2,
    SECONDS,
    WIDTH,
    uncovered,
)

LOOSE_THRESHOLD = MatchThresholds.defaults().loose
STRICT_THRESHOLD = MatchThresholds.defaults().strict

pytestmark = pytest.mark.slow

SECRET_METADATA = {
    "title": "Secret musical groep 7",
    "comment": "Secret recorded by juf Anne",
    "creation_time": "2021-06-01T10:00:00Z",
    "location": "+52.3702+004.8952/",
    "handler_name": "SecretCam",
}
SETTINGS = VideoSettings()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("video")


@pytest.fixture(scope="module")
def clip(workdir: Path) -> tuple[Path, dict[int, list[TruthBox]]]:
    path = workdir / "musical.mp4"
    truth = compose_clip(path, ACTORS, WIDTH, HEIGHT, FPS, SECONDS, audio=True,
                         metadata=SECRET_METADATA)
    return path, truth


@pytest.fixture(scope="module")
def analysis(clip: tuple[Path, dict[int, list[TruthBox]]]) -> VideoAnalysis:
    return analyse_video(clip[0], SETTINGS)


def tracks_of(actor: int, analysis: VideoAnalysis, truth: dict[int, list[TruthBox]]) -> list[Track]:
    """The tracks whose detections lie on this actor's ground-truth face."""
    found = []
    for track in analysis.tracks:
        hits = 0
        for det in track.detections:
            for face in truth[det.frame]:
                cx, cy = (det.box.left + det.box.right) / 2, (det.box.top + det.box.bottom) / 2
                if face.actor == actor and face.left <= cx <= face.right and face.top <= cy <= face.bottom:
                    hits += 1
        if hits * 2 > len(track.detections):
            found.append(track)
    return found


def reference(image: str, box: tuple[int, int, int, int]) -> np.ndarray:
    with Image.open(FACES / image) as photo:
        face = FaceBox(*box, score=1.0, detector="annotation")
        return encode_faces(photo.convert("RGB"), [face], EngineSettings())[0]


def distances_on_video(path: Path, truth: dict[int, list[TruthBox]], actor: int,
                       person: np.ndarray, step: int = 2) -> list[float]:
    """The matcher's distance to ``person`` at the actor's true face, frame by frame."""
    info = probe_video(path)
    result = []
    for frame in iter_frames(path, info, every=step):
        for face in truth[frame.index]:
            if face.actor == actor and face.visible >= 0.9:
                box = FaceBox(face.left, face.top, face.right, face.bottom, 1.0, "truth")
                encoding = encode_faces(Image.fromarray(frame.pixels), [box], SETTINGS.engine)[0]
                result.append(float(np.linalg.norm(encoding - person)))
    return result


def render(analysis: VideoAnalysis, source: Path, dest: Path, blurred: Sequence[Track],
           keep_audio: bool = False) -> RenderedVideo:
    return render_video(source, dest, analysis.info, boxes_per_frame(blurred), keep_audio)


def test_the_sampling_step_follows_the_frame_rate(analysis: VideoAnalysis) -> None:
    assert analysis.step == 2  # 12 fps / 6 detections per second
    assert SETTINGS.step(30.0) == 5
    assert SETTINGS.step(60.0) == 10
    assert analysis.frame_count == round(FPS * SECONDS)


def test_every_face_has_a_track_with_times_and_encodings(analysis, clip) -> None:  # type: ignore[no-untyped-def]
    _, truth = clip
    for actor in (OBAMA, BIDEN, OBAMA2):
        tracks = tracks_of(actor, analysis, truth)
        assert tracks, actor
        assert all(t.encodings for t in tracks)
        assert all(t.crop is not None and t.crop.size for t in tracks)
    entering = tracks_of(OBAMA2, analysis, truth)
    assert min(t.first_time for t in entering) <= 1.5


def test_every_face_is_covered_on_every_frame(analysis, clip) -> None:  # type: ignore[no-untyped-def]
    _, truth = clip
    blur = boxes_per_frame(analysis.tracks)
    assert uncovered(truth, blur, {OBAMA, BIDEN, OBAMA2}) == []
    # Faces are on screen on every frame: the check above ran on all 42.
    assert sum(1 for boxes in truth.values() if boxes) == len(truth) == 42


@pytest.fixture(scope="module")
def all_blurred(analysis: VideoAnalysis, clip, workdir: Path) -> RenderedVideo:  # type: ignore[no-untyped-def]
    return render(analysis, clip[0], workdir / "all_blurred.mp4", analysis.tracks)


def test_the_rendered_video_is_a_plain_browser_mp4(all_blurred: RenderedVideo) -> None:
    data = all_blurred.path.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # faststart
    with av.open(str(all_blurred.path)) as container:
        assert container.format.name.startswith("mov,mp4")
        video = container.streams.video[0]
        assert (video.codec_context.name, video.codec_context.pix_fmt) == ("h264", "yuv420p")
        assert (video.width, video.height) == (WIDTH, HEIGHT)
        frames = list(container.decode(video))
    assert len(frames) == all_blurred.frames == 42
    assert all(frame.rotation == 0 for frame in frames)


def test_sound_is_dropped_unless_kept(analysis: VideoAnalysis, clip, workdir: Path,  # type: ignore[no-untyped-def]
                                      all_blurred: RenderedVideo) -> None:
    with av.open(str(clip[0])) as source:
        assert len(source.streams.audio) == 1
    with av.open(str(all_blurred.path)) as dropped:
        assert len(dropped.streams.audio) == 0
    kept = render(analysis, clip[0], workdir / "with_sound.mp4", analysis.tracks, keep_audio=True)
    assert kept.has_audio
    with av.open(str(kept.path)) as container:
        assert [s.codec_context.name for s in container.streams.audio] == ["aac"]
        audio = sum(frame.samples for frame in container.decode(audio=0))
    assert audio >= 48000 * (SECONDS - 0.2)


def test_no_metadata_of_the_source_survives(clip, all_blurred: RenderedVideo) -> None:  # type: ignore[no-untyped-def]
    with av.open(str(clip[0])) as source:
        assert source.metadata["title"] == SECRET_METADATA["title"]  # the test clip carries it
    data = all_blurred.path.read_bytes()
    for secret in (b"Secret", b"+52.37", b"2021-06-01", b"juf Anne", b"Lavf"):
        assert secret not in data
    with av.open(str(all_blurred.path)) as container:
        assert not {"title", "comment", "creation_time", "location", "encoder"} & set(container.metadata)
        for stream in container.streams:
            assert not {"title", "comment", "creation_time", "location"} & set(stream.metadata)
            assert stream.metadata.get("handler_name") != "SecretCam"


def test_the_verifier_passes_the_redacted_video(analysis: VideoAnalysis,
                                                all_blurred: RenderedVideo) -> None:
    result = verify_video(all_blurred.path, analysis.tracks, SETTINGS.engine, LOOSE_THRESHOLD, step=2)
    assert result.frames_checked == 22  # every 2nd frame, and the last
    assert result.passed, result.leaks


def test_the_matcher_does_not_recognise_anyone_blurred(clip, all_blurred: RenderedVideo) -> None:  # type: ignore[no-untyped-def]
    _, truth = clip
    for actor, image in ((OBAMA, "obama.jpg"), (BIDEN, "biden.jpg")):
        person = reference(image, face_box(FACES / image))
        on_source = distances_on_video(clip[0], truth, actor, person, step=6)
        assert max(on_source) < STRICT_THRESHOLD  # recognisable before redaction
        on_rendered = distances_on_video(all_blurred.path, truth, actor, person)
        assert len(on_rendered) >= 15
        assert min(on_rendered) >= LOOSE_THRESHOLD


def test_a_kept_face_stays_recognisable(analysis: VideoAnalysis, clip, workdir: Path) -> None:  # type: ignore[no-untyped-def]
    source, truth = clip
    blurred = tracks_of(BIDEN, analysis, truth)
    rendered = render(analysis, source, workdir / "biden_blurred.mp4", blurred)
    obama = reference("obama.jpg", face_box(FACES / "obama.jpg"))
    biden = reference("biden.jpg", face_box(FACES / "biden.jpg"))
    assert max(distances_on_video(rendered.path, truth, OBAMA, obama)) < STRICT_THRESHOLD
    assert min(distances_on_video(rendered.path, truth, BIDEN, biden)) >= LOOSE_THRESHOLD
    result = verify_video(rendered.path, blurred, SETTINGS.engine, LOOSE_THRESHOLD, step=2)
    assert result.passed, result.leaks
    assert result.faces_seen > 0  # the kept faces were seen, and are no leak


def test_the_verifier_names_the_track_and_time_of_a_leak(analysis: VideoAnalysis, clip,  # type: ignore[no-untyped-def]
                                                         workdir: Path) -> None:
    # Render WITHOUT blurring, then verify as if every track had been blurred.
    source, truth = clip
    unblurred = render(analysis, source, workdir / "nothing_blurred.mp4", [])
    result = verify_video(unblurred.path, analysis.tracks, SETTINGS.engine, LOOSE_THRESHOLD, step=2)
    assert not result.passed
    biden_ids = {t.id for t in tracks_of(BIDEN, analysis, truth)}
    leaks = [leak for leak in result.leaks if leak.track_id in biden_ids]
    assert {leak.reason for leak in leaks} == {"on_blurred_region", "matches_blurred_track"}
    first = min(leaks, key=lambda leak: leak.frame)
    assert first.time == pytest.approx(first.frame / FPS)


def test_tracks_are_matched_like_photo_faces(analysis: VideoAnalysis, clip) -> None:  # type: ignore[no-untyped-def]
    _, truth = clip
    obama, biden = face_box_pair()
    index = ReferenceIndex([(1, obama), (2, biden)])
    outcomes = dict(zip((t.id for t in analysis.tracks),
                        match_tracks(analysis.tracks, index, MatchThresholds.defaults())))
    for track in tracks_of(BIDEN, analysis, truth):
        assert outcomes[track.id].status == "matched"
        assert outcomes[track.id].person_id == 2
    # Obama is on screen twice at once (obama.jpg and obama2.jpg): one person
    # is at most one track at a time, the other track goes to a reviewer.
    both = tracks_of(OBAMA, analysis, truth) + tracks_of(OBAMA2, analysis, truth)
    assert any(outcomes[t.id].person_id == 1 for t in both)
    overlapping_matched = [
        (a.id, b.id) for a in both for b in both
        if a.id < b.id and outcomes[a.id].person_id == outcomes[b.id].person_id == 1
        and a.first_frame <= b.last_frame and b.first_frame <= a.last_frame
    ]
    assert overlapping_matched == []


def face_box_pair() -> tuple[np.ndarray, np.ndarray]:
    """Obama and Biden from two_people.jpg (other photos than the clip's)."""
    with Image.open(FACES / "two_people.jpg") as photo:
        rgb = photo.convert("RGB")
    boxes = [FaceBox(230, 21, 390, 231, 1.0, "annotation"), FaceBox(781, 39, 951, 269, 1.0, "annotation")]
    obama, biden = encode_faces(rgb, boxes, EngineSettings())
    return obama, biden


def test_a_rotated_phone_clip_is_covered_in_display_coordinates(workdir: Path) -> None:
    actor = Actor(FACES / "biden.jpg", start=(150, 120), end=(450, 220), width=(70, 90))
    path = workdir / "portrait.mp4"
    truth = compose_clip(path, (actor,), WIDTH, HEIGHT, FPS, 2.0, rotation=270)
    result = analyse_video(path, SETTINGS)
    assert (result.info.rotation, result.info.width, result.info.height) == (270, WIDTH, HEIGHT)
    assert result.tracks
    assert uncovered(truth, boxes_per_frame(result.tracks), {0}) == []
    rendered = render_video(path, workdir / "portrait_out.mp4", result.info,
                            boxes_per_frame(result.tracks), keep_audio=False)
    assert (rendered.width, rendered.height) == (WIDTH, HEIGHT)
