"""Decoding: accepted containers, rotation, limits, and hostile files refused with a clear error."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from bench.videoclip import Actor, compose_clip
from consentflow.video.decode import (
    MESSAGES,
    VideoLimits,
    VideoRejected,
    iter_frames,
    probe_video,
)
from tests.unit.video_support import FACES


def plain_clip(path: Path, **kwargs: object) -> Path:
    params: dict[str, object] = {"width": 160, "height": 96, "fps": 10, "seconds": 2.0}
    params.update(kwargs)
    compose_clip(path, (), **params)  # type: ignore[arg-type]
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return plain_clip(tmp_path_factory.mktemp("decode") / "clip.mp4")


def refused(path: Path, limits: VideoLimits = VideoLimits()) -> VideoRejected:
    """The refusal, from the cheap probe or at the latest from the decode pass."""
    with pytest.raises(VideoRejected) as caught:
        info = probe_video(path, limits)
        for _ in iter_frames(path, info, limits):
            pass
    return caught.value


@pytest.mark.parametrize("suffix", [".mp4", ".mov", ".webm", ".mkv", ".avi"])
def test_the_allowed_containers_decode_every_frame(tmp_path: Path, suffix: str) -> None:
    path = plain_clip(tmp_path / f"clip{suffix}", seconds=1.0)
    info = probe_video(path)
    assert (info.width, info.height, info.fps) == (160, 96, 10.0)
    frames = list(iter_frames(path, info))
    assert len(frames) == 10
    assert frames[0].pixels.shape == (96, 160, 3)


def test_a_webm_named_mp4_is_judged_by_its_content(tmp_path: Path) -> None:
    webm = plain_clip(tmp_path / "clip.webm", seconds=1.0)
    renamed = tmp_path / "holiday.mp4"
    renamed.write_bytes(webm.read_bytes())
    assert probe_video(renamed).container == "matroska"


def test_rotation_metadata_is_honoured(tmp_path: Path) -> None:
    # A phone's portrait clip: pixels stored sideways plus a display matrix.
    actor = Actor(FACES / "obama.jpg", start=(40, 30), end=(40, 30), width=(30, 30))
    upright, rotated = tmp_path / "upright.mp4", tmp_path / "rotated.mp4"
    compose_clip(upright, (actor,), 160, 96, 10, 0.5)
    compose_clip(rotated, (actor,), 160, 96, 10, 0.5, rotation=90)
    info = probe_video(rotated)
    assert info.rotation == 90
    assert (info.width, info.height) == (160, 96)
    frame = next(iter_frames(rotated, info)).pixels.astype(np.int16)
    reference = next(iter_frames(upright, probe_video(upright))).pixels.astype(np.int16)
    assert frame.shape == reference.shape == (96, 160, 3)
    # Turned the right way round: the same picture, not its 180-degree turn.
    assert np.abs(frame - reference).mean() < 6
    assert np.abs(frame - reference[::-1, ::-1]).mean() > 15


def test_every_refusal_has_an_english_message() -> None:
    for code, message in MESSAGES.items():
        assert message.endswith(".") and len(message) > 15, code


def test_zero_length_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    assert refused(path).code == "empty"


def test_html_renamed_mp4(tmp_path: Path) -> None:
    path = tmp_path / "page.mp4"
    path.write_bytes(b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>\n" * 40)
    assert refused(path).code == "unreadable"


def test_a_photo_with_a_video_extension(tmp_path: Path) -> None:
    path = tmp_path / "photo.mp4"
    path.write_bytes((FACES / "obama.jpg").read_bytes())
    error = refused(path)
    assert error.code == "container_not_allowed"
    assert error.message == MESSAGES["container_not_allowed"]


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_a_truncated_file_is_refused_before_decoding(clip: Path, tmp_path: Path, keep: float) -> None:
    data = clip.read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(VideoRejected) as caught:
        probe_video(path)
    assert caught.value.code in {"damaged", "unreadable"}


def test_a_truncated_file_without_faststart_has_no_index(tmp_path: Path) -> None:
    clip = plain_clip(tmp_path / "slow.mp4", faststart=False)
    data = clip.read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: len(data) // 2])
    assert refused(path).code == "unreadable"


@pytest.mark.parametrize("suffix", [".webm", ".avi"])
def test_a_truncated_webm_or_avi_decodes_too_few_frames(tmp_path: Path, suffix: str) -> None:
    clip = plain_clip(tmp_path / f"clip{suffix}")
    data = clip.read_bytes()
    path = tmp_path / f"cut{suffix}"
    path.write_bytes(data[: len(data) // 2])
    assert refused(path).code in {"damaged", "unreadable"}


@pytest.mark.parametrize("region", ["header", "body"])
def test_bit_flipped_files_are_refused(clip: Path, tmp_path: Path, region: str) -> None:
    data = bytearray(clip.read_bytes())
    rng = random.Random(1)
    if region == "header":
        positions = range(0, 400, 7)
    else:
        positions = [rng.randrange(len(data) // 4, len(data)) for _ in range(200)]
    for position in positions:
        data[position] ^= 0xFF
    path = tmp_path / f"flipped-{region}.mp4"
    path.write_bytes(bytes(data))
    assert refused(path).code in {"damaged", "unreadable"}


@pytest.mark.parametrize(("limits", "code"), [
    (VideoLimits(max_long_side=128), "too_large_resolution"),
    (VideoLimits(max_short_side=64), "too_large_resolution"),
    (VideoLimits(max_fps=5), "frame_rate"),
    (VideoLimits(max_seconds=1.0), "too_long"),
    (VideoLimits(max_bitrate=1000), "bitrate"),
])
def test_limits_are_checked_on_the_header(clip: Path, limits: VideoLimits, code: str) -> None:
    with pytest.raises(VideoRejected) as caught:
        probe_video(clip, limits)
    assert caught.value.code == code


def test_decoding_stops_at_its_deadline(clip: Path) -> None:
    limits = VideoLimits(decode_seconds_per_second=0.0, decode_min_seconds=0.0)
    info = probe_video(clip, limits)
    with pytest.raises(VideoRejected) as caught:
        list(iter_frames(clip, info, limits))
    assert caught.value.code == "too_slow"


def test_the_default_limits() -> None:
    limits = VideoLimits()
    assert (limits.max_seconds, limits.max_long_side, limits.max_short_side) == (600.0, 3840, 2160)
    assert (limits.max_fps, limits.max_bitrate) == (60.0, 50_000_000)


def test_every_refusal_has_a_label_with_the_same_english_and_a_dutch_translation() -> None:
    from babel.messages.pofile import read_po

    from consentflow.labels import LABELS

    labels = LABELS["video_rejected"]
    assert set(labels) == set(MESSAGES)
    catalogue_path = Path(__file__).resolve().parents[2] / "consentflow" / "translations" / "nl" \
        / "LC_MESSAGES" / "messages.po"
    with catalogue_path.open("rb") as handle:
        catalogue = read_po(handle)
    for code, english in MESSAGES.items():
        assert labels[code]._args[0] == english, code  # type: ignore[attr-defined]
        dutch = catalogue.get(english)
        assert dutch is not None and dutch.string and dutch.string != english, code


def test_a_stream_that_breaks_during_analysis_is_refused(clip: Path, tmp_path: Path) -> None:
    from consentflow.video.analyse import analyse_video

    data = bytearray(clip.read_bytes())
    rng = random.Random(1)
    for _ in range(200):
        data[rng.randrange(len(data) // 4, len(data))] ^= 0xFF
    path = tmp_path / "flipped.mp4"
    path.write_bytes(bytes(data))
    with pytest.raises(VideoRejected) as caught:
        analyse_video(path)
    assert caught.value.code == "damaged"
