"""Self-service access from the personal link (SPEC §3): consent on file, history, published images.

The privacy rules asserted here: the overview lists exactly the publications
in which this link's person was identified (not another child's, not another
school's); the image route serves only the published derivative (its bytes
hash to the publication's sha256, never the original's) and refuses every
other publication, forged, expired and revoked links, and a guardian's link
once the student is 16.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from consentflow.audit.service import Actor
from consentflow.consent.links import make_token, new_nonce
from consentflow.consent.service import record_consent
from consentflow.faces.matching import MatchThresholds
from consentflow.models import (
    AuditEvent,
    ConsentLink,
    ConsentRound,
    Photo,
    Publication,
    utcnow,
)
from consentflow.photos.boxes import Box
from consentflow.photos.storage import content_key
from consentflow.publish.redact import render_derivative
from tests import factories
from tests.services.test_publish_support import (
    BIDEN_BOX,
    FACES,
    OBAMA_BOX,
    World,
    build_world,
)

ORIGINAL = (FACES / "two_people.jpg").read_bytes()
PUB_RE = re.compile(r'data-publication="(\d+)"')


def _round(db_session: Any, w: World) -> ConsentRound:
    rnd = ConsentRound(school_id=w.school.id, school_year_id=w.year.id, form_id=w.form.id,
                       opened_at=utcnow())
    db_session.add(rnd)
    db_session.flush()
    return rnd


def _link(db_session: Any, app: Any, rnd: ConsentRound, person: Any, guardian: Any = None,
          *, expires: datetime | None = None) -> tuple[ConsentLink, str]:
    link = ConsentLink(school_id=rnd.school_id, round_id=rnd.id, person_id=person.id,
                       guardian_id=guardian.id if guardian else None, nonce=new_nonce(),
                       expires_at=expires or utcnow() + timedelta(days=30))
    db_session.add(link)
    db_session.flush()
    return link, "/c/" + make_token(app.config["SECRET_KEY"], link.nonce)


def _publish_row(db_session: Any, w: World, photo: Photo, purpose: str,
                 faces: list[tuple[int | None, str]], *, note: str | None = None,
                 taken_down: bool = False, school_id: int | None = None) -> Publication:
    """A publication with a real redacted derivative stored (Obama's box blurred)."""
    derivative = render_derivative(ORIGINAL, [Box(*OBAMA_BOX)])
    key = w.storage.put_at(content_key(derivative.data, "deriv"), derivative.data)
    snapshot = [{"face_id": None, "box": list(OBAMA_BOX if i == 0 else BIDEN_BOX),
                 "person_id": pid, "name": "x", "decision": decision, "basis": "test",
                 "consent_record_id": None, "review_id": None, "note": None}
                for i, (pid, decision) in enumerate(faces)]
    now = utcnow()
    publication = Publication(
        school_id=school_id or w.school.id, photo_id=photo.id, purpose=purpose, channel_note=note,
        derivative_sha256=derivative.sha256, derivative_key=key, maker_credit="J. Fotograaf",
        snapshot=snapshot, published_by_id=w.user.id, published_at=now - timedelta(days=3),
        taken_down_at=now - timedelta(days=1) if taken_down else None)
    db_session.add(publication)
    db_session.flush()
    return publication


@dataclass
class Scene:
    w: World
    mila: Any
    noor: Any
    parent: Any
    url: str
    link: ConsentLink
    shown: Publication
    blurred: Publication
    taken_down: Publication
    noors: Publication
    other_school: Publication


def _scene(db_session: Any, app: Any) -> Scene:
    w = build_world(db_session, app)
    mila = factories.person(db_session, school=w.school, first="Mila", last="Jansen",
                            dob=date(2015, 3, 1))
    noor = factories.person(db_session, school=w.school, first="Noor", last="Bakker",
                            dob=date(2015, 6, 1))
    parent = factories.guardian(db_session, school=w.school, children=[mila], name="Pat Jansen")
    signed = utcnow() - timedelta(days=20)
    for decisions, at in (({"website.photo": True, "social_media.photo": True}, signed),
                          ({"website.photo": True, "social_media.photo": False},
                           signed + timedelta(days=10))):
        record_consent(db_session, actor=Actor.system("test"), person_id=mila.id,
                       school_year_id=w.year.id, form_id=w.form.id, decisions=decisions,
                       signer_kind="guardian", signer_guardian_id=parent.id, signer_name=None,
                       method="in_person", signed_at=at, evidence=None, evidence_filename=None,
                       storage_dir=app.config["STORAGE_DIR"], now=at)
    link, url = _link(db_session, app, _round(db_session, w), mila, parent)
    shown = _publish_row(db_session, w, w.photo, "website", [(noor.id, "blur_no_consent"),
                                                             (mila.id, "show")],
                         note="www.school.example/sportdag")
    blurred = _publish_row(db_session, w, w.photo, "newsletter", [(mila.id, "blur_no_consent")])
    taken_down = _publish_row(db_session, w, w.photo, "social_media", [(mila.id, "show")],
                              note="Instagram @school", taken_down=True)
    noors = _publish_row(db_session, w, w.photo, "prospectus", [(noor.id, "show"), (None, "blur_unknown")])
    # Another school's publication naming Mila's id must never show (isolation by school).
    other = build_world(db_session, app)
    other_school = _publish_row(db_session, other, other.photo, "website", [(mila.id, "show")],
                                school_id=other.school.id)
    db_session.commit()
    return Scene(w, mila, noor, parent, url, link, shown, blurred, taken_down, noors, other_school)


def test_overview_lists_exactly_this_persons_publications(app, client, db_session) -> None:
    s = _scene(db_session, app)
    response = client.get(s.url + "/overview")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    listed = [int(x) for x in PUB_RE.findall(html)]
    assert sorted(listed) == sorted([s.shown.id, s.blurred.id, s.taken_down.id])
    assert s.noors.id not in listed and s.other_school.id not in listed
    assert "www.school.example/sportdag" in html and "Instagram @school" in html
    assert "J. Fotograaf" in html
    # The taken-down publication is marked so; the blurred one says blurred.
    block = html[html.index(f'data-publication="{s.taken_down.id}"'):]
    block = block[:block.index("</article>")]
    assert "taken down on" in block and "ss-taken-down" in block
    block = html[html.index(f'data-publication="{s.blurred.id}"'):]
    assert "blurred in the photo" in block[:block.index("</article>")]
    # Consent on file: the latest record (social media withdrawn), signed by the guardian.
    on_file = html[html.index('id="on-file"'):html.index('id="history"')]
    assert "Pat Jansen" in on_file
    assert re.search(r'data-purpose="social_media.photo"><span class="badge bad">no', on_file)
    assert re.search(r'data-purpose="website.photo"><span class="badge ok">yes', on_file)
    history = html[html.index('id="history"'):html.index('id="publications"')]
    assert history.count('class="ss-record"') == 2 and "changed to no" in history
    assert "Noor" not in html
    event = db_session.scalar(select(AuditEvent).where(
        AuditEvent.action == "consent.self_service_view"))
    assert event is not None and event.subject_ids == [s.mila.id]


def test_image_route_serves_only_the_derivative_of_this_persons_publications(app, client,
                                                                             db_session) -> None:
    s = _scene(db_session, app)
    for publication in (s.shown, s.blurred, s.taken_down):
        response = client.get(f"{s.url}/publication/{publication.id}/image")
        assert response.status_code == 200 and response.mimetype == "image/jpeg"
        assert hashlib.sha256(response.data).hexdigest() == publication.derivative_sha256
        assert response.data != ORIGINAL
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "no-store" in response.headers["Cache-Control"]
    # Another child's publication, another school's, and a missing one: 404.
    for pid in (s.noors.id, s.other_school.id, 999_999):
        assert client.get(f"{s.url}/publication/{pid}/image").status_code == 404
    # A derivative replaced on disk is not served (the hash is checked).
    s.w.storage.put_at(s.shown.derivative_key, ORIGINAL)
    assert client.get(f"{s.url}/publication/{s.shown.id}/image").status_code == 404


def test_forged_expired_and_revoked_links_are_refused(app, client, db_session) -> None:
    s = _scene(db_session, app)
    forged = s.url[:-3] + ("xyz" if not s.url.endswith("xyz") else "abc")
    assert client.get(forged + "/overview").status_code == 404
    assert client.get(f"{forged}/publication/{s.shown.id}/image").status_code == 404
    expired, expired_url = _link(db_session, app, s.link.round, s.mila, s.parent,
                                 expires=utcnow() - timedelta(minutes=1))
    db_session.commit()
    response = client.get(expired_url + "/overview")
    assert response.status_code == 410 and "expired" in response.get_data(as_text=True)
    assert client.get(f"{expired_url}/publication/{s.shown.id}/image").status_code == 410
    link = db_session.get(ConsentLink, s.link.id)
    link.revoked_at = utcnow()
    db_session.commit()
    response = client.get(s.url + "/overview")
    assert response.status_code == 410 and "withdrawn by the school" in response.get_data(as_text=True)
    image = client.get(f"{s.url}/publication/{s.shown.id}/image")
    assert image.status_code == 410 and image.mimetype == "text/html"
    assert db_session.scalar(select(AuditEvent).where(
        AuditEvent.action == "consent.self_service_view")) is None


def test_from_sixteen_the_student_sees_it_and_the_guardian_does_not(app, client,
                                                                    db_session) -> None:
    w = build_world(db_session, app)
    today = utcnow().date()
    teen = factories.person(db_session, school=w.school, first="Sem",
                            dob=date(today.year - 17, 1, 1))
    parent = factories.guardian(db_session, school=w.school, children=[teen])
    former = factories.guardian(db_session, school=w.school, children=[])
    child = factories.person(db_session, school=w.school, first="Kim", dob=date(today.year - 8, 1, 1))
    rnd = _round(db_session, w)
    _, parent_url = _link(db_session, app, rnd, teen, parent)
    _, own_url = _link(db_session, app, rnd, teen)
    _, former_url = _link(db_session, app, rnd, child, former)
    _, child_own_url = _link(db_session, app, rnd, child)
    publication = _publish_row(db_session, w, w.photo, "website", [(teen.id, "show")])
    db_session.commit()

    own = client.get(own_url + "/overview")
    assert own.status_code == 200 and f'data-publication="{publication.id}"' in own.get_data(as_text=True)
    assert client.get(f"{own_url}/publication/{publication.id}/image").status_code == 200
    refused = client.get(parent_url + "/overview")
    assert refused.status_code == 403 and "From the age of 16" in refused.get_data(as_text=True)
    assert client.get(f"{parent_url}/publication/{publication.id}/image").status_code == 403
    # The consent page of a guardian's link for a 16+ student does not offer the overview.
    assert 'id="to-overview"' not in client.get(parent_url).get_data(as_text=True)
    # A guardian no longer linked to the child, and an under-16's own link, see nothing.
    assert client.get(former_url + "/overview").status_code == 403
    assert client.get(child_own_url + "/overview").status_code == 403


def test_consent_and_done_pages_link_to_the_overview_in_both_languages(app, client,
                                                                       db_session) -> None:
    s = _scene(db_session, app)
    assert 'id="to-overview"' in client.get(s.url).get_data(as_text=True)
    assert 'id="to-overview"' in client.get(s.url + "/done").get_data(as_text=True)
    dutch = client.get(s.url + "/overview?lang=nl")
    assert dutch.status_code == 200 and '<html lang="nl">' in dutch.get_data(as_text=True)
    english = client.get(s.url + "/overview?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in english and "Published photos" in english
    assert 'name="viewport"' in english


@pytest.mark.slow
def test_a_real_publication_serves_the_redacted_file_not_the_original(app, client,
                                                                      db_session) -> None:
    from consentflow.publish.service import approve_purpose, publish_photo
    from tests.services.test_publish_support import confirm_both, consent

    w = build_world(db_session, app)
    now = utcnow()
    consent(db_session, w, w.obama, {"website.photo"}, at=now - timedelta(days=3))
    confirm_both(db_session, w, at=now - timedelta(days=2))
    assert approve_purpose(db_session, actor=w.actor, school_id=w.school.id, photo_id=w.photo.id,
                           channel="website", expected_version=None,
                           now=now - timedelta(days=1)).status == "approved"
    publication = publish_photo(db_session, actor=w.actor, school_id=w.school.id,
                                photo_id=w.photo.id, channel="website", storage=w.storage,
                                now=now, tolerance=MatchThresholds.defaults().loose)
    rnd = _round(db_session, w)
    _, obama_url = _link(db_session, app, rnd, w.obama)
    _, biden_url = _link(db_session, app, rnd, w.biden)
    db_session.commit()

    for url in (obama_url, biden_url):
        html = client.get(url + "/overview").get_data(as_text=True)
        assert f'data-publication="{publication.id}"' in html
        served = client.get(f"{url}/publication/{publication.id}/image").data
        assert hashlib.sha256(served).hexdigest() == publication.derivative_sha256
        assert hashlib.sha256(served).hexdigest() != w.photo.sha256
    # Biden (no consent) is listed as blurred, Obama as shown.
    assert "blurred in the photo" in client.get(biden_url + "/overview").get_data(as_text=True)
    assert "recognisable in the photo" in client.get(obama_url + "/overview").get_data(as_text=True)
