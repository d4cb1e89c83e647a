"""The deny-by-default rule per face and purpose (consentflow.photos.decisions)."""

from __future__ import annotations

from consentflow.photos.decisions import (
    FaceFacts,
    ReviewFacts,
    consent_purpose,
    decide_face,
    decide_photo,
    persons_to_check,
)

P, Q = 11, 22
WEB = "website.photo"


def test_auto_match_with_consent_is_only_a_suggestion() -> None:
    d = decide_face(FaceFacts(1, "matched", P), WEB, consent_ok=True)
    assert d.action == "blur_unknown" and d.blur and d.flagged
    assert d.reason == "awaiting_confirmation" and d.person_id == P and not d.confirmed


def test_confirmed_person_with_consent_is_shown() -> None:
    facts = FaceFacts(1, "matched", P, ReviewFacts("confirm"))
    d = decide_face(facts, WEB, consent_ok=True)
    assert d.action == "show" and d.shown and not d.flagged and d.person_id == P and d.confirmed


def test_matched_without_consent_is_blurred_even_when_confirmed() -> None:
    for review in (None, ReviewFacts("confirm")):
        d = decide_face(FaceFacts(1, "matched", P, review), WEB, consent_ok=False)
        assert d.action == "blur_no_consent" and d.person_id == P
    assert decide_face(FaceFacts(1, "matched", P, ReviewFacts("confirm")), WEB,
                       consent_ok=None).action == "blur_no_consent"


def test_unknown_ambiguous_weak_are_blurred_and_flagged() -> None:
    for status in ("unknown", "ambiguous", "weak"):
        d = decide_face(FaceFacts(1, status, None), WEB, consent_ok=True)
        assert d.action == "blur_unknown" and d.flagged and d.reason == status


def test_reviewer_assignment_and_rejection() -> None:
    assigned = decide_face(FaceFacts(1, "unknown", None, ReviewFacts("assign", Q)), WEB, True)
    assert assigned.action == "show" and assigned.person_id == Q
    rejected = decide_face(FaceFacts(1, "matched", P, ReviewFacts("not_person", P)), WEB, True)
    assert rejected.action == "blur_unknown" and rejected.flagged and rejected.person_id is None


def test_not_a_face_and_external_adult() -> None:
    assert decide_face(FaceFacts(1, "unknown", None, ReviewFacts("not_face")), WEB,
                       None).action == "not_a_face"
    ok = decide_face(FaceFacts(1, "unknown", None, ReviewFacts("external_adult", note="mayor")),
                     WEB, None)
    assert ok.action == "show"
    no_note = decide_face(FaceFacts(1, "unknown", None, ReviewFacts("external_adult", note=" ")),
                          WEB, None)
    assert no_note.action == "blur_unknown" and no_note.flagged


def test_matching_off_ignores_auto_matches() -> None:
    d = decide_face(FaceFacts(1, "matched", P, None), WEB, True, auto_matching=False)
    assert d.action == "blur_unknown" and d.person_id is None


def test_photo_decision_per_purpose_and_one_person_once() -> None:
    faces = [
        FaceFacts(1, "matched", P, ReviewFacts("confirm")),
        FaceFacts(2, "unknown", None, ReviewFacts("assign", P)),  # P twice: both lose identity
        FaceFacts(3, "matched", Q, ReviewFacts("confirm")),
    ]
    consent = {(P, WEB): True, (Q, WEB): True, (Q, "social_media.photo"): False}
    result = decide_photo(faces, [WEB, "social_media.photo"], consent)
    web = result.faces(WEB)
    assert [d.action for d in web] == ["blur_unknown", "blur_unknown", "show"]
    assert web[0].reason == web[1].reason == "person_twice"
    social = result.faces("social_media.photo")
    assert social[2].action == "blur_no_consent"
    assert result.needs_review()
    assert persons_to_check(faces) == {P, Q}


def test_consent_map_records_are_read_per_purpose() -> None:
    class Record:  # stands for ConsentRecord: decisions per purpose
        decisions = {WEB: True, "press.photo": False}

    faces = [FaceFacts(1, "matched", P, ReviewFacts("confirm"))]
    result = decide_photo(faces, [WEB, "press.photo"], {(P, WEB): Record(), (P, "press.photo"): Record()})
    assert result.faces(WEB)[0].shown and result.faces("press.photo")[0].blur
    missing = decide_photo(faces, [WEB], {(P, WEB): None})
    assert missing.faces(WEB)[0].action == "blur_no_consent"


def test_consent_purpose_key() -> None:
    assert consent_purpose("website") == "website.photo"
    assert consent_purpose("website.video") == "website.video"
