"""How close different people come: distances inside real group photos.

face_recognition's README warns that its model (trained on adults) confuses
children at its 0.6 tolerance. We have no children's photos to measure, so
this prints the next honest thing: how the encoding distances between
*different* people in the bundled group photos are distributed, next to the
distances of the *same* person on different photos. bald_guys.jpg is a
collage of 24 separate photos of FOUR bald actors of similar age, six photos
each (bench/annotations.json names them; it is dlib's face-clustering
example, so it is not "24 different people"): 216 pairs of different people
who look alike, and 60 pairs of the same man on different photos.
two_people.jpg adds Obama-Biden; obama*.jpg and 32bit.png (Obama), biden.jpg
and the right face of two_people.jpg (Biden) add same-person pairs. Faces are encoded from
their annotated boxes (bench/annotations.json) with the default engine
settings; bald_guys.jpg is also encoded at 0.35x and 0.18x (faces of
33-85 px and 17-43 px, as in a class photo) because small faces blur
identities together.

Crops and copies of one photo (see SAME_SOURCE in thresholds.py) are left
out of the same-person set, so that it holds different photos only.

Run: .venv/bin/python bench/lookalikes.py
"""

from __future__ import annotations

import itertools
import json

import numpy as np
from common import ANNOTATIONS, FACES_DIR, machine, scaled, table
from thresholds import SAME_SOURCE, SKIP, _encode

from consentflow.config import MATCH_DEFAULTS
from consentflow.faces.matching import MatchThresholds

THRESHOLDS = MatchThresholds.from_config(MATCH_DEFAULTS)
PERCENTILES = (1, 5, 10, 25, 50, 75, 95)
BIN = 0.05


def _pairs_within(
    encodings: list[np.ndarray], identities: list[str], same: bool = False
) -> list[float]:
    """Distances of all pairs of different people (or, with ``same``, of the same person)."""
    return [
        float(np.linalg.norm(a - b))
        for (ia, a), (ib, b) in itertools.combinations(zip(identities, encodings), 2)
        if (ia == ib) == same
    ]


def _row(label: str, values: list[float]) -> list[object]:
    v = np.array(values)
    shares = [
        f"{(v < THRESHOLDS.strict).mean():.1%}",
        f"{(v < THRESHOLDS.loose).mean():.1%}",
    ]
    return [label, len(v), round(float(v.min()), 3), *np.round(np.percentile(v, PERCENTILES), 3),
            round(float(v.max()), 3), *shares]


def _histogram(series: dict[str, list[float]], width: int = 40) -> str:
    """One line per 0.05 bin; each series scaled to its own largest bin, shown as a share."""
    everything = np.concatenate([np.array(v) for v in series.values()])
    low = np.floor(everything.min() / BIN) * BIN
    high = np.ceil(everything.max() / BIN) * BIN
    edges = np.arange(low, high + BIN / 2, BIN)
    counts = {k: np.histogram(v, bins=edges)[0] for k, v in series.items()}
    lines = [f"{'distance':>11}  " + "  ".join(f"{k:<{width}}" for k in series)]
    for i in range(len(edges) - 1):
        marks = []
        for c in counts.values():
            share = c[i] / max(1, c.sum())
            bar = "#" * round(share / max(c.max() / max(1, c.sum()), 1e-9) * (width - 8))
            marks.append(f"{bar:<{width - 7}}{share:>6.0%}" if c[i] else " " * width)
        flag = "  <- strict" if abs(edges[i] - THRESHOLDS.strict) < 1e-9 else ""
        flag = "  <- loose" if abs(edges[i] - THRESHOLDS.loose) < 1e-9 else flag
        lines.append(f"{edges[i]:.2f}-{edges[i + 1]:.2f}  " + "  ".join(marks) + flag)
    return "\n".join(lines)


