"""Every field of every decision the deny-by-default rule returns, compared whole.

test_decisions.py checks the action of each rule; mutation testing (bench/mutate.py)
showed that the other fields (face id, purpose, reason, consulted person,
confirmed, flagged) could be changed without a test noticing. The review grid,
the refusal messages and the publication snapshot read those fields, so each
rule's full outcome is pinned here.
"""

from __future__ import annotations

from consentflow.photos.decisions import (
    FaceDecision,
    FaceFacts,
    Identity,
    PhotoDecision,
    ReviewFacts,
    consent_purpose,
    decide_face,
    decide_photo,
    identify,
    persons_to_check,
)

P, Q = 11, 22
WEB = "website.photo"
PRESS = "press.photo"


def test_each_rule_returns_its_whole_decision() -> None:
    cases = [
        (FaceFacts(7, "unknown", None, ReviewFacts("not_face")), None,
         FaceDecision(7, WEB, "not_a_face", "not_face", confirmed=True)),
        (FaceFacts(7, "unknown", None, ReviewFacts("external_adult", note=" mayor ")), None,
         FaceDecision(7, WEB, "show", "external_adult", confirmed=True)),
        (FaceFacts(7, "unknown", None, ReviewFacts("external_adult")), None,
         FaceDecision(7, WEB, "blur_unknown", "external_adult_without_note", flagged=True)),
        (FaceFacts(7, "weak", None), True, FaceDecision(7, WEB, "blur_unknown", "weak", flagged=True)),
        (FaceFacts(7, "matched", P, ReviewFacts("confirm")), False,
         FaceDecision(7, WEB, "blur_no_consent", "no_consent", person_id=P, confirmed=True)),
        (FaceFacts(7, "matched", P), False,
         FaceDecision(7, WEB, "blur_no_consent", "no_consent", person_id=P, confirmed=False)),
        (FaceFacts(7, "matched", P), True,
         FaceDecision(7, WEB, "blur_unknown", "awaiting_confirmation", person_id=P, flagged=True)),
        (FaceFacts(7, "matched", P, ReviewFacts("confirm")), True,
         FaceDecision(7, WEB, "show", "consent", person_id=P, confirmed=True)),
        (FaceFacts(7, "unknown", None, ReviewFacts("assign", Q)), True,
         FaceDecision(7, WEB, "show", "consent", person_id=Q, confirmed=True)),
    ]
    for facts, consent_ok, expected in cases:
        assert decide_face(facts, WEB, consent_ok) == expected


def test_identify_names_the_source_of_each_identity() -> None:
    assert identify(FaceFacts(1, "matched", P)) == Identity(P, False, "suggested")
    assert identify(FaceFacts(1, "matched", P), False) == Identity(None, False, "matching_off")
    # "matched" without a person is no identity, and never reported as matched.
    assert identify(FaceFacts(1, "matched", None)) == Identity(None, False, "unknown")
    assert identify(FaceFacts(1, "ambiguous", None)) == Identity(None, False, "ambiguous")
    assert identify(FaceFacts(1, "matched", P, ReviewFacts("confirm"))) == Identity(P, True, "confirm")
    assert identify(FaceFacts(1, "matched", P, ReviewFacts("confirm", Q))) == Identity(Q, True, "confirm")
    assert identify(FaceFacts(1, "unknown", None, ReviewFacts("confirm"))) == Identity(
        None, False, "confirm_without_person")
    # An assignment names its person; it never falls back on the matcher's suggestion.
    assert identify(FaceFacts(1, "matched", P, ReviewFacts("assign"))) == Identity(
        None, False, "assign_without_person")
    assert identify(FaceFacts(1, "matched", P, ReviewFacts("not_person"))) == Identity(None, False, "not_person")
    assert identify(FaceFacts(1, "unknown", None, ReviewFacts("not_face"))) == Identity(None, True, "not_face")
    assert identify(FaceFacts(1, "unknown", None, ReviewFacts("external_adult"))) == Identity(
        None, True, "external_adult")
    assert identify(FaceFacts(1, "matched", P, ReviewFacts("shrug"))) == Identity(None, False, "unknown_review")


def test_photo_decision_whole_with_a_callable_lookup_and_matching_default_on() -> None:
    faces = [FaceFacts(1, "matched", P, ReviewFacts("confirm")), FaceFacts(2, "matched", Q),
             FaceFacts(3, "unknown", None)]
    asked: list[tuple[int, str]] = []

    def lookup(person_id: int, purpose: str) -> bool:
        asked.append((person_id, purpose))
        return person_id == P and purpose == WEB

    result = decide_photo(faces, [WEB, PRESS], lookup)
    assert result == PhotoDecision({
        WEB: (FaceDecision(1, WEB, "show", "consent", person_id=P, confirmed=True),
              FaceDecision(2, WEB, "blur_no_consent", "no_consent", person_id=Q),
              FaceDecision(3, WEB, "blur_unknown", "unknown", flagged=True)),
        PRESS: (FaceDecision(1, PRESS, "blur_no_consent", "no_consent", person_id=P, confirmed=True),
                FaceDecision(2, PRESS, "blur_no_consent", "no_consent", person_id=Q),
                FaceDecision(3, PRESS, "blur_unknown", "unknown", flagged=True)),
    })
    assert sorted(asked) == [(P, PRESS), (P, WEB), (Q, PRESS), (Q, WEB)]
    assert result.flagged(WEB) == (result.faces(WEB)[2],)
    assert result.to_blur(PRESS) == result.faces(PRESS)
    assert result.faces("social_media.photo") == ()
    off = decide_photo(faces[1:2], [WEB], lookup, auto_matching=False)
    assert off.faces(WEB) == (FaceDecision(2, WEB, "blur_unknown", "matching_off", flagged=True),)


def test_person_twice_loses_identity_unconfirmed_and_flagged() -> None:
    faces = [FaceFacts(1, "matched", P, ReviewFacts("confirm")), FaceFacts(2, "matched", P)]
    result = decide_photo(faces, [WEB], {(P, WEB): True})
    assert result.faces(WEB) == (FaceDecision(1, WEB, "blur_unknown", "person_twice", flagged=True),
                                 FaceDecision(2, WEB, "blur_unknown", "person_twice", flagged=True))


def test_consent_records_and_missing_entries() -> None:
    class Record:
        decisions = {WEB: True}

    faces = [FaceFacts(1, "matched", P, ReviewFacts("confirm"))]
    # A record without a decision for the purpose is no consent for it.
    assert decide_photo(faces, [PRESS], {(P, PRESS): Record()}).faces(PRESS)[0].action == "blur_no_consent"
    assert decide_photo(faces, [WEB], {}).faces(WEB)[0].action == "blur_no_consent"
    assert decide_photo(faces, [WEB], {(P, WEB): True}).faces(WEB)[0].action == "show"


def test_persons_to_check_follows_matching_mode() -> None:
    faces = [FaceFacts(1, "matched", P), FaceFacts(2, "unknown", None, ReviewFacts("assign", Q))]
    assert persons_to_check(faces) == {P, Q}
    assert persons_to_check(faces, False) == {Q}


def test_face_matching_purpose_has_no_medium() -> None:
    assert consent_purpose("face_matching") == "face_matching"
    assert consent_purpose("website", "video") == "website.video"
