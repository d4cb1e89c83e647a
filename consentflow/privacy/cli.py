"""``flask --app consentflow retention`` and ``flask --app consentflow privacy ...``."""

from __future__ import annotations

import sys
from typing import Any

import click
from flask import current_app, has_request_context
from flask.cli import AppGroup, with_appcontext

from consentflow.audit.service import Actor
from consentflow.errors import DomainError
from consentflow.extensions import db
from consentflow.models import Person, utcnow
from consentflow.photos.storage import storage_from_config
from consentflow.privacy.retention import apply_retention
from consentflow.privacy.service import erase_person, subject_access_export

privacy_cli = AppGroup("privacy", help="Subject access exports and erasure.")


def _fail(message: str) -> None:
    db.session.rollback()
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


@click.command("retention", help="Report (--dry-run, default) or apply (--apply) SPEC §7 retention.")
@click.option("--dry-run/--apply", "dry_run", default=True, show_default=True)
@with_appcontext
def retention_command(dry_run: bool) -> None:
    cfg = current_app.config
    report = apply_retention(
        db.session, actor=Actor.system("cli:retention"), now=utcnow(),
        storage=storage_from_config(cfg),
        encodings_grace_days=int(cfg["RETENTION_ENCODINGS_GRACE_DAYS"]),
        rejected_originals_days=int(cfg["RETENTION_REJECTED_ORIGINALS_DAYS"]),
        apply=not dry_run,
    )
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    for line in report.lines():
        click.echo(line)
    if dry_run:
        click.echo("Dry run: nothing was changed. Run with --apply to delete.")


def render_export_html(data: dict[str, Any]) -> str:
    """The readable page of the export; works without a request (CLI) and inside one."""
    from flask_babel import get_locale

    template = current_app.jinja_env.get_template("privacy/export.html")
    if has_request_context():
        return template.render(data=data, lang=str(get_locale()))
    # Translations pick the locale from the request; the CLI has none, so lend it one.
    with current_app.test_request_context("/"):
        return template.render(data=data, lang=str(get_locale()))


@privacy_cli.command("export")
@click.argument("person_id", type=int)
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, writable=True))
def export_command(person_id: int, out_path: str) -> None:
    """Write the subject access archive (zip: data.json + index.html) of one person."""
    person = db.session.get(Person, person_id)
    if person is None:
        _fail(f"No person with id {person_id}.")
        return
    try:
        data = subject_access_export(db.session, actor=Actor.system("cli:privacy"),
                                     school_id=person.school_id, person_id=person.id,
                                     now=utcnow(), render_html=render_export_html)
    except DomainError as err:
        _fail(err.message)
        return
    with open(out_path, "wb") as fh:
        fh.write(data)
    db.session.commit()
    click.echo(f"Wrote {out_path} ({len(data)} bytes).")


@privacy_cli.command("erase")
@click.argument("person_id", type=int)
@click.option("--yes", is_flag=True, help="Confirm: this cannot be undone.")
def erase_command(person_id: int, yes: bool) -> None:
    """Delete a person's reference faces and face encodings; pseudonymise them in the audit trail."""
    person = db.session.get(Person, person_id)
    if person is None:
        _fail(f"No person with id {person_id}.")
        return
    if not yes:
        _fail("Erasure cannot be undone; repeat with --yes.")
        return
    report = erase_person(db.session, actor=Actor.system("cli:privacy"), school_id=person.school_id,
                          person_id=person.id, now=utcnow(),
                          storage=storage_from_config(current_app.config))
    db.session.commit()
    click.echo(f"Erased: {report.reference_faces} reference face(s), {report.face_encodings} "
               f"face encoding(s), {report.derived_copies} cached image copy/copies; "
               f"{report.audit_events} audit event(s) pseudonymised.")
