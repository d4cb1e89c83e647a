"""Whole-file structure checks of uploaded images: one image, nothing hidden in or after it.

Pure bytes, no Pillow. Each format's walker follows the file's own
structure (JPEG segments and scans, PNG chunks, RIFF/WebP chunks, ISO-BMFF
boxes for HEIC) to the image's end marker, and lists the byte ranges that
hold metadata rather than compressed pixels.

What is refused (``ContainerProblem``):

- data after the image's end other than a few padding bytes (an
  appended ZIP, page, or anything else: a second meaning of the file). A
  phone's multi-picture JPEG (MPF/"MPO": further complete JPEGs after the
  first) is walked image by image, so it is not trailing data;
- in metadata (segments, chunks, boxes other than pixel data): markup
  (HTML, script, SVG, PHP), any ZIP record signature, a PDF header;
- anywhere in the file, compressed pixels included: the signatures that
  random compressed data cannot produce by chance (``<script``,
  ``<!doctype html``, ``<?php`` + space, a PDF header with its version, ZIP
  records with plausible fields). Looser patterns (``<svg``, a bare ``PK``
  record tag) are only searched in metadata: in megabytes of entropy-coded
  data they would match about one photo in a few thousand by chance.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Some encoders pad a file after its end marker with zero (or 0xFF) bytes; a
# few such bytes are tolerated, anything else after the end is not.
TRAILING_TOLERANCE = 64
_PADDING = (0x00, 0xFF)

# Markup a browser or interpreter would act on; searched in metadata.
_MARKUP = re.compile(
    rb"<\s*(?:!doctype|html|script|svg|iframe|object|embed|body|head|meta|\?php)[\s>/]",
    re.IGNORECASE,
)
_LOOSE = re.compile(rb"PK\x03\x04|PK\x01\x02|PK\x05\x06|%PDF-")
# Searched everywhere: long enough (or with enough fixed fields) to never occur by chance.
# Three patterns, each with a literal prefix, so the regex engine skips ahead
# to candidates (about 60 MB/s; one alternation of them all managed 4 MB/s).
_STRONG = (
    re.compile(rb"<(?:(?:script|iframe|object|embed)[\s>/]|(?:html|body)[\s>]"
               rb"|!doctype\s+html|\?php\s)", re.IGNORECASE),
    re.compile(rb"%PDF-\d\.\d"),
    # ZIP local header / central directory (version needed <= 6.3, a known
    # method), or an end of central directory on a single disk.
    re.compile(rb"PK(?:\x03\x04[\x00-\x3f][\x00-\x14]..[\x00\x08\x09\x0c\x0e\x5d\x5f\x62]\x00"
               rb"|\x01\x02..[\x00-\x3f][\x00-\x14]..[\x00\x08\x09\x0c\x0e\x5d\x5f\x62]\x00"
               rb"|\x05\x06\x00\x00\x00\x00)", re.DOTALL),
)


class ContainerProblem(Exception):
    """The file is not one image and nothing else; the text says what was found (for logs).

    ``code`` is ``polyglot`` (a second meaning: a signature, trailing data) or
    ``corrupt`` (the structure itself does not hold together).
    """

    def __init__(self, detail: str, code: str = "corrupt") -> None:
        super().__init__(detail)
        self.code = code


@dataclass
class Layout:
    """Where the image ends and which byte ranges are metadata."""

    end: int
    metadata: list[tuple[int, int]] = field(default_factory=list)


def _u16(data: bytes, pos: int) -> int:
    return int.from_bytes(data[pos:pos + 2], "big")


def _u32(data: bytes, pos: int, order: str = "big") -> int:
    return int.from_bytes(data[pos:pos + 4], order)  # type: ignore[arg-type]


# --- JPEG ---------------------------------------------------------------------------

_SOI, _EOI, _SOS = 0xD8, 0xD9, 0xDA
_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM, RST0-7: no length field
# The end of entropy-coded data: 0xFF followed by anything but a stuffed 0 or a restart marker.
_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7]")


def _jpeg_image(data: bytes, pos: int, layout: Layout) -> int:
    """Walk one JPEG from its SOI at ``pos``; return the offset just past its EOI."""
    if data[pos:pos + 2] != b"\xff\xd8":
        raise ContainerProblem("no JPEG start marker")
    pos += 2
    while True:
        # Fill bytes (0xFF runs) may precede a marker; anything else is garbage.
        while pos < len(data) and data[pos] == 0xFF and pos + 1 < len(data) \
                and data[pos + 1] == 0xFF:
            pos += 1
        if pos + 2 > len(data) or data[pos] != 0xFF:
            raise ContainerProblem(f"no JPEG marker at offset {pos}")
        marker = data[pos + 1]
        if marker == _EOI:
            return pos + 2
        if marker in _STANDALONE or marker == _SOI:
            pos += 2
            continue
        length = _u16(data, pos + 2)
        if length < 2 or pos + 2 + length > len(data):
            raise ContainerProblem(f"JPEG segment overruns the file at offset {pos}")
        start, pos = pos + 4, pos + 2 + length
        if marker != _SOS:
            layout.metadata.append((start, pos))
            continue
        found = _SCAN_END.search(data, pos)
        if found is None:
            raise ContainerProblem("JPEG scan without an end")
        pos = found.start()


def _jpeg_layout(data: bytes) -> Layout:
    layout = Layout(end=0)
    end = _jpeg_image(data, 0, layout)
    # A multi-picture JPEG (MPF) holds further complete JPEGs right after the first.
    while data[end:end + 3] == b"\xff\xd8\xff":
        end = _jpeg_image(data, end, layout)
    layout.end = end
    return layout


# --- PNG ----------------------------------------------------------------------------

_PNG_PIXELS = {b"IDAT", b"fdAT"}


def _png_layout(data: bytes) -> Layout:
    layout, pos = Layout(end=0), 8
    while pos + 12 <= len(data):
        length, kind = _u32(data, pos), data[pos + 4:pos + 8]
        end = pos + 12 + length
        if end > len(data):
            raise ContainerProblem(f"PNG chunk overruns the file at offset {pos}")
        if kind not in _PNG_PIXELS:
            layout.metadata.append((pos + 8, pos + 8 + length))
        pos = end
        if kind == b"IEND":
            layout.end = pos
            return layout
    raise ContainerProblem("no PNG end chunk")


# --- WebP (RIFF) ----------------------------------------------------------------------

_WEBP_PIXELS = {b"VP8 ", b"VP8L", b"ALPH", b"ANMF"}


def _webp_layout(data: bytes) -> Layout:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ContainerProblem("no RIFF/WEBP header")
    end = 8 + _u32(data, 4, "little")
    if end > len(data) or end < 12:
        raise ContainerProblem("RIFF size does not match the file")
    layout, pos = Layout(end=end), 12
    while pos + 8 <= end:
        kind, length = data[pos:pos + 4], _u32(data, pos + 4, "little")
        body_end = pos + 8 + length
        if body_end > end:
            raise ContainerProblem(f"WebP chunk overruns the RIFF at offset {pos}")
        if kind not in _WEBP_PIXELS:
            layout.metadata.append((pos + 8, body_end))
        pos = body_end + (length & 1)
    return layout


# --- HEIF (ISO base media file format) ------------------------------------------------


def _heif_layout(data: bytes) -> Layout:
    """Top-level boxes must tile the file; everything but ``mdat`` is metadata."""
    layout, pos = Layout(end=0), 0
    while pos + 8 <= len(data):
        size, kind, header = _u32(data, pos), data[pos + 4:pos + 8], 8
        if size == 1:
            if pos + 16 > len(data):
                break
            size, header = int.from_bytes(data[pos + 8:pos + 16], "big"), 16
        elif size == 0:
            size = len(data) - pos
        if size < header or pos + size > len(data) or not re.fullmatch(rb"[a-zA-Z0-9 ]{4}", kind):
            break
        if kind != b"mdat":
            layout.metadata.append((pos + header, pos + size))
        pos += size
        layout.end = pos
    if layout.end == 0 or data[4:8] != b"ftyp":
        raise ContainerProblem("no ISO-BMFF box structure")
    return layout


_WALKERS = {"JPEG": _jpeg_layout, "PNG": _png_layout, "WEBP": _webp_layout, "HEIF": _heif_layout}

# A phone's "motion photo" (Google's Motion Photo format, on by default on
# many Android phones) is a JPEG whose XMP declares a short MP4 appended
# after the end-of-image marker. Teachers upload these as they come off the
# phone, so a declared video that is a complete ISO-BMFF file is part of the
# photo, not trailing data; its boxes are still searched like metadata.
_MOTION_PHOTO_XMP = re.compile(
    rb'(?:GCamera:MotionPhoto|GCamera:MicroVideo)\s*=\s*["\']1["\']'
    rb'|Item:Semantic\s*=\s*["\']MotionPhoto["\']')


def _motion_video(data: bytes, layout: Layout) -> Layout | None:
    """The appended video of a declared motion photo, in file offsets; None if there is none."""
    tail = data[layout.end:]
    if len(tail) < 16 or tail[4:8] != b"ftyp":
        return None
    if not any(_MOTION_PHOTO_XMP.search(data[start:end]) for start, end in layout.metadata):
        return None
    try:
        video = _heif_layout(tail)
    except ContainerProblem:
        return None
    if video.end != len(tail):
        return None
    return Layout(end=len(data),
                  metadata=[(layout.end + start, layout.end + end) for start, end in video.metadata])


def check_single_image(data: bytes, fmt: str) -> None:
    """Raise ``ContainerProblem`` unless ``data`` is one ``fmt`` image and nothing else."""
    for pattern in _STRONG:
        found = pattern.search(data)
        if found:
            raise ContainerProblem(f"{found.group()[:12]!r} at offset {found.start()}",
                                   "polyglot")
    layout = _WALKERS[fmt](data)
    video = _motion_video(data, layout) if fmt == "JPEG" else None
    if video is not None:
        layout = Layout(end=video.end, metadata=[*layout.metadata, *video.metadata])
    tail = data[layout.end:]
    if len(tail) > TRAILING_TOLERANCE or any(byte not in _PADDING for byte in tail):
        raise ContainerProblem(f"{len(tail)} bytes after the end of the image", "polyglot")
    for start, end in [*layout.metadata, (layout.end, len(data))]:
        part = data[start:end]
        found = _MARKUP.search(part) or _LOOSE.search(part)
        if found:
            raise ContainerProblem(f"{found.group()[:12]!r} in metadata at offset {start}",
                                   "polyglot")


# --- videos -----------------------------------------------------------------------

_ZIP_EOCD = b"PK\x05\x06"


def _zip_directory_at_end(data: bytes) -> bool:
    """True if a ZIP end-of-central-directory record ends the file (as unzip finds it)."""
    tail_start = max(0, len(data) - (65_535 + 22))
    pos = data.rfind(_ZIP_EOCD, tail_start)
    while pos >= 0:
        if pos + 22 <= len(data):
            comment_len = int.from_bytes(data[pos + 20:pos + 22], "little")
            if pos + 22 + comment_len == len(data):
                return True
        pos = data.rfind(_ZIP_EOCD, tail_start, pos)
    return False


# What check_video_edges needs of a file: its first EDGE_HEAD and last EDGE_TAIL bytes
# (a ZIP end record with the longest comment fits in the tail).
EDGE_HEAD = 65_536
EDGE_TAIL = 65_535 + 22


def check_video_edges(head: bytes, tail: bytes) -> None:
    """A video is not decoded or walked sample by sample: markup is searched where browsers
    sniff and where appended payloads sit (the first and last 64 KB), and a ZIP directory
    that ends the file is refused. ``head`` and ``tail`` are the file's first and last
    bytes (they overlap for a small file)."""
    window = 65_536
    if _MARKUP.search(head[:window]) or _MARKUP.search(tail[-window:]):
        raise ContainerProblem("markup found in the file", "polyglot")
    if _zip_directory_at_end(tail):
        raise ContainerProblem("ZIP directory at the end of the file", "polyglot")
