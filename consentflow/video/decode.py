"""Open a video safely: limits, a hostile-file check before heavy work, upright frames.

A video is decoded by FFmpeg (through PyAV), which parses a great many
formats. Only three container families (MP4/MOV, WebM/MKV, AVI) and a few
codecs are let through, everything is decided on the container header and
the first decoded frame (``probe_video``), and every later decode runs
against a deadline so that a file that decodes pathologically slowly cannot
hold a worker.

Rotation: phones store portrait video as landscape pixels plus a display
matrix (MP4 side data; older files a ``rotate`` tag, which FFmpeg turns
into the same side data). FFmpeg reports it per frame; frames are turned
upright here, so every face box in this package is in display coordinates.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import av.error
import numpy as np
import numpy.typing as npt

from consentflow.photos.imaging import CodedRejection

RGBArray = npt.NDArray[np.uint8]

# FFmpeg demuxer names: MP4/MOV/3GP share one demuxer, WebM/MKV another.
# AVI is what older school cameras record (MPEG-4 part 2 inside); the upload
# accepts it, so the engine must too, or a school's file fails after upload.
ALLOWED_CONTAINERS: dict[str, str] = {
    "mov,mp4,m4a,3gp,3g2,mj2": "mp4",
    "matroska,webm": "matroska",
    "avi": "avi",
}
# What phones, cameras and browsers record. MPEG-4 part 2 covers old cameras.
ALLOWED_CODECS = frozenset({"h264", "hevc", "vp8", "vp9", "av1", "mpeg4"})

# English messages keyed by code; the UI translates them by code.
MESSAGES: dict[str, str] = {
    "empty": "The video file is empty.",
    "unreadable": "The file is not a video that can be read (MP4, MOV, WebM, MKV or AVI).",
    "container_not_allowed": "This video format is not accepted (use MP4, MOV, WebM, MKV or AVI).",
    "no_video": "The file contains no video track.",
    "codec_not_allowed": "The video is encoded in a format that is not accepted "
                         "(use H.264, HEVC, VP8, VP9 or AV1).",
    "too_large_resolution": "The video's resolution is larger than 3840x2160 (4K).",
    "frame_rate": "The video's frame rate is missing or higher than allowed.",
    "too_long": "The video is longer than allowed.",
    "bitrate": "The video's bitrate is higher than allowed.",
    "damaged": "The video is damaged and cannot be decoded completely.",
    "too_slow": "The video took too long to decode and was stopped.",
}


class VideoRejected(CodedRejection):
    """A video that may not be processed."""

    MESSAGES = MESSAGES


@dataclass(frozen=True)
class VideoLimits:
    """What a school video may be. Defaults and why:

    - 10 minutes: a performance or ceremony is published as clips; at the
      measured ~5-10 frames/s of processing a 10-minute 1080p30 clip is
      already 30-60 worker minutes (bench/README.md);
    - 3840x2160: 4K UHD, the most a current phone records; larger is a
      cinema or a crafted file;
    - 60 frames/s: phones' slow-motion modes (120/240) are refused rather
      than quadrupling the work;
    - 50 Mbit/s: above a phone's 4K30 H.264 (about 45 Mbit/s); higher is
      an intermediate codec or a decoder stress file;
    - ``probe_seconds``: opening and decoding the first frame must finish
      within this; ``decode_seconds_per_second`` (and at least
      ``decode_min_seconds``): the deadline of a full decode pass.
    """

    max_seconds: float = 600.0
    max_long_side: int = 3840
    max_short_side: int = 2160
    max_fps: float = 60.0
    max_bitrate: int = 50_000_000
    probe_seconds: float = 10.0
    decode_seconds_per_second: float = 20.0
    decode_min_seconds: float = 120.0

    def decode_budget(self, duration: float) -> float:
        """Seconds a full decode pass of a ``duration``-second video may take."""
        return max(self.decode_min_seconds, self.decode_seconds_per_second * duration)


@dataclass(frozen=True)
class VideoInfo:
    """What ``probe_video`` learnt. ``width``/``height`` are upright (display) sizes."""

    container: str
    codec: str
    width: int
    height: int
    rotation: int  # degrees counter-clockwise applied to decoded frames (0/90/180/270)
    fps: float
    duration: float | None  # seconds; None when the container does not say (live WebM)
    bitrate: int | None
    has_audio: bool

    @property
    def frame_count_estimate(self) -> int | None:
        return None if self.duration is None else math.ceil(self.duration * self.fps)


@dataclass(frozen=True, eq=False)
class Frame:
    """One decoded frame, upright RGB (H, W, 3); ``time`` in seconds from the start."""

    index: int
    time: float
    pixels: RGBArray


def open_video(path: Path) -> av.container.InputContainer:
    """Open a file with FFmpeg, or raise ``VideoRejected`` (empty, unreadable)."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise VideoRejected("unreadable", str(exc)) from exc
    if size == 0:
        raise VideoRejected("empty")
    try:
        return av.open(str(path), mode="r", timeout=5.0)
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise VideoRejected("unreadable", str(exc)) from exc