def main() -> None:
    data = json.loads(ANNOTATIONS.read_text())["images"]
    bald = data["bald_guys.jpg"]["faces"]
    who = data["bald_guys.jpg"]["identities"]
    bald_full = _encode("bald_guys.jpg", FACES_DIR / "bald_guys.jpg", bald)
    different = {"bald_guys.jpg (4 men, 94-242 px)": _pairs_within(bald_full, who)}
    same = {"bald_guys.jpg (4 men, 94-242 px)": _pairs_within(bald_full, who, same=True)}
    for factor, size in ((0.35, "33-85 px"), (0.18, "17-43 px")):
        sample = scaled("bald_guys.jpg", factor)
        encodings = _encode(sample.name, sample.path, sample.faces)
        different[f"bald_guys at {factor}x ({size})"] = _pairs_within(encodings, who)
        same[f"bald_guys at {factor}x ({size})"] = _pairs_within(encodings, who, same=True)
    two = data["two_people.jpg"]
    two_enc = _encode("two_people.jpg", FACES_DIR / "two_people.jpg", two["faces"])
    different["two_people.jpg (Obama-Biden)"] = _pairs_within(two_enc, two["identities"])

    # Same person, different photos (copies and crops of one photo left out).
    photos: list[tuple[str, str, np.ndarray]] = []
    for name, entry in data.items():
        if name in SKIP or name == "bald_guys.jpg" or not entry["faces"]:
            continue
        encodings = two_enc if name == "two_people.jpg" else _encode(
            name, FACES_DIR / name, entry["faces"]
        )
        for identity, encoding in zip(entry["identities"], encodings):
            photos.append((identity, SAME_SOURCE.get(name, name), encoding))
    same_all = [
        float(np.linalg.norm(a - b))
        for (ida, srca, a), (idb, srcb, b) in itertools.combinations(photos, 2)
        if ida == idb and srca != srcb
    ]
    same["Obama, Biden on different photos"] = same_all
    full_key = "bald_guys.jpg (4 men, 94-242 px)"
    all_different = different[full_key] + different["two_people.jpg (Obama-Biden)"]
    all_same = same[full_key] + same_all

    print(f"# look-alikes: encoding distances; machine: {machine()}")
    print(f"# thresholds: strict {THRESHOLDS.strict}, loose {THRESHOLDS.loose}, "
          f"margin {THRESHOLDS.margin}\n")
    headers = ["pairs", "n", "min", *[f"p{p}" for p in PERCENTILES], "max",
               f"< {THRESHOLDS.strict}", f"< {THRESHOLDS.loose}"]
    rows = [_row(f"different: {k}", v) for k, v in different.items()]
    rows += [_row(f"same person: {k}", v) for k, v in same.items()]
    print(table(headers, rows))
    print("\n" + _identification(bald_full, who))
    print("\n# histogram (share of each column's pairs per 0.05 bin)\n")
    print(_histogram({"different people (full size)": all_different,
                      "different people at 0.18x": different["bald_guys at 0.18x (17-43 px)"],
                      "same person (full size)": all_same}, width=30))


def _identification(encodings: list[np.ndarray], who: list[str]) -> str:
    """Each bald_guys face as a query, every other photo as a reference: how it classifies."""
    from consentflow.faces.matching import ReferenceIndex, classify

    names = sorted(set(who))
    counts: dict[str, int] = {}
    for k, query in enumerate(encodings):
        refs = [(names.index(w), e) for j, (w, e) in enumerate(zip(who, encodings)) if j != k]
        outcome = classify(ReferenceIndex(refs).match(query, top_k=5), THRESHOLDS)
        if outcome.status == "matched":
            right = outcome.person_id == names.index(who[k])
            key = "matched, right person" if right else "matched, WRONG person"
        else:
            key = outcome.status
        counts[key] = counts.get(key, 0) + 1
    parts = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    return f"leave-one-out on bald_guys (5 other photos of each man as references): {parts}"


if __name__ == "__main__":
    main()
