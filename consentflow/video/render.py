"""Render the publishable video: every frame redacted, re-encoded, nothing else carried over.

Each frame's blurred regions are the photo redaction's head regions
(``publish.redact.head_region``: the face box plus a generous margin for
hair, ears and jaw) obliterated exactly as in a photo (``publish.redact.redact``:
reduced to 4 cells and blurred), so the same "the matcher cannot
recognise it" check holds.

The output is built from decoded pixels into a new MP4: H.264 (yuv420p,
so every browser plays it), ``faststart`` (the index first, so playback
starts before the download ends) and FFmpeg's ``bitexact`` flag (no
encoder tag). No container or stream metadata of the source is copied:
no title, creation time, GPS location, camera model or handler name. The
frames are written upright with no display matrix.

Sound is an explicit decision of the caller: dropped unless ``keep_audio``;
kept sound is decoded and re-encoded as AAC (again without metadata).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error
import numpy as np
from PIL import Image

from consentflow.photos.boxes import Box
from consentflow.publish.redact import Redaction, head_region, redact
from consentflow.video.decode import (
    RGBArray,
    VideoInfo,
    VideoLimits,
    VideoRejected,
    check_header,
    open_video,
    upright_rgb,
)

# x264: "veryfast" is ~2x faster than "medium" at ~10% more bytes; CRF 23 is
# x264's default quality. The published copy is a web video, not an archive.
X264_OPTIONS = {"preset": "veryfast", "crf": "23"}
AUDIO_BITRATE = 128_000
# Head regions are obliterated at this size (long side, px) and enlarged.
WORK_SIDE = 64


@dataclass(frozen=True)
class RenderedVideo:
    path: Path
    width: int
    height: int
    frames: int
    has_audio: bool
    sha256: str
    seconds: float


def obliterate_faces(pixels: RGBArray, blur: Sequence[Box],
                     how: Mapping[Box, Redaction] | None = None) -> RGBArray:
    """A copy of ``pixels`` with the head region of every box made irrecoverable.

    The photo obliteration runs on the head region reduced (area-averaged)
    to at most ``WORK_SIDE`` px and is enlarged back: it keeps 4x4 cells of
    colour either way, so the result carries the same (no) identity, at a
    fraction of the cost of blurring a full-size region on every frame.
    ``how`` chooses a stronger redaction per box, as for a photo.
    """
    out = np.array(pixels)
    height, width = out.shape[:2]
    how = how or {}
    for box in blur:
        mode = how.get(box, "standard")
        region = head_region(box, width, height, mode)
        rw, rh = region.right - region.left, region.bottom - region.top
        if rw <= 0 or rh <= 0:
            continue
        crop = Image.fromarray(out[region.top:region.bottom, region.left:region.right])
        scale = min(1.0, WORK_SIDE / max(rw, rh))
        small_size = (max(1, round(rw * scale)), max(1, round(rh * scale)))
        small = crop.resize(small_size, Image.Resampling.BOX) if scale < 1.0 else crop
        # The box in the reduced crop's pixels: its head region is the whole crop.
        inner = Box(round((box.left - region.left) * scale), round((box.top - region.top) * scale),
                    round((box.right - region.left) * scale), round((box.bottom - region.top) * scale))
        redacted = redact(small, [inner], {inner: mode})
        if scale < 1.0:
            redacted = redacted.resize((rw, rh), Image.Resampling.BILINEAR)
        out[region.top:region.bottom, region.left:region.right] = np.asarray(redacted)
    return out


def _even(value: int) -> int:
    return max(2, value - value % 2)


def render_video(
    source: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    info: VideoInfo,
    blur: Mapping[int, Sequence[Box]],
    keep_audio: bool,
    limits: VideoLimits = VideoLimits(),
    progress: Callable[[int], None] | None = None,
    how: Mapping[Box, Redaction] | None = None,
) -> RenderedVideo:
    """Write ``dest``: ``source`` with the boxes ``blur[frame index]`` obliterated on every frame.

    ``how`` chooses a stronger redaction ("wide", "solid") per box.

    ``keep_audio`` is the caller's decision (False drops the sound). Raises
    ``VideoRejected`` when the source breaks or the pass overruns its deadline.
    ``progress(frames written)`` is called every 10 frames.
    """
    started = time.perf_counter()
    deadline = time.monotonic() + limits.decode_budget(
        info.duration if info.duration is not None else limits.max_seconds)
    width, height = _even(info.width), _even(info.height)
    dest_path = Path(dest)
    index = 0
    with open_video(Path(source)) as container:
        stream = check_header(container, limits)
        stream.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate or Fraction(info.fps).limit_denominator(1001)
        audio_in = container.streams.audio[0] if keep_audio and container.streams.audio else None
        with av.open(str(dest_path), mode="w", format="mp4",
                     options={"movflags": "+faststart", "fflags": "+bitexact"}) as out:
            video_out = out.add_stream("libx264", rate=rate, options=X264_OPTIONS)
            video_out.width, video_out.height, video_out.pix_fmt = width, height, "yuv420p"
            video_out.codec_context.time_base = Fraction(1) / Fraction(rate)
            audio_out = None
            resampler = None
            if audio_in is not None:
                sample_rate = audio_in.codec_context.sample_rate or 48_000
                layout = "stereo" if (audio_in.codec_context.channels or 2) >= 2 else "mono"
                audio_out = out.add_stream("aac", rate=sample_rate)
                audio_out.codec_context.layout = layout
                audio_out.codec_context.bit_rate = AUDIO_BITRATE
                resampler = av.AudioResampler(format="fltp", layout=layout, rate=sample_rate,
                                              frame_size=1024)
            streams = [stream] + ([audio_in] if audio_in is not None else [])
            try:
                for packet in container.demux(*streams):
                    if time.monotonic() > deadline:
                        raise VideoRejected("too_slow", f"after {index} frames")
                    if packet.stream.type == "audio":
                        assert audio_out is not None and resampler is not None
                        for frame in packet.decode():
                            assert isinstance(frame, av.AudioFrame)  # an audio packet decodes to audio
                            frame.pts = None
                            for chunk in resampler.resample(frame):
                                out.mux(audio_out.encode(chunk))
                        continue
                    for frame in packet.decode():
                        assert isinstance(frame, av.VideoFrame)  # only audio and video are demuxed
                        pixels = upright_rgb(frame, info.rotation)[:height, :width]
                        redacted = obliterate_faces(pixels, blur.get(index, ()), how)
                        new = av.VideoFrame.from_ndarray(redacted, format="rgb24")
                        new.pts = index
                        out.mux(video_out.encode(new))
                        index += 1
                        if progress is not None and index % 10 == 0:
                            progress(index)
            except av.error.FFmpegError as exc:
                raise VideoRejected("damaged", str(exc)) from exc
            out.mux(video_out.encode(None))
            if audio_out is not None and resampler is not None:
                for chunk in resampler.resample(None):
                    out.mux(audio_out.encode(chunk))
                out.mux(audio_out.encode(None))
    digest = hashlib.sha256()
    with dest_path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return RenderedVideo(dest_path, width, height, index, audio_out is not None,
                         digest.hexdigest(), time.perf_counter() - started)
