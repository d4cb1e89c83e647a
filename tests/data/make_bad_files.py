"""Regenerate the hostile and awkward upload files in tests/data/bad/ (committed).

Run: .venv/bin/python tests/data/make_bad_files.py
Deterministic except for encoders' own versions; see tests/data/bad/README.md.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import pillow_heif
from PIL import Image

HERE = Path(__file__).resolve().parent
OUT = HERE / "bad"
FACE = HERE / "faces" / "obama.jpg"


def _jpeg(image: Image.Image, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=90, **kwargs)
    return buf.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid PNG header declaring 10^10 pixels, with a few bytes of image data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    # One compressed row of zeros: enough for Pillow to open, far from the declared size.
    idat = zlib.compress(b"\x00" * (1 + 3 * 1024), 9)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat)
            + _png_chunk(b"IEND", b""))


def main() -> None:
    OUT.mkdir(exist_ok=True)
    face = Image.open(FACE).convert("RGB")
    face.thumbnail((480, 480))  # small files; the face stays large enough to detect
    good = _jpeg(face)
    (OUT / "truncated.jpg").write_bytes(good[: len(good) * 6 // 10])
    (OUT / "bomb.png").write_bytes(bomb_png())
    (OUT / "renamed_html.jpg").write_bytes(
        b"<!DOCTYPE html><html><body><script>alert('x')</script></body></html>\n")
    (OUT / "polyglot_html.jpg").write_bytes(
        good + b"<html><body><script>alert(document.cookie)</script></body></html>")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("payload.html", "<p>hello</p>")
    (OUT / "polyglot_zip.jpg").write_bytes(good + archive.getvalue())
    png = io.BytesIO()
    face.resize((120, 150)).save(png, format="PNG")
    (OUT / "png_trailing.png").write_bytes(png.getvalue() + b"trailing bytes after IEND")
    (OUT / "cmyk.jpg").write_bytes(_jpeg(face.convert("CMYK")))
    # Pixels stored rotated 90° clockwise; EXIF orientation 6 says "rotate back".
    rotated = face.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    (OUT / "exif_rotated.jpg").write_bytes(_jpeg(rotated, exif=exif.tobytes()))
    pillow_heif.register_heif_opener()
    heic = io.BytesIO()
    face.save(heic, format="HEIF", quality=80)
    (OUT / "portrait.heic").write_bytes(heic.getvalue())
    (OUT / "empty.jpg").write_bytes(b"")
    print("written:", ", ".join(sorted(p.name for p in OUT.iterdir() if p.suffix != ".md")))


if __name__ == "__main__":
    main()
