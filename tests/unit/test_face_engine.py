"""The face engine on real images with real dlib and CenterFace (no mocks).

Images: tests/data/faces (see SOURCES.md there). Expected face positions
come from bench/annotations.json (hand-checked boxes).
"""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from consentflow.config import MATCH_DEFAULTS
from consentflow.faces import detectors
from consentflow.faces.engine import (
    EngineSettings,
    FaceBox,
    PreparedImage,
    detect_faces,
    detect_file,
    encode_faces,
    prepare_image,
)
from consentflow.faces.matching import MatchThresholds, ReferenceIndex, assign_unique, classify

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:pkg_resources is deprecated"),
]

FACES = Path(__file__).resolve().parents[1] / "data" / "faces"
SETTINGS = EngineSettings()
THRESHOLDS = MatchThresholds.from_config(MATCH_DEFAULTS)
# two_people.jpg, hand-checked (bench/annotations.json): Obama left, Biden right.
OBAMA_BOX = (230, 21, 390, 231)
BIDEN_BOX = (781, 39, 951, 269)

OBAMA, BIDEN = 1, 2


def _box(face: FaceBox) -> tuple[int, int, int, int]:
    return (face.left, face.top, face.right, face.bottom)


def _iou(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    first = FaceBox(a[0], a[1], a[2], a[3], score=0.0, detector="")
    return first.iou(FaceBox(b[0], b[1], b[2], b[3], score=0.0, detector=""))


def _detect(
    source: object, settings: EngineSettings = SETTINGS
) -> tuple[PreparedImage, list[FaceBox]]:
    prepared = prepare_image(source, settings.max_side)  # type: ignore[arg-type]
    return prepared, detect_faces(prepared, settings)


@pytest.fixture(scope="module")
def two_people() -> tuple[PreparedImage, list[FaceBox]]:
    return _detect(FACES / "two_people.jpg")


@pytest.fixture(scope="module")
def enrolled() -> ReferenceIndex:
    """Obama (obama.jpg) and Biden (biden.jpg) as enrolled reference portraits."""
    refs = []
    for person, name in ((OBAMA, "obama.jpg"), (BIDEN, "biden.jpg")):
        prepared, faces = _detect(FACES / name)
        assert len(faces) == 1, name
        refs.append((person, encode_faces(prepared, faces, SETTINGS)[0]))
    return ReferenceIndex(refs)


# --- detection -------------------------------------------------------------


def test_two_people_finds_both_faces_where_they_are(
    two_people: tuple[PreparedImage, list[FaceBox]],
) -> None:
    prepared, faces = two_people
    assert (prepared.original_width, prepared.original_height) == (1126, 661)
    assert len(faces) == 2
    # Sorted top-to-bottom, then left-to-right: Obama's box starts higher.
    assert _iou(_box(faces[0]), OBAMA_BOX) > 0.6
    assert _iou(_box(faces[1]), BIDEN_BOX) > 0.6
    for face in faces:
        assert "centerface" in face.detector.split("+")
        assert 0.0 < face.score <= 1.0


def test_dogs_have_no_faces() -> None:
    _, faces = _detect(FACES / "dogs.jpg")
    assert faces == []


def test_small_face_is_found() -> None:
    _, faces = _detect(FACES / "obama_small.jpg")
    assert len(faces) == 1
    assert faces[0].width < 150  # 320x240 image: the face really is small


@pytest.mark.parametrize(
    ("orientation", "transpose"),
    [
        (6, Image.Transpose.ROTATE_90),  # stored turned left; viewer turns it right
        (8, Image.Transpose.ROTATE_270),
        (3, Image.Transpose.ROTATE_180),
    ],
)
def test_exif_orientation_gives_boxes_in_transposed_coordinates(
    tmp_path: Path,
    orientation: int,
    transpose: Image.Transpose,
    two_people: tuple[PreparedImage, list[FaceBox]],
) -> None:
    upright = Image.open(FACES / "two_people.jpg")
    stored = upright.transpose(transpose)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"rotated_{orientation}.jpg"
    stored.save(path, quality=95, exif=exif)

    prepared, faces = _detect(path)

    assert (prepared.original_width, prepared.original_height) == upright.size
    assert len(faces) == 2
    _, upright_faces = two_people
    for got, expected in zip(faces, upright_faces):
        assert _iou(_box(got), _box(expected)) > 0.8


def test_detection_on_a_reduced_working_copy_maps_back_to_original_pixels(
    two_people: tuple[PreparedImage, list[FaceBox]],
) -> None:
    prepared, faces = _detect(FACES / "two_people.jpg", dataclasses.replace(SETTINGS, max_side=500))
    assert prepared.width == 500
    assert prepared.scale == pytest.approx(500 / 1126)
    assert (prepared.original_width, prepared.original_height) == (1126, 661)
    _, full = two_people
    assert len(faces) == len(full) == 2
    for small, big in zip(faces, full):
        assert _iou(_box(small), _box(big)) > 0.7


def test_downscaled_copy_boxes_scaled_up_match_full_size_boxes(
    tmp_path: Path, two_people: tuple[PreparedImage, list[FaceBox]]
) -> None:
    factor = 0.4
    image = Image.open(FACES / "two_people.jpg")
    image.resize((round(1126 * factor), round(661 * factor)), Image.Resampling.LANCZOS).save(
        tmp_path / "small.jpg", quality=95
    )
    _, small = _detect(tmp_path / "small.jpg")
    _, full = two_people
    assert len(small) == 2
    for s, f in zip(small, full):
        scaled_up = tuple(round(v / factor) for v in _box(s))
        assert _iou(scaled_up, _box(f)) > 0.7


def _two_people_on_canvas(factor: float) -> tuple[Image.Image, list[tuple[int, ...]]]:
    """two_people.jpg scaled by ``factor`` on a 1600 x 1000 grey canvas, with its true boxes."""
    with Image.open(FACES / "two_people.jpg") as im:
        scaled = im.resize((round(1126 * factor), round(661 * factor)), Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (1600, 1000), (128, 128, 128))
    canvas.paste(scaled, (0, 0))
    return canvas, [tuple(round(v * factor) for v in box) for box in (OBAMA_BOX, BIDEN_BOX)]


def test_hog_on_its_reduced_copy_finds_large_faces_where_they_are() -> None:
    # Faces ~230 px wide at working size: at least 160, so HOG on its 800-px
    # copy must still find them, boxes mapped back to original pixels.
    canvas, expected = _two_people_on_canvas(1.42)
    hog_only = dataclasses.replace(SETTINGS, centerface=False, tiling=False, hog_side=800)
    _, faces = _detect(canvas, hog_only)
    assert len(faces) == 2
    for face, box in zip(faces, expected):
        assert face.detector == "hog"
        assert _iou(_box(face), box) > 0.5


def test_hog_side_reduces_what_hog_sees() -> None:
    # Faces ~90 px wide: HOG (minimum ~80 px at its input) finds them at
    # working size, not on the 800-px copy (~45 px): the setting is honoured.
    canvas, _ = _two_people_on_canvas(0.55)
    hog_only = dataclasses.replace(SETTINGS, centerface=False, tiling=False)
    _, full = _detect(canvas, dataclasses.replace(hog_only, hog_side=0))
    _, reduced = _detect(canvas, dataclasses.replace(hog_only, hog_side=800))
    assert len(full) == 2
    assert reduced == []


def test_tiling_finds_tiny_faces_the_full_pass_misses() -> None:
    # 36 copies of two_people.jpg at 0.06x: 72 faces 9-10 px wide, below
    # what one CenterFace pass at working resolution sees.
    factor = 0.06
    with Image.open(FACES / "two_people.jpg") as im:
        tiny = im.resize((round(1126 * factor), round(661 * factor)), Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (tiny.width * 6, tiny.height * 6), (128, 128, 128))
    expected: list[tuple[int, ...]] = []
    for row in range(6):
        for col in range(6):
            dx, dy = col * tiny.width, row * tiny.height
            canvas.paste(tiny, (dx, dy))
            for box in (OBAMA_BOX, BIDEN_BOX):
                expected.append(
                    (
                        round(box[0] * factor) + dx,
                        round(box[1] * factor) + dy,
                        round(box[2] * factor) + dx,
                        round(box[3] * factor) + dy,
                    )
                )

    def found(faces: list[FaceBox]) -> int:
        return sum(any(_iou(e, _box(f)) >= 0.3 for f in faces) for e in expected)

    _, plain = _detect(canvas, dataclasses.replace(SETTINGS, hog=False, tiling=False))
    _, tiled = _detect(canvas, dataclasses.replace(SETTINGS, hog=False, tiling=True))
    assert found(plain) < 10
    assert found(tiled) >= 68
    strays = [f for f in tiled if all(_iou(e, _box(f)) < 0.3 for e in expected)]
    assert len(strays) <= 8


def test_tile_grid_covers_image_with_the_requested_overlap() -> None:
    tiles = detectors.tile_grid(1600, 1200, 1024, 128)
    covered = np.zeros((1200, 1600), dtype=bool)
    for left, top, right, bottom in tiles:
        assert right - left <= 1024 and bottom - top <= 1024
        covered[top:bottom, left:right] = True
    assert covered.all()
    xs = sorted({(t[0], t[2]) for t in tiles})
    assert xs[0][1] - xs[1][0] >= 128
    assert detectors.tile_grid(300, 200, 1024, 128) == [(0, 0, 300, 200)]
    # The default 1280: a 1600x1200 working image is cut once, across its
    # longer side (one overlap band, one tile per detection thread).
    assert detectors.tile_grid(1600, 1200, 1280, 128) == [(0, 0, 864, 1200), (736, 0, 1600, 1200)]


def test_centerface_accepts_sizes_that_are_not_multiples_of_32() -> None:
    rgb = np.asarray(Image.open(FACES / "obama_small.jpg").convert("RGB"))[:237, :301]
    dets = detectors.centerface(1)(np.ascontiguousarray(rgb), threshold=0.4)
    assert dets.shape[1] == 5 and len(dets) == 1
    assert (dets[:, 2] <= 301).all() and (dets[:, 3] <= 237).all()


# --- preparing images --------------------------------------------------------


def test_prepare_converts_modes_to_rgb() -> None:
    rgba = Image.new("RGBA", (40, 30), (255, 0, 0, 0))  # fully transparent red
    assert prepare_image(rgba, 100).pixels[0, 0].tolist() == [255, 255, 255]
    cmyk = Image.new("CMYK", (40, 30), (0, 255, 255, 0))
    assert prepare_image(cmyk, 100).pixels[0, 0].tolist() == [255, 0, 0]
    grey16 = Image.fromarray(np.full((30, 40), 40000, dtype=np.uint16))
    assert grey16.mode.startswith("I;16")
    assert prepare_image(grey16, 100).pixels[0, 0].tolist() == [156, 156, 156]
    palette = Image.new("P", (40, 30), 0)
    prepared = prepare_image(palette, 100)
    assert prepared.pixels.shape == (30, 40, 3) and prepared.pixels.dtype == np.uint8


def test_prepare_large_jpeg_uses_reduced_decode_but_reports_original_size(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    Image.new("RGB", (4000, 3000), (10, 120, 200)).save(path, quality=80)
    prepared = prepare_image(path, 1600)
    assert (prepared.original_width, prepared.original_height) == (4000, 3000)
    assert (prepared.width, prepared.height) == (1600, 1200)
    assert prepared.scale == pytest.approx(0.4)
    assert not prepared.pixels.flags.writeable


def test_prepare_reads_heif() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 10, 10)).save(buffer, format="HEIF")
    buffer.seek(0)
    prepared = prepare_image(buffer, 1600)
    assert (prepared.original_width, prepared.original_height) == (64, 48)


