"""The leak rule of the redaction check, branch by branch, on made-up faces (no detector).

``publish.verify.find_leaks`` decides which faces the engine found in a
derivative must stop publication. The real-detection tests
(tests/services/test_publish_group.py) prove it on photos; these pin every
branch and boundary in milliseconds, so a one-character change to the rule
fails here (bench/mutate.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from consentflow.photos.boxes import Box
from consentflow.publish.redact import head_region
from consentflow.publish.verify import CheckResult, FoundFace, Leak, PhotoFace, find_leaks

W, H = 1000, 800
TOLERANCE = 0.5


def _enc(x: float) -> np.ndarray:
    """An encoding at distance |x - y| from _enc(y)."""
    vector = np.zeros(128)
    vector[0] = x
    return vector


def _found(box: tuple[int, int, int, int], x: float = 9.0) -> FoundFace:
    return FoundFace(Box(*box), _enc(x))


def _leaks(found, *, shown=(), blurred=(), references=(), not_faces=(), tolerance=TOLERANCE):
    return find_leaks(found, shown=shown, blurred=blurred, references=references, tolerance=tolerance,
                      width=W, height=H, not_faces=not_faces)


SHOWN = PhotoFace(1, Box(100, 100, 200, 220), (11,))
BLURRED = PhotoFace(2, Box(500, 100, 600, 220), (22,))
REFS = [(22, _enc(0.0))]


def test_a_shown_face_is_never_a_leak_even_when_it_looks_like_a_blurred_person() -> None:
    assert _leaks([_found((100, 100, 200, 220), x=0.0)], shown=[SHOWN], blurred=[BLURRED],
                  references=REFS) == ()


def test_a_face_on_a_blurred_face_is_a_leak_whoever_it_resembles() -> None:
    assert _leaks([_found((505, 105, 600, 220))], shown=[SHOWN], blurred=[BLURRED], references=REFS) == (
        Leak(Box(505, 105, 600, 220), 2, "on_blurred_region"),)


def test_a_face_elsewhere_in_a_blurred_head_region_is_a_leak() -> None:
    # Too small to be the same box, its centre inside the blurred head's region.
    region = head_region(BLURRED.box, W, H)
    box = (region.left, region.top, region.left + 20, region.top + 20)
    assert _leaks([_found(box)], blurred=[BLURRED], references=REFS) == (
        Leak(Box(*box), 2, "on_blurred_region"),)


def test_the_head_region_edges_left_and_top_inside_right_and_bottom_outside() -> None:
    region = head_region(BLURRED.box, W, H)
    inside = (region.left - 10, region.top - 10, region.left + 10, region.top + 10)  # centre on the corner
    right = (region.right - 10, region.top, region.right + 10, region.top + 20)  # centre on the right edge
    below = (region.left, region.bottom - 10, region.left + 20, region.bottom + 10)
    low_inside = (region.right - 20, region.bottom - 20, region.right, region.bottom)  # centre 10 px in
    found = _leaks([_found(inside), _found(right), _found(below), _found(low_inside)], blurred=[BLURRED])
    assert [(leak.box, leak.reason) for leak in found] == [
        (Box(*inside), "on_blurred_region"), (Box(*right), "unreviewed_face"),
        (Box(*below), "unreviewed_face"), (Box(*low_inside), "on_blurred_region")]


def test_an_unreviewed_face_resembling_a_blurred_person_names_them() -> None:
    far = (850, 600, 900, 660)
    assert _leaks([_found(far, x=0.123456)], shown=[SHOWN], blurred=[BLURRED], references=REFS) == (
        Leak(Box(*far), 2, "resembles_blurred_person", 22, 0.1235),)


def test_the_closest_of_several_references_is_named() -> None:
    far = (850, 600, 900, 660)
    other = PhotoFace(3, Box(300, 400, 360, 470), (33,))
    references = [(22, _enc(0.4)), (33, [0.0] + [0.0] * 127), (22, _enc(0.3))]
    (leak,) = _leaks([_found(far, x=0.05)], blurred=[BLURRED, other], references=references)
    assert (leak.face_id, leak.person_id, leak.distance) == (3, 33, 0.05)


def test_at_the_tolerance_it_is_no_longer_a_resemblance() -> None:
    far = (850, 600, 900, 660)
    assert _leaks([_found(far, x=TOLERANCE)], blurred=[BLURRED], references=REFS) == (
        Leak(Box(*far), None, "unreviewed_face"),)
    assert _leaks([_found(far, x=TOLERANCE - 0.001)], blurred=[BLURRED], references=REFS)[0].reason == (
        "resembles_blurred_person")


def test_a_face_nobody_reviewed_is_a_leak_and_a_not_a_face_is_judged_by_resemblance() -> None:
    marked = PhotoFace(4, Box(700, 300, 760, 370))
    assert _leaks([_found((850, 600, 900, 660))], blurred=[BLURRED]) == (
        Leak(Box(850, 600, 900, 660), None, "unreviewed_face"),)
    # A box a reviewer called "not a face": no leak unless it shows a blurred person.
    assert _leaks([_found((700, 300, 760, 370))], blurred=[BLURRED], references=REFS, not_faces=[marked]) == ()
    assert _leaks([_found((700, 300, 760, 370), x=0.1)], blurred=[BLURRED], references=REFS,
                  not_faces=[marked]) == (Leak(Box(700, 300, 760, 370), 4, "resembles_blurred_person", 22, 0.1),)


@pytest.mark.parametrize(("box", "same"), [
    ((100, 100, 200, 160), True),   # IoU exactly 0.5
    ((100, 100, 200, 136), True),   # IoU exactly 0.3: still the same face
    ((100, 100, 200, 135), False),  # just below
])
def test_the_same_face_from_an_overlap_of_three_tenths(box, same) -> None:
    found = _leaks([_found(box, x=0.0)], shown=[SHOWN], blurred=[], references=REFS)
    assert (found == ()) is same


def test_the_best_overlap_decides_between_a_shown_and_a_blurred_face() -> None:
    shown = PhotoFace(1, Box(100, 100, 200, 200))
    blurred = PhotoFace(2, Box(150, 100, 250, 200))
    closer_to_blurred = (140, 100, 240, 200)
    assert _leaks([_found(closer_to_blurred)], shown=[shown], blurred=[blurred])[0].face_id == 2
    assert _leaks([_found((105, 100, 205, 200))], shown=[shown], blurred=[blurred]) == ()
    # Exactly between the two: when in doubt, it is the blurred face, a leak.
    assert _leaks([_found((125, 100, 225, 200))], shown=[shown], blurred=[blurred])[0].face_id == 2


def test_every_face_is_judged_and_nothing_found_is_fine() -> None:
    assert _leaks([]) == ()
    far = (850, 600, 900, 660)
    found = [_found((505, 105, 600, 220)), _found(far)]
    assert len(_leaks(found, blurred=[BLURRED])) == 2
    assert CheckResult(2, ()).ok
    assert not CheckResult(2, (Leak(Box(*far), None, "unreviewed_face"),)).ok


def test_of_two_people_at_the_same_distance_the_first_reference_is_named() -> None:
    step = np.zeros(128)
    step[1] = 0.2
    references = [(22, step), (33, -step), (44, 2 * step)]
    (leak,) = _leaks([_found((800, 500, 840, 540), x=0.0)], blurred=[BLURRED], references=references)
    assert (leak.reason, leak.person_id, leak.distance) == ("resembles_blurred_person", 22, 0.2)


def test_a_derivative_without_faces_is_checked_and_fine() -> None:
    # The one case here that runs the engine: a plain picture, nothing found.
    from PIL import Image

    from consentflow.publish.verify import check_derivative

    result = check_derivative(Image.new("RGB", (320, 240), (120, 140, 160)), shown=[], blurred=[BLURRED],
                              references=REFS, tolerance=TOLERANCE)
    assert result == CheckResult(0, ()) and result.ok
