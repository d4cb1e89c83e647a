"""Who may be shown: the deny-by-default rule per face and purpose (SPEC §4.3, §7).

Pure: plain values in, frozen dataclasses out; no Flask, no database. The
review and publication code builds on this module, so it is the one place
that turns "what we know about a face" into show / blur.

Inputs per face (``FaceFacts``): the matcher's outcome (a SUGGESTION only),
the reviewer's latest decision, if any (``ReviewFacts``), and, per
purpose, whether the identified person has effective consent.

Rules, in order:

1. Reviewer said ``not_face``   -> ``not_a_face`` (nothing to redact).
2. Reviewer said ``external_adult`` with a note -> ``show``.
3. Reviewer identified person P (``confirm`` / ``assign``):
   P has consent for the purpose -> ``show``; else ``blur_no_consent``.
4. Reviewer said ``not_person`` (the suggestion is wrong) -> ``blur_unknown``, flagged.
5. No reviewer decision, matcher says ``matched`` P (and matching is on):
   no consent -> ``blur_no_consent``; consent -> still ``blur_unknown``,
   flagged "awaiting_confirmation": whatever the mode, a face is shown only
   after a PR reviewer has seen it; one click confirms the suggestion.
6. Anything else (ambiguous, weak, unknown, matching off) -> ``blur_unknown``, flagged.

A person appears at most once per photo: if two faces resolve to the same
person, both lose the identity (``blur_unknown``, flagged "person_twice").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

# What may happen to a face in a published image; "not_a_face" drops the box altogether.
Decision = Literal["show", "blur_no_consent", "blur_unknown"]
Action = Literal["show", "blur_no_consent", "blur_unknown", "not_a_face"]
BLUR_ACTIONS: frozenset[str] = frozenset({"blur_no_consent", "blur_unknown"})
REVIEW_KINDS = ("confirm", "assign", "not_person", "not_face", "external_adult")


@dataclass(frozen=True)
class ReviewFacts:
    """The reviewer's current (latest, not revoked) decision about one face."""

    kind: str
    person_id: int | None = None
    note: str | None = None


@dataclass(frozen=True)
class FaceFacts:
    """What is known about one face, independent of purpose."""

    face_id: int | None
    match_status: str = "unknown"  # matched / ambiguous / weak / unknown
    matched_person_id: int | None = None
    review: ReviewFacts | None = None


@dataclass(frozen=True)
class Identity:
    """Who a face is, and whether a reviewer said so."""

    person_id: int | None
    confirmed: bool
    reason: str


@dataclass(frozen=True)
class FaceDecision:
    """The outcome for one face and one purpose.

    ``person_id`` is the person whose consent was consulted (confirmed or
    suggested); ``confirmed`` tells which. ``flagged`` means a reviewer must
    look at this face before the photo can be approved for the purpose.
    """

    face_id: int | None
    purpose: str
    action: Action
    reason: str
    person_id: int | None = None
    confirmed: bool = False
    flagged: bool = False

    @property
    def blur(self) -> bool:
        return self.action in BLUR_ACTIONS

    @property
    def shown(self) -> bool:
        return self.action == "show"


@dataclass(frozen=True)
class PhotoDecision:
    """Decisions for every face of a photo, per purpose."""

    by_purpose: Mapping[str, tuple[FaceDecision, ...]] = field(default_factory=dict)

    def faces(self, purpose: str) -> tuple[FaceDecision, ...]:
        return tuple(self.by_purpose.get(purpose, ()))

    def flagged(self, purpose: str) -> tuple[FaceDecision, ...]:
        return tuple(d for d in self.faces(purpose) if d.flagged)

    def to_blur(self, purpose: str) -> tuple[FaceDecision, ...]:
        return tuple(d for d in self.faces(purpose) if d.blur)

    def needs_review(self) -> bool:
        return any(d.flagged for ds in self.by_purpose.values() for d in ds)


def consent_purpose(channel: str, medium: str = "photo") -> str:
    """Album channel ("website") -> consent purpose key ("website.photo")."""
    return channel if "." in channel or channel == "face_matching" else f"{channel}.{medium}"