def test_prepare_does_not_touch_a_callers_image() -> None:
    image = Image.open(FACES / "two_people.jpg")
    prepared = prepare_image(image, 400)
    assert image.size == (1126, 661)
    assert prepared.width == 400


# --- encoding and matching ---------------------------------------------------


def test_same_person_on_another_photo_is_matched(enrolled: ReferenceIndex) -> None:
    prepared, faces = _detect(FACES / "obama2.jpg")
    assert len(faces) == 1
    (encoding,) = encode_faces(prepared, faces, SETTINGS)
    assert encoding.shape == (128,) and encoding.dtype == np.float64
    outcome = classify(enrolled.match(encoding), THRESHOLDS)
    assert (outcome.status, outcome.person_id) == ("matched", OBAMA)


def test_different_people_do_not_match() -> None:
    obama_prepared, obama_faces = _detect(FACES / "obama.jpg")
    biden_prepared, biden_faces = _detect(FACES / "biden.jpg")
    only_obama = ReferenceIndex([(OBAMA, encode_faces(obama_prepared, obama_faces, SETTINGS)[0])])
    biden = encode_faces(biden_prepared, biden_faces, SETTINGS)[0]
    outcome = classify(only_obama.match(biden), THRESHOLDS)
    assert outcome.status == "unknown"
    assert outcome.person_id is None
    assert outcome.distance is not None and outcome.distance > 0.6


