"""Personal consent links and link submissions, pinned condition by condition.

test_year_links.py and tests/web/test_consent_public.py walk the family's
path; here every rule of consentflow.consent.links and .submit gets a case of
its own, so that breaking one of them fails a test.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import select

from consentflow.consent.links import (
    TOKEN_SALT,
    LinkContext,
    LinkRefused,
    LinkState,
    PublicAddressMissing,
    ensure_year_link,
    link_context_from,
    link_expiry,
    link_state,
    link_url,
    make_token,
    new_nonce,
    resolve_link,
    revoke_link,
    year_link,
)
from consentflow.consent.signer import end_of_school_day
from consentflow.consent.submit import canonical_evidence, find_submission, submit_via_link
from consentflow.errors import NotFound
from consentflow.models import AuditEvent, ConsentLink, ConsentRound, OutboxMessage
from tests import factories
from tests.services.test_year_links import SYSTEM, _child, _school_year

NOW = datetime(2026, 10, 12, 10, 0, tzinfo=timezone.utc)
SECRET = "test-secret-key-not-for-production"


def _round(session: Any, world: dict[str, Any]) -> ConsentRound:
    rnd = ConsentRound(school_id=world["school"].id, school_year_id=world["year"].id,
                       form_id=world["form"].id, opened_at=NOW)
    session.add(rnd)
    session.flush()
    return rnd


def _world(session: Any) -> dict[str, Any]:
    world = _school_year(session, NOW)
    world["round"] = _round(session, world)
    world["child"], world["parent"] = _child(session, world["school"], "Noor")
    return world


def _link(session: Any, world: dict[str, Any], *, guardian: bool = True) -> ConsentLink:
    link, created = ensure_year_link(session, world["round"], world["child"],
                                     world["parent"] if guardian else None, NOW)
    assert created
    return link


# --- the link's state ---------------------------------------------------------------


def test_a_link_is_active_until_its_expiry_and_revoked_wins_over_expired() -> None:
    link = ConsentLink(expires_at=NOW, revoked_at=None)
    assert link_state(link, NOW - timedelta(microseconds=1)) == LinkState("active", True)
    assert link_state(link, NOW) == LinkState("expired", False)
    link.revoked_at = NOW - timedelta(days=1)
    assert link_state(link, NOW - timedelta(days=2)) == LinkState("revoked", False)
    assert link_state(link, NOW + timedelta(days=1)) == LinkState("revoked", False)


def test_the_token_is_signed_deterministic_and_the_url_has_one_slash() -> None:
    assert make_token(SECRET, "abc") == make_token(SECRET, "abc")
    assert make_token(SECRET, "abc") != make_token("another key", "abc")
    assert URLSafeSerializer(SECRET, salt=TOKEN_SALT).loads(make_token(SECRET, "abc")) == "abc"
    link = ConsentLink(nonce="abc")
    assert link_url("https://school.example/", SECRET, link) == (
        f"https://school.example/c/{make_token(SECRET, 'abc')}")
    # Only slashes are trimmed, whatever the address ends with.
    assert link_url("https://school.example/LUX/", SECRET, link) == (
        f"https://school.example/LUX/c/{make_token(SECRET, 'abc')}")
    assert LinkContext("https://school.example", SECRET).url(link) == link_url(
        "https://school.example", SECRET, link)


def test_links_need_a_public_address(caplog: pytest.LogCaptureFixture) -> None:
    ctx = link_context_from({"PUBLIC_BASE_URL": "https://toestemming.example.nl", "SECRET_KEY": SECRET,
                             "TESTING": False})
    assert ctx == LinkContext("https://toestemming.example.nl", SECRET)
    with caplog.at_level(logging.ERROR, logger="consentflow.consent.links"):
        with pytest.raises(PublicAddressMissing) as missing:
            link_context_from({"PUBLIC_BASE_URL": "", "SECRET_KEY": SECRET, "TESTING": False})
    # The whole sentence: it is the key of the Dutch text the school reads.
    assert str(missing.value) == (
        "Links for families cannot be made: the public address of the app (PUBLIC_BASE_URL) is "
        "not set or is not public. Ask the administrator to set it.")
    # The administrator's log says what exactly is wrong with the setting.
    (logged,) = [r for r in caplog.records if r.name == "consentflow.consent.links"]
    assert logged.getMessage() == str(missing.value.__cause__) and logged.getMessage()


def test_a_nonce_carries_256_random_bits() -> None:
    nonces = {new_nonce() for _ in range(50)}
    assert len(nonces) == 50
    assert {len(n) for n in nonces} == {43}  # 32 bytes, URL-safe base64 without padding
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", n) for n in nonces)


def test_a_refusal_says_why_and_with_which_status() -> None:
    refused = LinkRefused("expired", 410)
    assert (refused.reason, refused.status_code, str(refused)) == ("expired", 410, "expired")
    assert str(LinkRefused("forged", 404, "Deze link klopt niet.")) == "Deze link klopt niet."


# --- resolving a token ----------------------------------------------------------------


def _refused(session: Any, token: str, now: datetime = NOW) -> tuple[str, int]:
    with pytest.raises(LinkRefused) as caught:
        resolve_link(session, SECRET, token, now)
    return caught.value.reason, caught.value.status_code


def test_resolving_a_token_refuses_forged_unknown_expired_revoked_and_left(app, db_session) -> None:
    world = _world(db_session)
    link = _link(db_session, world)
    token = make_token(SECRET, link.nonce)
    assert resolve_link(db_session, SECRET, token, NOW) is link

    assert _refused(db_session, make_token("another key", link.nonce)) == ("forged", 404)
    assert _refused(db_session, token + "x") == ("forged", 404)
    # Signed with the right key but not a nonce (a list): forged all the same.
    assert _refused(db_session, URLSafeSerializer(SECRET, salt=TOKEN_SALT).dumps([link.nonce])) == (
        "forged", 404)
    assert _refused(db_session, make_token(SECRET, "no such nonce")) == ("unknown", 404)
    assert _refused(db_session, token, link.expires_at) == ("expired", 410)

    child = world["child"]
    child.left_on = NOW.date() + timedelta(days=1)
    assert resolve_link(db_session, SECRET, token, NOW) is link
    child.left_on = NOW.date()
    assert _refused(db_session, token) == ("left", 410)
    child.left_on, child.erased_at = None, NOW
    assert _refused(db_session, token) == ("left", 410)
    child.erased_at = None
    link.revoked_at = NOW
    assert _refused(db_session, token) == ("revoked", 410)


def test_revoking_is_per_school_at_once_and_audited_once(app, db_session) -> None:
    world = _world(db_session)
    link = _link(db_session, world)
    other_school = factories.school(db_session, name="Elders")
    with pytest.raises(NotFound, match=r"^No such link\.$"):
        revoke_link(db_session, actor=SYSTEM, school_id=other_school.id, link_id=link.id, now=NOW)
    with pytest.raises(NotFound):
        revoke_link(db_session, actor=SYSTEM, school_id=world["school"].id, link_id=link.id + 99, now=NOW)
    assert link.revoked_at is None

    assert revoke_link(db_session, actor=SYSTEM, school_id=world["school"].id, link_id=link.id,
                       now=NOW) is link
    revoke_link(db_session, actor=SYSTEM, school_id=world["school"].id, link_id=link.id,
                now=NOW + timedelta(hours=1))

    assert link.revoked_at == NOW
    events = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "consent_link.revoke")).all()
    assert [(e.object_type, e.object_id, e.school_id, e.subject_ids) for e in events] == [
        ("consent_link", str(link.id), world["school"].id, [world["child"].id])]
    assert events[0].at.replace(tzinfo=None) == NOW.replace(tzinfo=None)


# --- one link per person, signer and year -------------------------------------------------


def test_a_year_link_is_made_once_per_signer_and_lasts_the_school_year(app, db_session) -> None:
    world = _world(db_session)
    rnd, child, parent = world["round"], world["child"], world["parent"]
    link, created = ensure_year_link(db_session, rnd, child, parent, NOW)
    assert created
    assert (link.school_id, link.round_id, link.person_id, link.guardian_id) == (
        world["school"].id, rnd.id, child.id, parent.id)
    assert link.expires_at == link_expiry(world["year"]) == end_of_school_day(world["year"].ends_on)
    assert link.created_at == NOW and link.reminders_sent == 0 and len(link.nonce) >= 40

    assert ensure_year_link(db_session, rnd, child, parent, NOW + timedelta(days=3)) == (link, False)
    own, created = ensure_year_link(db_session, rnd, child, None, NOW)
    assert created and own.guardian_id is None and own.nonce != link.nonce
    assert year_link(db_session, world["year"].id, child.id, None, NOW) is own
    assert year_link(db_session, world["year"].id, child.id, parent.id, NOW) is link


def test_year_link_skips_revoked_expired_other_years_and_other_signers(app, db_session) -> None:
    world = _world(db_session)
    year, child, parent = world["year"], world["child"], world["parent"]
    link = _link(db_session, world)
    second_parent = factories.guardian(db_session, school=world["school"], children=[child])

    assert year_link(db_session, year.id, child.id, second_parent.id, NOW) is None
    assert year_link(db_session, year.id + 1000, child.id, parent.id, NOW) is None
    assert year_link(db_session, year.id, child.id + 1000, parent.id, NOW) is None
    assert year_link(db_session, year.id, child.id, parent.id, link.expires_at) is None
    assert year_link(db_session, year.id, child.id, parent.id,
                     link.expires_at - timedelta(seconds=1)) is link
    link.revoked_at = NOW
    assert year_link(db_session, year.id, child.id, parent.id, NOW) is None
    # A new link once the first is revoked; the oldest usable one is the year link.
    newer, created = ensure_year_link(db_session, world["round"], child, parent, NOW)
    assert created and newer is not link
    newest = ConsentLink(school_id=link.school_id, round_id=link.round_id, person_id=child.id,
                         guardian_id=parent.id, nonce="n" * 40, expires_at=link.expires_at,
                         created_at=NOW)
    db_session.add(newest)
    db_session.flush()
    assert year_link(db_session, year.id, child.id, parent.id, NOW) is newer


def test_of_two_usable_links_the_lowest_id_is_the_year_link(app, db_session) -> None:
    world = _world(db_session)
    child, parent = world["child"], world["parent"]

    def stored(link_id: int) -> ConsentLink:
        link = ConsentLink(id=link_id, school_id=world["school"].id, round_id=world["round"].id,
                           person_id=child.id, guardian_id=parent.id, nonce=f"{link_id:040d}",
                           expires_at=link_expiry(world["year"]), created_at=NOW)
        db_session.add(link)
        db_session.flush()
        return link

    # The higher id stored first: the answer follows the id, not the order of storage.
    stored(9002)
    first = stored(9001)
    assert year_link(db_session, world["year"].id, child.id, parent.id, NOW) is first


# --- submissions ------------------------------------------------------------------------


def test_the_evidence_is_canonical_json_of_what_was_answered(app, db_session) -> None:
    world = _world(db_session)
    link = _link(db_session, world)
    form = world["form"]
    evidence = canonical_evidence(link, form, {"website.photo": True}, "answer", "Firefox " + "x" * 600,
                                  "nonce-1", NOW)
    assert json.loads(evidence) == {
        "kind": "consentflow.digital-consent.v1", "link_id": link.id, "round_id": link.round_id,
        "person_id": link.person_id, "guardian_id": link.guardian_id, "form_id": form.id,
        "form_version": form.version, "school_year_id": form.school_year_id, "action": "answer",
        "decisions": {"website.photo": True}, "user_agent": ("Firefox " + "x" * 600)[:500],
        "submission": "nonce-1", "submitted_at": NOW.isoformat(),
    }
    # Sorted keys, no spaces, UTF-8: the same answer always gives the same bytes.
    assert evidence.startswith(b'{"action":"answer","decisions":{"website.photo":true},"form_id":')
    assert canonical_evidence(link, form, {}, "answer", "é", "n", NOW).count("é".encode()) == 1


def _submit(app: Any, session: Any, link: ConsentLink, decisions: dict[str, Any], *, action: str = "answer",
            nonce: str = "page-1", ctx: LinkContext | None = None, now: datetime = NOW) -> Any:
    return submit_via_link(session, link=link, decisions=decisions, action=action, user_agent="Firefox",
                           submission_nonce=nonce, storage_dir=app.config["STORAGE_DIR"], ctx=ctx, now=now)


def test_a_guardian_answer_is_recorded_on_the_current_form_with_only_true_as_yes(app, db_session) -> None:
    world = _world(db_session)
    link = _link(db_session, world)
    ctx = LinkContext("https://toestemming.example.nl", SECRET)

    result = _submit(app, db_session, link, {"website.photo": True, "social_media.photo": "yes",
                                             "not.asked": True}, ctx=ctx)

    record = result.record
    assert result.duplicate is False
    assert record.decisions == {"website.photo": True, "social_media.photo": False, "face_matching": False}
    assert (record.signer_kind, record.signer_guardian_id, record.method) == ("guardian", link.guardian_id,
                                                                               "digital")
    assert record.form_id == world["form"].id and record.school_year_id == world["year"].id
    assert record.person_id == world["child"].id and record.signed_at == NOW
    assert record.evidence_note == f"Digital consent link #{link.id}"
    assert record.submission_nonce == "page-1" and record.evidence_sha256
    assert link.last_used_at == NOW
    assert find_submission(db_session, "page-1") is record and find_submission(db_session, "other") is None
    (mail,) = db_session.scalars(select(OutboxMessage)).all()
    assert mail.to_address == world["parent"].email and ctx.url(link) in mail.body
    assert mail.created_at == NOW
    # The stored evidence is the canonical submission: what, through which link, which page.
    evidence = canonical_evidence(link, world["form"], record.decisions, "answer", "Firefox", "page-1", NOW)
    assert record.evidence_sha256 == hashlib.sha256(evidence).hexdigest()
    assert record.evidence_key.endswith(".json")


def test_withdraw_says_no_to_all_and_a_student_link_records_the_student_as_signer(app, db_session) -> None:
    world = _world(db_session)
    world["child"].email = None
    parent_link = _link(db_session, world)
    ctx = LinkContext("https://toestemming.example.nl", SECRET)
    record = _submit(app, db_session, parent_link, {"website.photo": True}, action="withdraw", ctx=ctx).record
    assert record.signer_kind == "guardian"
    assert record.decisions == {"website.photo": False, "social_media.photo": False, "face_matching": False}
    evidence = canonical_evidence(parent_link, world["form"], record.decisions, "withdraw", "Firefox",
                                  "page-1", NOW)
    assert record.evidence_sha256 == hashlib.sha256(evidence).hexdigest()
    (mail,) = db_session.scalars(select(OutboxMessage)).all()
    assert mail.subject == "U heeft de toestemming voor Noor ingetrokken"  # the school writes Dutch
    world["child"].date_of_birth = date(2009, 1, 1)  # 17: signs for themself
    own = _link(db_session, world, guardian=False)
    record = _submit(app, db_session, own, {"website.photo": True}, nonce="page-2").record
    assert record.signer_kind == "self" and record.signer_guardian_id is None


def test_the_same_page_posted_twice_records_once(app, db_session) -> None:
    world = _world(db_session)
    link = _link(db_session, world)
    first = _submit(app, db_session, link, {"website.photo": True})
    again = _submit(app, db_session, link, {"website.photo": False}, now=NOW + timedelta(minutes=1))
    assert again.duplicate is True and again.record is first.record
    assert link.last_used_at == NOW
    later = _submit(app, db_session, link, {"website.photo": False}, nonce="page-2")
    assert later.duplicate is False and later.record is not first.record