def identify(facts: FaceFacts, auto_matching: bool = True) -> Identity:
    """Resolve who the face is: the reviewer's word first, then the matcher's suggestion."""
    review = facts.review
    if review is not None:
        if review.kind in ("confirm", "assign"):
            person = review.person_id if review.person_id is not None else (
                facts.matched_person_id if review.kind == "confirm" else None)
            if person is None:
                return Identity(None, False, f"{review.kind}_without_person")
            return Identity(person, True, review.kind)
        if review.kind == "not_person":
            return Identity(None, False, "not_person")
        if review.kind in ("not_face", "external_adult"):
            return Identity(None, True, review.kind)
        return Identity(None, False, "unknown_review")
    if auto_matching and facts.match_status == "matched" and facts.matched_person_id is not None:
        return Identity(facts.matched_person_id, False, "suggested")
    status = facts.match_status if auto_matching else "matching_off"
    return Identity(None, False, status if status != "matched" else "unknown")


def decide_face(
    facts: FaceFacts,
    purpose: str,
    consent_ok: bool | None,
    *,
    auto_matching: bool = True,
    identity: Identity | None = None,
) -> FaceDecision:
    """Deny by default: show only a reviewer-confirmed person with consent for ``purpose``.

    ``consent_ok`` is the effective consent of the identified person for
    ``purpose`` (None or False = no consent); it is ignored when nobody is identified.
    """
    who = identity or identify(facts, auto_matching)
    review = facts.review
    if review is not None and review.kind == "not_face":
        return FaceDecision(facts.face_id, purpose, "not_a_face", "not_face", confirmed=True)
    if review is not None and review.kind == "external_adult":
        if (review.note or "").strip():
            return FaceDecision(facts.face_id, purpose, "show", "external_adult", confirmed=True)
        return FaceDecision(facts.face_id, purpose, "blur_unknown", "external_adult_without_note",
                            flagged=True)
    if who.person_id is None:
        return FaceDecision(facts.face_id, purpose, "blur_unknown", who.reason, flagged=True)
    if consent_ok is not True:
        # Blurring needs no confirmation: it is the safe side.
        return FaceDecision(facts.face_id, purpose, "blur_no_consent", "no_consent",
                            person_id=who.person_id, confirmed=who.confirmed)
    if not who.confirmed:
        return FaceDecision(facts.face_id, purpose, "blur_unknown", "awaiting_confirmation",
                            person_id=who.person_id, flagged=True)
    return FaceDecision(facts.face_id, purpose, "show", "consent", person_id=who.person_id,
                        confirmed=True)


def persons_to_check(faces: Iterable[FaceFacts], auto_matching: bool = True) -> set[int]:
    """Person ids whose consent ``decide_photo`` will need."""
    found = set()
    for facts in faces:
        who = identify(facts, auto_matching)
        if who.person_id is not None:
            found.add(who.person_id)
    return found


ConsentLookup = Mapping[tuple[int, str], Any] | Callable[[int, str], bool]


def _consent(lookup: ConsentLookup, person_id: int, purpose: str) -> bool:
    if callable(lookup):
        return bool(lookup(person_id, purpose))
    # A consent_map value is a record (truthy) or None; a bool map works too.
    value = lookup.get((person_id, purpose))
    return bool(value) if not hasattr(value, "decisions") else bool(
        getattr(value, "decisions", {}).get(purpose))


def decide_photo(
    faces: Sequence[FaceFacts],
    purposes: Iterable[str],
    consent: ConsentLookup,
    *,
    auto_matching: bool = True,
) -> PhotoDecision:
    """``decide_face`` for every face and purpose, with one person at most once per photo.

    ``consent`` maps (person_id, purpose) to a truthy value when the person
    has effective consent (a bool, or ``consent_map``'s record-or-None), or
    is a callable ``(person_id, purpose) -> bool``.
    """
    identities = [identify(f, auto_matching) for f in faces]
    counts: dict[int, int] = {}
    for who in identities:
        if who.person_id is not None:
            counts[who.person_id] = counts.get(who.person_id, 0) + 1
    resolved = [
        Identity(None, False, "person_twice") if who.person_id is not None
        and counts[who.person_id] > 1 else who
        for who in identities
    ]
    result: dict[str, tuple[FaceDecision, ...]] = {}
    for purpose in purposes:
        result[purpose] = tuple(
            decide_face(
                facts, purpose,
                _consent(consent, who.person_id, purpose) if who.person_id is not None else None,
                auto_matching=auto_matching, identity=who,
            )
            for facts, who in zip(faces, resolved)
        )
    return PhotoDecision(result)