def test_two_people_are_told_apart(
    enrolled: ReferenceIndex, two_people: tuple[PreparedImage, list[FaceBox]]
) -> None:
    prepared, faces = two_people
    encodings = encode_faces(prepared, faces, SETTINGS)
    outcomes = assign_unique([classify(c, THRESHOLDS) for c in enrolled.match_many(np.stack(encodings))])
    assert [(o.status, o.person_id) for o in outcomes] == [("matched", OBAMA), ("matched", BIDEN)]


def test_same_face_twice_in_one_photo_is_assigned_once(enrolled: ReferenceIndex) -> None:
    # A collage with the same Biden photo twice: both faces match Biden;
    # only one may keep him.
    with Image.open(FACES / "two_people.jpg") as im:
        biden_half = im.crop((563, 0, 1126, 661))
    collage = Image.new("RGB", (1126, 661))
    collage.paste(biden_half, (0, 0))
    collage.paste(biden_half.resize((500, 587)), (563, 0))
    prepared, faces = _detect(collage)
    assert len(faces) == 2
    outcomes = [
        classify(c, THRESHOLDS) for c in enrolled.match_many(np.stack(encode_faces(prepared, faces, SETTINGS)))
    ]
    assert [(o.status, o.person_id) for o in outcomes] == [("matched", BIDEN)] * 2
    unique = assign_unique(outcomes)
    assert sorted((o.status, o.person_id) for o in unique) == [
        ("ambiguous", None),
        ("matched", BIDEN),
    ]


