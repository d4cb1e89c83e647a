"""Video redaction benchmark: consentflow's pipeline against deface on the same clip.

    .venv/bin/python bench/video.py                 # 20 s of 1080p30, 6 faces
    .venv/bin/python bench/video.py --seconds 5     # quicker
    .venv/bin/python bench/video.py --skip-deface   # consentflow only

1. Composes a clip with ground truth (bench/videoclip.py): real faces from
   /work/shared/faces moving, scaling, entering, leaving and crossing
   (occluding each other) on a textured background, H.264 1080p30.
   Cached in $TMPDIR/consentflow-bench/video/, never committed.
2. consentflow: ``analyse_video`` (CenterFace on sampled frames + tracker)
   and ``render_video`` with every track blurred; wall time -> frames/s.
3. deface (https://github.com/ORB-HD/deface, installed from PyPI into its
   own virtualenv $TMPDIR/consentflow-bench/deface-venv with its own
   OpenCV/imageio stack; the project's venv is never touched), default
   options, on the same clip; wall time -> frames/s.
4. Judges both output files frame by frame against the ground truth
   (faces at least half visible):
   - **recall**: a face is covered when every cell of a 3x3 grid over the
     central 80% of its box was changed by the redaction (mean absolute
     difference to the source frame > ``CHANGED``); pixel-based, so it
     treats deface's ellipses and our head regions alike;
   - **leak frames**: frames where some face is still found by an
     independent detector, dlib's HOG (consentflow's video pipeline uses
     CenterFace only), run on a crop around the true face enlarged to a
     ~120 px face; reported separately: frames where the project's matcher
     (dlib encoding at the true box) is still within 0.6 of that face's
     source photo.
   The same judges run on the unredacted source (every 10th frame) as a
   control: they must see the faces there.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from bench.common import CACHE_DIR, FACES_DIR, machine, table  # noqa: E402
from bench.videoclip import Actor, TruthBox, compose_clip, face_box  # noqa: E402
from consentflow.faces import detectors  # noqa: E402
from consentflow.faces.engine import EngineSettings, FaceBox, encode_faces  # noqa: E402
from consentflow.faces.matching import MatchThresholds  # noqa: E402
from consentflow.photos.boxes import Box  # noqa: E402
from consentflow.publish.redact import head_region  # noqa: E402
from consentflow.video.analyse import VideoSettings, analyse_video  # noqa: E402
from consentflow.video.decode import Frame, VideoLimits, iter_frames, probe_video  # noqa: E402
from consentflow.video.render import render_video  # noqa: E402
from consentflow.video.tracking import boxes_per_frame  # noqa: E402

LOOSE_THRESHOLD = MatchThresholds.defaults().loose

VERSION = 1
VIDEO_DIR = CACHE_DIR / "video"
DEFACE_VENV = CACHE_DIR / "deface-venv"
MIN_VISIBLE = 0.5
CHANGED = 12.0  # grey levels; x264 re-encoding alone changes a cell by ~1-3
JUDGE_FACE_PX = 120


def actors(width: int, height: int, seconds: float) -> tuple[Actor, ...]:
    """Six faces; coordinates are given for 1920x1080 and scaled to the clip."""
    sx, sy = width / 1920, height / 1080

    def at(x: float, y: float) -> tuple[float, float]:
        return (x * sx, y * sy)

    def w(a: float, b: float) -> tuple[float, float]:
        return (a * sx, b * sx)

    s = seconds
    return (
        Actor(FACES_DIR / "obama.jpg", at(200, 300), at(1700, 360), w(120, 200)),
        Actor(FACES_DIR / "biden.jpg", at(1700, 700), at(250, 640), w(180, 110)),
        Actor(FACES_DIR / "Tom_Cruise_avp_2014_4.jpg", at(300, 900), at(1600, 250), w(90, 150),
              enter=0.1 * s, leave=0.9 * s),
        Actor(FACES_DIR / "lin-manuel-miranda.png", at(960, 520), at(1000, 560), w(250, 300)),
        Actor(FACES_DIR / "obama3.jpg", at(-150, 180), at(1100, 150), w(70, 70),
              enter=0.25 * s, leave=0.75 * s),
        Actor(FACES_DIR / "obama2.jpg", at(1500, 960), at(600, 980), w(50, 60)),
    )


def clip(width: int, height: int, fps: int, seconds: float) -> tuple[Path, dict[int, list[TruthBox]]]:
    VIDEO_DIR.mkdir(parents=True, exist_ok=True)
    stem = VIDEO_DIR / f"v{VERSION}-{width}x{height}-{fps}fps-{seconds:g}s"
    path, truth_path = stem.with_suffix(".mp4"), stem.with_suffix(".json")
    if path.exists() and truth_path.exists():
        raw = json.loads(truth_path.read_text())
        return path, {int(k): [TruthBox(**b) for b in v] for k, v in raw.items()}
    started = time.perf_counter()
    truth = compose_clip(path, actors(width, height, seconds), width, height, fps, seconds)
    truth_path.write_text(json.dumps({k: [b.__dict__ for b in v] for k, v in truth.items()}))
    print(f"composed {path.name} in {time.perf_counter() - started:.0f} s")
    return path, truth


def deface_command() -> Path:
    binary = DEFACE_VENV / "bin" / "deface"
    if not binary.exists():
        print(f"installing deface into {DEFACE_VENV} (own venv, from PyPI)")
        # The system python3, not this venv's: deface needs its own OpenCV and imageio.
        subprocess.run(["python3", "-m", "venv", str(DEFACE_VENV)], check=True)
        subprocess.run([str(DEFACE_VENV / "bin" / "pip"), "install", "-q", "deface"], check=True)
    return binary


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def run_consentflow(source: Path, dest: Path) -> dict[str, float]:
    settings = VideoSettings()
    cpu0 = cpu_seconds(resource.RUSAGE_SELF)
    started = time.perf_counter()
    analysis = analyse_video(source, settings)
    analysed = time.perf_counter()
    blur = boxes_per_frame(analysis.tracks)
    rendered = render_video(source, dest, analysis.info, blur, keep_audio=False)
    done = time.perf_counter()
    wall = done - started
    return {
        "frames": rendered.frames,
        "seconds": wall,
        "fps": rendered.frames / wall,
        "analyse_s": analysed - started,
        "render_s": done - analysed,
        "cpu_s": cpu_seconds(resource.RUSAGE_SELF) - cpu0,
        "tracks": len(analysis.tracks),
        "step": analysis.step,
        "blur": blur,  # type: ignore[dict-item]
    }


def run_deface(source: Path, dest: Path, frames: int) -> dict[str, float]:
    binary = deface_command()
    cpu0 = cpu_seconds(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run([str(binary), str(source), "-o", str(dest)],
                            capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"deface failed: {result.stderr[-2000:]}")
    return {"frames": frames, "seconds": wall, "fps": frames / wall,
            "cpu_s": cpu_seconds(resource.RUSAGE_CHILDREN) - cpu0}


class Judge:
    """Independent look at one output: HOG on crops, the matcher at the true box."""

    def __init__(self, references: dict[int, np.ndarray]) -> None:
        self.references = references
        self.engine = EngineSettings()

    def hog_finds(self, pixels: np.ndarray, face: TruthBox) -> bool:
        w, h = face.right - face.left, face.bottom - face.top
        height, width = pixels.shape[:2]
        left, top = max(0, int(face.left - 0.6 * w)), max(0, int(face.top - 0.6 * h))
        right, bottom = min(width, int(face.right + 0.6 * w)), min(height, int(face.bottom + 0.6 * h))
        zoom = JUDGE_FACE_PX / max(1, w)
        crop = Image.fromarray(pixels[top:bottom, left:right])
        crop = crop.resize((max(1, round(crop.width * zoom)), max(1, round(crop.height * zoom))),
                           Image.Resampling.BICUBIC)
        found = detectors.hog_detect(np.asarray(crop), 0, 0.0)
        for det in found:
            cx = (det[0] + det[2]) / 2 / zoom + left
            cy = (det[1] + det[3]) / 2 / zoom + top
            if face.left <= cx <= face.right and face.top <= cy <= face.bottom:
                return True
        return False

    def matcher_finds(self, pixels: np.ndarray, face: TruthBox) -> bool:
        box = FaceBox(face.left, face.top, face.right, face.bottom, 1.0, "truth")
        encoding = encode_faces(Image.fromarray(pixels), [box], self.engine)[0]
        return float(np.linalg.norm(encoding - self.references[face.actor])) < LOOSE_THRESHOLD


def covered(source: np.ndarray, output: np.ndarray, face: TruthBox) -> bool:
    w, h = face.right - face.left, face.bottom - face.top
    left, top = face.left + 0.1 * w, face.top + 0.1 * h
    for i in range(3):
        for j in range(3):
            x0, y0 = int(left + i * 0.8 * w / 3), int(top + j * 0.8 * h / 3)
            x1, y1 = int(left + (i + 1) * 0.8 * w / 3), int(top + (j + 1) * 0.8 * h / 3)
            a = source[y0:y1, x0:x1].astype(np.int16)
            b = output[y0:y1, x0:x1].astype(np.int16)
            if a.size == 0 or b.shape != a.shape or float(np.abs(a - b).mean()) <= CHANGED:
                return False
    return True


# The judge is slow per frame; the decode deadline covers the consumer's work too.
JUDGE_LIMITS = VideoLimits(decode_seconds_per_second=1e6)


def frames_of(path: Path, every: int = 1) -> Iterator[Frame]:
    return iter_frames(path, probe_video(path, JUDGE_LIMITS), JUDGE_LIMITS, every=every)


def judge(source: Path, output: Path, truth: dict[int, list[TruthBox]], judge_: Judge,
          step: int) -> dict[str, float]:
    present = covered_count = 0
    hog_leak_frames = matcher_leak_frames = any_leak_frames = judged = 0
    for src, out in zip(frames_of(source, step), frames_of(output, step)):
        faces = [f for f in truth.get(src.index, []) if f.visible >= MIN_VISIBLE]
        out_pixels = out.pixels
        if out_pixels.shape != src.pixels.shape:
            # deface (imageio) pads to a multiple of 16 by scaling 1080 -> 1088: scale back.
            height, width = src.pixels.shape[:2]
            out_pixels = np.asarray(Image.fromarray(out_pixels).resize((width, height),
                                                                       Image.Resampling.BILINEAR))
        judged += 1
        hog_leak = matcher_leak = False
        for face in faces:
            present += 1
            covered_count += covered(src.pixels, out_pixels, face)
            hog_leak |= judge_.hog_finds(out_pixels, face)
            matcher_leak |= judge_.matcher_finds(out_pixels, face)
        hog_leak_frames += hog_leak
        matcher_leak_frames += matcher_leak
        any_leak_frames += hog_leak or matcher_leak
    return {"judged": judged, "present": present, "recall": covered_count / max(1, present),
            "hog_leaks": hog_leak_frames, "matcher_leaks": matcher_leak_frames,
            "leak_frames": any_leak_frames}


def control(source: Path, truth: dict[int, list[TruthBox]], judge_: Judge) -> dict[str, float]:
    seen_hog = seen_matcher = present = 0
    for frame in frames_of(source, 10):
        for face in truth.get(frame.index, []):
            if face.visible >= MIN_VISIBLE:
                present += 1
                seen_hog += judge_.hog_finds(frame.pixels, face)
                seen_matcher += judge_.matcher_finds(frame.pixels, face)
    return {"present": present, "hog": seen_hog / max(1, present),
            "matcher": seen_matcher / max(1, present)}


def geometric_recall(truth: dict[int, list[TruthBox]], blur: dict[int, list], width: int,
                     height: int) -> float:
    present = inside = 0
    for frame, faces in truth.items():
        regions = [head_region(b, width, height) for b in blur.get(frame, [])]
        for face in faces:
            if face.visible < MIN_VISIBLE:
                continue
            present += 1
            inside += any(r.left <= face.left and r.top <= face.top and r.right >= face.right
                          and r.bottom >= face.bottom for r in regions)
    return inside / max(1, present)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--skip-deface", action="store_true")
    parser.add_argument("--judge-step", type=int, default=1, help="judge every n-th frame")
    parser.add_argument("--judge-only", action="store_true",
                        help="judge the outputs of the last run on this clip again")
    args = parser.parse_args()

    print(machine())
    source, truth = clip(args.width, args.height, args.fps, args.seconds)
    info = probe_video(source)
    print(f"clip: {source} {info.width}x{info.height} {info.fps:g} fps {info.duration:.1f} s, "
          f"{sum(len([f for f in v if f.visible >= MIN_VISIBLE]) for v in truth.values())} "
          f"visible faces over {len(truth)} frames")
    out_dir = VIDEO_DIR / f"out-{source.stem}"
    out_dir.mkdir(exist_ok=True)

    runs = out_dir / "runs.json"
    if args.judge_only:
        saved = json.loads(runs.read_text())
        ours, theirs = saved["consentflow"], saved.get("deface")
        ours["blur"] = {int(k): [Box(*b) for b in v] for k, v in ours.get("blur", {}).items()}
        print(f"judging the outputs of an earlier run: {json.dumps(ours | {'blur': '...'})}, "
              f"deface {theirs}")
    else:
        ours, theirs = measure(args, source, out_dir)
        saved = {"consentflow": ours | {"blur": {k: [[b.left, b.top, b.right, b.bottom] for b in v]
                                                  for k, v in ours["blur"].items()}},
                 "deface": theirs}
        runs.write_text(json.dumps(saved))

    references = {}
    for number, actor in enumerate(actors(args.width, args.height, args.seconds)):
        with Image.open(actor.image) as photo:
            box = FaceBox(*face_box(actor.image), score=1.0, detector="annotation")
            references[number] = encode_faces(photo.convert("RGB"), [box], EngineSettings())[0]
    judge_ = Judge(references)
    check = control(source, truth, judge_)
    print(f"control on the unredacted source (every 10th frame, {check['present']} faces): "
          f"HOG sees {check['hog']:.1%}, the matcher recognises {check['matcher']:.1%}")
    rows = []
    mine = judge(source, out_dir / "consentflow.mp4", truth, judge_, args.judge_step)
    geo = (f" (geometric {geometric_recall(truth, ours['blur'], info.width, info.height):.4f})"
           if ours["blur"] else "")
    rows.append(["consentflow", f"{ours['fps']:.2f}", f"{mine['recall']:.4f}{geo}",
                 mine["leak_frames"], mine["hog_leaks"], mine["matcher_leaks"], mine["judged"]])
    if theirs is not None:
        other = judge(source, out_dir / "deface.mp4", truth, judge_, args.judge_step)
        rows.append(["deface 1.5 (defaults)", f"{theirs['fps']:.2f}", f"{other['recall']:.4f}",
                     other["leak_frames"], other["hog_leaks"], other["matcher_leaks"],
                     other["judged"]])
        print(f"speed ratio consentflow/deface: {ours['fps'] / theirs['fps']:.2f}x")
    print(table(["pipeline", "frames/s", "per-frame recall", "leak frames", "HOG leak frames",
                 "matcher leak frames", "frames judged"], rows))
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")


def measure(args: argparse.Namespace, source: Path, out_dir: Path) -> tuple[dict, dict | None]:
    """Run both tools on the clip; wall time, CPU time and load."""
    print(f"load before consentflow: {os.getloadavg()}")
    ours = run_consentflow(source, out_dir / "consentflow.mp4")
    print(f"consentflow: {ours['fps']:.2f} frames/s ({ours['seconds']:.1f} s wall: analyse "
          f"{ours['analyse_s']:.1f} s, render {ours['render_s']:.1f} s; {ours['cpu_s']:.1f} CPU s), "
          f"{ours['tracks']} tracks, detection every {ours['step']} frames; load {os.getloadavg()}")
    theirs = None
    if not args.skip_deface:
        print(f"load before deface: {os.getloadavg()}")
        theirs = run_deface(source, out_dir / "deface.mp4", int(ours["frames"]))
        print(f"deface: {theirs['fps']:.2f} frames/s ({theirs['seconds']:.1f} s wall, "
              f"{theirs['cpu_s']:.1f} CPU s); load {os.getloadavg()}")
    return ours, theirs


if __name__ == "__main__":
    main()