def _rotation(frame: av.VideoFrame) -> int:
    # FFmpeg gives -180..180 counter-clockwise; odd angles snap to a right angle.
    return int(round(float(frame.rotation) / 90.0)) % 4 * 90


def upright_rgb(frame: av.VideoFrame, rotation: int) -> RGBArray:
    # rgb24 is always 8-bit; asarray names the dtype for the type checker without a copy.
    rgb: RGBArray = np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
    if rotation:
        rgb = np.ascontiguousarray(np.rot90(rgb, k=rotation // 90))
    return rgb


def check_header(container: av.container.InputContainer, limits: VideoLimits) -> av.VideoStream:
    """The video stream, once container, codec, size, rate, duration and bitrate are allowed."""
    family = ALLOWED_CONTAINERS.get(container.format.name)
    if family is None:
        raise VideoRejected("container_not_allowed", container.format.name)
    if not container.streams.video:
        raise VideoRejected("no_video")
    stream = container.streams.video[0]
    codec = stream.codec_context.name if stream.codec_context else ""
    if codec not in ALLOWED_CODECS:
        raise VideoRejected("codec_not_allowed", codec)
    width, height = int(stream.width or 0), int(stream.height or 0)
    if width <= 0 or height <= 0:
        raise VideoRejected("unreadable", "no frame size")
    if max(width, height) > limits.max_long_side or min(width, height) > limits.max_short_side:
        raise VideoRejected("too_large_resolution", f"{width}x{height}")
    rate = stream.average_rate or stream.guessed_rate
    if not rate or float(rate) <= 0 or float(rate) > limits.max_fps:
        raise VideoRejected("frame_rate", str(rate))
    duration = _duration(container, stream)
    if duration is not None and duration > limits.max_seconds:
        raise VideoRejected("too_long", f"{duration:.1f} s")
    bitrate = container.bit_rate or None
    if bitrate is not None and bitrate > limits.max_bitrate:
        raise VideoRejected("bitrate", str(bitrate))
    return stream


def _duration(container: av.container.InputContainer, stream: av.VideoStream) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    return None


def _check_complete(
    container: av.container.InputContainer, stream: av.VideoStream, started: float,
    limits: VideoLimits,
) -> None:
    """Read (not decode) every packet: a truncated file is refused before any heavy work.

    MP4/MOV (and AVI, in its stream header) count every frame up front
    (``stream.frames``); fewer packets in the file than counted means the
    data was cut off.
    """
    expected = int(stream.frames or 0)
    seen = 0
    try:
        for packet in container.demux(stream):
            if time.monotonic() - started > limits.probe_seconds:
                raise VideoRejected("too_slow", "reading packets")
            if packet.size:
                seen += 1
    except av.error.FFmpegError as exc:
        raise VideoRejected("damaged", str(exc)) from exc
    if expected and seen < expected:
        raise VideoRejected("damaged", f"{seen} of {expected} frames present")


def probe_video(path: str | os.PathLike[str], limits: VideoLimits = VideoLimits()) -> VideoInfo:
    """Check the container, codec and limits and decode the first frame, or raise ``VideoRejected``.

    Cheap (header plus one frame, within ``limits.probe_seconds``): call it
    before queueing any heavy work.
    """
    started = time.monotonic()
    with open_video(Path(path)) as container:
        _check_complete(container, check_header(container, limits), started, limits)
    with open_video(Path(path)) as container:
        stream = check_header(container, limits)
        first: av.VideoFrame | None = None
        try:
            for packet in container.demux(stream):
                if time.monotonic() - started > limits.probe_seconds:
                    raise VideoRejected("too_slow", "first frame")
                frames = packet.decode()
                if frames:
                    first = frames[0]
                    break
        except av.error.FFmpegError as exc:
            raise VideoRejected("damaged", str(exc)) from exc
        if first is None:
            raise VideoRejected("damaged", "no decodable frame")
        rotation = _rotation(first)
        width, height = first.width, first.height
        if rotation in (90, 270):
            width, height = height, width
        rate = stream.average_rate or stream.guessed_rate
        if not rate:
            raise VideoRejected("damaged", "no frame rate")
        return VideoInfo(
            container=ALLOWED_CONTAINERS[container.format.name],
            codec=stream.codec_context.name,
            width=width,
            height=height,
            rotation=rotation,
            fps=float(rate),
            duration=_duration(container, stream),
            bitrate=container.bit_rate or None,
            has_audio=bool(container.streams.audio),
        )


def iter_frames(
    path: str | os.PathLike[str],
    info: VideoInfo,
    limits: VideoLimits = VideoLimits(),
    every: int = 1,
) -> Iterator[Frame]:
    """Decode every frame, yield the upright RGB of every ``every``-th one and of the last.

    The last frame is always yielded, so callers learn the frame count and
    the end of the video is sampled too.

    Raises ``VideoRejected`` when the stream breaks, runs past the duration
    limit, or the pass overruns its deadline (``limits.decode_budget``).
    Frame times are ``index / fps``: rendering writes constant-rate video.
    """
    budget = limits.decode_budget(info.duration if info.duration is not None else limits.max_seconds)
    deadline = time.monotonic() + budget
    max_frames = math.ceil(limits.max_seconds * info.fps) + 1
    index = 0
    skipped: av.VideoFrame | None = None
    with open_video(Path(path)) as container:
        stream = check_header(container, limits)
        stream.thread_type = "AUTO"
        try:
            for packet in container.demux(stream):
                if time.monotonic() > deadline:
                    raise VideoRejected("too_slow", f"after {index} frames")
                for frame in packet.decode():
                    if index >= max_frames:
                        raise VideoRejected("too_long", f"more than {max_frames} frames")
                    if index % every == 0:
                        yield Frame(index, index / info.fps, upright_rgb(frame, info.rotation))
                    else:
                        skipped = frame
                    index += 1
        except av.error.FFmpegError as exc:
            raise VideoRejected("damaged", str(exc)) from exc
        last = index - 1
        if last > 0 and last % every and skipped is not None:
            yield Frame(last, last / info.fps, upright_rgb(skipped, info.rotation))
    if index == 0:
        raise VideoRejected("damaged", "no decodable frame")
    expected = info.frame_count_estimate
    # Containers without a frame index (WebM/MKV) are checked here: a file
    # cut short decodes fewer frames than its declared duration.
    if expected is not None and index < 0.9 * expected - 1:
        raise VideoRejected("damaged", f"{index} of about {expected} frames decoded")