def test_encode_accepts_a_pil_image_and_original_coordinates() -> None:
    image = Image.open(FACES / "obama.jpg")
    prepared, faces = _detect(FACES / "obama.jpg")
    from_prepared = encode_faces(prepared, faces, SETTINGS)[0]
    from_pil = encode_faces(image, faces, SETTINGS)[0]
    assert np.linalg.norm(from_prepared - from_pil) < 0.05


# --- JSON output and value objects ------------------------------------------


def test_detect_file_output_shape() -> None:
    result = detect_file(FACES / "two_people.jpg", SETTINGS)
    assert set(result) == {"file", "width", "height", "faces", "settings", "ms"}
    assert str(result["file"]).endswith("two_people.jpg")
    assert (result["width"], result["height"]) == (1126, 661)
    assert result["settings"] == SETTINGS.as_dict()
    assert isinstance(result["ms"], float)
    faces = result["faces"]
    assert isinstance(faces, list) and len(faces) == 2
    for face in faces:
        assert set(face) == {"left", "top", "right", "bottom", "score", "detector"}
        assert all(isinstance(face[k], int) for k in ("left", "top", "right", "bottom"))
    assert json.loads(json.dumps(result)) == result
    # Same code path as the pipeline: identical boxes.
    _, direct = _detect(FACES / "two_people.jpg")
    assert [(f["left"], f["top"], f["right"], f["bottom"]) for f in faces] == [
        _box(f) for f in direct
    ]


def test_settings_are_frozen_and_serialisable() -> None:
    settings = EngineSettings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.max_side = 10  # type: ignore[misc]
    data = settings.as_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["max_side"] == settings.max_side and data["encoding_model"] == "small"


def test_facebox_geometry() -> None:
    a = FaceBox(0, 0, 10, 20, score=0.9, detector="hog")
    b = FaceBox(5, 0, 15, 20, score=0.8, detector="centerface")
    assert (a.width, a.height, a.area) == (10, 20, 200)
    assert a.iou(b) == pytest.approx(100 / 300)
    assert a.iou(a) == 1.0
    assert a.iou(FaceBox(50, 50, 60, 60, score=1, detector="hog")) == 0.0


THREADED_ENGINE = """
import sys, threading
import numpy as np
from consentflow.faces.engine import EngineSettings, detect_faces, encode_faces, prepare_image
settings = EngineSettings()
images = [prepare_image(path, settings.max_side) for path in sys.argv[1:]]
expected = [detect_faces(image, settings) for image in images]
expected_enc = [encode_faces(image, boxes, settings) for image, boxes in zip(images, expected)]
mismatches = []
def work(k):
    for i in range(4):
        j = (k + i) % len(images)
        boxes = detect_faces(images[j], settings)
        encodings = encode_faces(images[j], boxes, settings)
        if boxes != expected[j] or not all(np.allclose(a, b) for a, b in zip(encodings, expected_enc[j])):
            mismatches.append(j)
threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
for t in threads: t.start()
for t in threads: t.join()
print("mismatches", len(mismatches))
"""


def test_engine_is_safe_from_several_threads() -> None:
    """Web processes call the engine from request threads; dlib must never run twice at once.

    Without the engine's lock, dlib corrupts its heap and aborts the process,
    so the work runs in a child process and its exit status is the verdict.
    """
    import subprocess
    import sys

    images = [str(FACES / name) for name in ("two_people.jpg", "obama.jpg", "obama2.jpg")]
    run = subprocess.run([sys.executable, "-c", THREADED_ENGINE, *images],
                         capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "mismatches 0" in run.stdout


def test_phone_mpo_jpeg_detects_like_the_plain_jpeg(tmp_path: Path) -> None:
    """Phone JPEGs with an MPF second image (Pillow: "MPO") take the same draft-decode path."""
    with Image.open(FACES / "two_people.jpg") as src:
        big = src.convert("RGB").resize((src.width * 3, src.height * 3))
    plain, mpo = tmp_path / "plain.jpg", tmp_path / "phone.jpg"
    big.save(plain, "JPEG", quality=92)
    big.save(mpo, "MPO", quality=92, save_all=True, append_images=[big.resize((320, 188))])
    settings = EngineSettings()
    expected = detect_faces(prepare_image(plain, settings.max_side), settings)
    got = detect_faces(prepare_image(mpo, settings.max_side), settings)
    assert len(expected) == 2
    assert [_box(b) for b in got] == [_box(b) for b in expected]
