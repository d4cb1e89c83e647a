"""Decode-validate uploads and make thumbnails. Pure Pillow: no Flask, no database.

An upload is trusted only after Pillow, restricted to an allowlist of
formats, has fully decoded it within byte and pixel limits. Its name and
declared content type are ignored.

Polyglots (an image that is also HTML, script, SVG, PHP or a ZIP archive)
are REJECTED, not re-encoded: we keep the original byte-exact (it is the
evidence of what the maker delivered), so it must not carry a second
meaning. Detection is by markers a browser or unzip would act on: markup
in the first or last 64 KB, a ZIP end-of-central-directory record near the end,
or bytes after a PNG's IEND chunk. JPEG data after the end-of-image marker
without such markers is tolerated (phones append motion-photo videos
there). Defence in depth: originals are never served inline from a static
URL; downloads go through a role-checked view as an attachment with the
validated content type and ``nosniff``; thumbnails are re-encoded pixels.
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from dataclasses import dataclass

import pillow_heif
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

pillow_heif.register_heif_opener()

# Never accept a half image: a truncated file must fail, not decode grey.
ImageFile.LOAD_TRUNCATED_IMAGES = False

ALLOWED_FORMATS: dict[str, str] = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "HEIF": "image/heif",
}
DEFAULT_MAX_BYTES = 60 * 1024 * 1024
DEFAULT_MAX_PIXELS = 80_000_000

_MARKUP = re.compile(
    rb"<\s*(?:!doctype|html|script|svg|iframe|object|embed|body|head|meta|\?php)[\s>/]",
    re.IGNORECASE,
)
_ZIP_EOCD = b"PK\x05\x06"

MESSAGES: dict[str, str] = {
    "empty": "The file is empty.",
    "too_large": "The file is larger than the upload limit.",
    "not_an_image": "The file is not a supported image (JPEG, PNG, WebP, HEIC/HEIF).",
    "format_not_allowed": "This image format is not accepted (use JPEG, PNG, WebP or HEIC/HEIF).",
    "too_many_pixels": "The image has too many pixels (possible decompression bomb).",
    "truncated": "The image is truncated or damaged and cannot be decoded completely.",
    "polyglot": "The file contains data other than the image (e.g. HTML or an archive) and is refused.",
    "corrupt": "The image cannot be decoded.",
}


class ImageRejected(Exception):
    """An upload that is not an acceptable image; ``code`` keys ``MESSAGES``."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(MESSAGES.get(code, code))
        self.code = code
        self.message = MESSAGES.get(code, code)
        self.detail = detail


@dataclass(frozen=True)
class ValidatedImage:
    """What we know about an upload once it decoded cleanly.

    ``width``/``height`` are after EXIF orientation (the coordinates face
    boxes use); ``orientation`` is the EXIF tag (1 = none).
    """

    format: str
    media_type: str
    width: int
    height: int
    sha256: str
    byte_size: int
    orientation: int


@dataclass(frozen=True)
class Limits:
    max_bytes: int = DEFAULT_MAX_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS


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


def _png_end(data: bytes) -> int:
    """Offset just past the IEND chunk, walking the chunk list (-1 if there is none)."""
    pos = 8
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        pos += 12 + length
        if kind == b"IEND":
            return pos
    return -1


def _check_polyglot(data: bytes, fmt: str) -> None:
    # Markup is searched where browsers sniff and where appended payloads sit
    # (the first and last 64 KB): searching compressed pixel data would
    # reject about one photo in a few thousand by chance.
    window = 65_536
    if _MARKUP.search(data[:window]) or _MARKUP.search(data[-window:]):
        raise ImageRejected("polyglot", "markup found in the file")
    if _zip_directory_at_end(data):
        raise ImageRejected("polyglot", "ZIP directory at the end of the file")
    if fmt == "PNG" and _png_end(data) != len(data):
        raise ImageRejected("polyglot", "data after the PNG end chunk")


def validate_image(data: bytes, limits: Limits = Limits()) -> ValidatedImage:
    """Decode the whole image with the allowlist and limits, or raise ``ImageRejected``."""
    if not data:
        raise ImageRejected("empty")
    if len(data) > limits.max_bytes:
        raise ImageRejected("too_large", f"{len(data)} bytes")
    with warnings.catch_warnings():
        # Pillow only warns between MAX_IMAGE_PIXELS and twice that: make it fatal.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS))
        except UnidentifiedImageError as err:
            raise ImageRejected("not_an_image", str(err)) from err
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
            raise ImageRejected("too_many_pixels", str(err)) from err
        except (OSError, ValueError, SyntaxError) as err:
            raise ImageRejected("corrupt", str(err)) from err
        with image:
            fmt = str(image.format or "")
            if fmt not in ALLOWED_FORMATS:
                raise ImageRejected("format_not_allowed", fmt)
            width, height = image.size
            # Checked before decoding: a bomb is refused without allocating it.
            if width <= 0 or height <= 0 or width * height > limits.max_pixels:
                raise ImageRejected("too_many_pixels", f"{width}x{height}")
            try:
                image.load()
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
                raise ImageRejected("too_many_pixels", str(err)) from err
            except OSError as err:
                code = "truncated" if "truncated" in str(err).lower() else "corrupt"
                raise ImageRejected(code, str(err)) from err
            except (ValueError, SyntaxError, EOFError) as err:
                raise ImageRejected("corrupt", str(err)) from err
            orientation = int(image.getexif().get(0x0112, 1) or 1)
    _check_polyglot(data, fmt)
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return ValidatedImage(
        format=fmt,
        media_type=ALLOWED_FORMATS[fmt],
        width=width,
        height=height,
        sha256=hashlib.sha256(data).hexdigest(),
        byte_size=len(data),
        orientation=orientation if 1 <= orientation <= 8 else 1,
    )


def make_thumbnail(data: bytes, max_side: int = 480, quality: int = 82) -> bytes:
    """A small JPEG of the EXIF-oriented image, re-encoded, with no metadata."""
    with Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS)) as image:
        if image.format == "JPEG":
            # DCT-domain reduction: a 12-MP photo decodes several times faster.
            image.draft("RGB", (max_side * 2, max_side * 2))
        image.load()
        oriented = ImageOps.exif_transpose(image) or image
        if oriented.mode != "RGB":
            oriented = oriented.convert("RGB")
        oriented.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        # No exif= argument: nothing of the original's metadata is carried over.
        oriented.save(out, format="JPEG", quality=quality, optimize=True)
        return out.getvalue()
