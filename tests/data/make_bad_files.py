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


def exif_with_text_orientation() -> bytes:
    """A little-endian TIFF/EXIF block whose Orientation (0x0112) is ASCII "six", not a SHORT."""
    text = b"six\x00"
    # header, one IFD entry (tag, type 2 = ASCII, count 4, value inline), next IFD = 0
    return (b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 1)
            + struct.pack("<HHI", 0x0112, 2, len(text)) + text + struct.pack("<I", 0))


def strip_png(width: int, height: int) -> bytes:
    """A real greyscale PNG of ``width`` x ``height`` black pixels, compressed in a stream."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    row = b"\x00" + b"\x00" * width
    packer = zlib.compressobj(9)
    parts, rows_per_chunk = [], max(1, 1_000_000 // len(row))
    for start in range(0, height, rows_per_chunk):
        parts.append(packer.compress(row * min(rows_per_chunk, height - start)))
    parts.append(packer.flush())
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"IDAT", b"".join(parts)) + _png_chunk(b"IEND", b""))


def comment_between_scans(image: Image.Image, comment: bytes) -> bytes:
    """A progressive JPEG with a COM segment inserted before its middle scan (SOS)."""
    data = _jpeg(image, progressive=True)
    scans = [i for i in range(len(data) - 1) if data[i:i + 2] == b"\xff\xda"]
    at = scans[len(scans) // 2]
    segment = b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment
    return data[:at] + segment + data[at:]


def _srgb_icc() -> bytes:
    from PIL import ImageCms
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


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
    # Found by an independent probe (round 2): each cost a batch, a worker or a leak.
    (OUT / "exif_text_orientation.jpg").write_bytes(_jpeg(face, exif=exif_with_text_orientation()))
    (OUT / "strip_1x79m.png").write_bytes(strip_png(1, 79_000_000))
    (OUT / "polyglot_zip_plus1.jpg").write_bytes(good + archive.getvalue() + b"x")
    junk = bytes((i * 7919 + 13) % 251 for i in range(70 * 1024))
    (OUT / "polyglot_zip_junk.jpg").write_bytes(good + archive.getvalue() + junk)
    large = Image.open(FACE).convert("RGB").resize((1600, 1600))
    (OUT / "comment_script.jpg").write_bytes(comment_between_scans(
        large, b"<html><script>alert(document.cookie)</script></html>"))
    grey = Image.open(FACE).convert("L")
    grey.thumbnail((320, 320))
    grey16 = Image.frombytes("I;16", grey.size, bytes(b for v in grey.tobytes() for b in (v, v)))
    grey16.save(OUT / "grey16.png", format="PNG")
    gps = Image.Exif()
    gps[0x010F] = "TestCam"
    gps.get_ifd(0x8825).update({1: "N", 2: (52.0, 5.0, 0.0), 3: "E", 4: (4.0, 53.0, 0.0)})
    xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/'
           b'02/22-rdf-syntax-ns#"><rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"'
           b' dc:creator="SECRET-XMP-CREATOR"/></rdf:RDF></x:xmpmeta>')
    buf = io.BytesIO()
    face.save(buf, format="JPEG", quality=90, exif=gps.tobytes(), xmp=xmp,
              comment=b"SECRET-JPEG-COMMENT", icc_profile=_srgb_icc())
    (OUT / "metadata.jpg").write_bytes(buf.getvalue())
    print("written:", ", ".join(sorted(p.name for p in OUT.iterdir() if p.suffix != ".md")))


if __name__ == "__main__":
    main()
