"""Every audit action and object the code writes is shown in words, in Dutch.

The audit trail is read by a school's privacy officer: "photo.publication_refused"
is a code, "Publicatie geweigerd" is what happened. The actions are found in
the source (``action="..."`` literals, and the f-string families expanded with
the values they take), so a new event without a label fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask_babel import force_locale

from consentflow.labels import LABELS, label

SOURCE = Path(__file__).resolve().parents[2] / "consentflow"
# The f-string actions and the values their placeholder takes.
FAMILIES = {
    'f"auth.{purpose}_sent"': [f"auth.{p}_sent" for p in ("invite", "reset")],
    'f"auth.{row.purpose}_used"': [f"auth.{p}_used" for p in ("invite", "reset")],
    'f"coverage.export_{kind}"': [f"coverage.export_{k}" for k in ("counts", "remind")],
    'f"face.{kind}"': [f"face.{k}" for k in LABELS["review_kind"]],
    'f"{self.audit_type}.delete"': [],  # expanded below for every admin view
    "f\"{self.audit_type}.{'create' if is_created else 'update'}\"": [],
}


def _written() -> tuple[set[str], set[str]]:
    actions: set[str] = set()
    objects: set[str] = set()
    audit_types: set[str] = set()
    for path in SOURCE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        actions.update(re.findall(r'action="([a-z_.0-9]+)"', text))
        actions.update(re.findall(r'action="[a-z_.0-9]+" if [^\n]*? else "([a-z_.0-9]+)"', text))
        objects.update(re.findall(r'object_type="([a-z_]+)"', text))
        audit_types.update(re.findall(r'audit_type = "([a-z_]+)"', text))
        for pattern in re.findall(r'action=(f"[^"\n]*")', text):
            assert pattern in FAMILIES, f"{path.name}: new action family {pattern}: add its values here"
            actions.update(FAMILIES[pattern])
    for kind in audit_types:
        actions.update({f"{kind}.create", f"{kind}.update", f"{kind}.delete"})
        objects.add(kind)
    return actions, objects


def test_the_scan_finds_the_actions() -> None:
    actions, objects = _written()
    # A scan that found nothing would make the test below pass vacuously.
    assert {"photo.published", "consent.record", "user.update", "face.not_face", "auth.reset_used",
            "person.delete", "coverage.export_remind"} <= actions
    assert {"photo", "person", "guardian", "consent_form"} <= objects


def test_every_written_action_and_object_has_a_label() -> None:
    actions, objects = _written()
    assert sorted(actions - set(LABELS["audit_action"])) == []
    assert sorted(objects - set(LABELS["object_type"])) == []


@pytest.mark.parametrize(("code", "kind", "dutch"), [
    ("photo.publication_refused", "audit_action", "Publicatie geweigerd"),
    ("face.not_face", "audit_action", "Gemarkeerd als geen gezicht"),
    ("consent_record", "object_type", "Toestemmingsregistratie"),
])
def test_labels_are_dutch(app, code: str, kind: str, dutch: str) -> None:
    with app.test_request_context(), force_locale("nl"):
        assert label(code, kind) == dutch
