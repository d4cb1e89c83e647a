"""``flask --app consentflow people import FILE --school SLUG [--kind student|staff] [--dry-run] [--full-export]``
and ``flask --app consentflow people confirm-left TOKEN --school SLUG``.

FILE is a CSV or EDEXML export. An import never marks anyone as left: with
``--full-export`` it lists who is missing and prints a token; ``confirm-left``
with that token marks exactly that list as left (refused when the roster
changed in between).
"""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from consentflow.audit.service import Actor
from consentflow.consent.signer import local_date
from consentflow.errors import DomainError
from consentflow.extensions import db
from consentflow.models import School, utcnow
from consentflow.people.leavers import confirm_leavers
from consentflow.people.service import import_roster

people_cli = AppGroup("people", help="Roster of students and staff.")


def _school(slug: str) -> School:
    school = db.session.scalar(select(School).where(School.slug == slug))
    if school is None:
        click.echo(f"Error: no school with slug {slug!r}.", err=True)
        sys.exit(1)
    return school


@people_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--school", "school_slug", required=True, help="School slug.")
@click.option("--kind", type=click.Choice(["student", "staff"]), default="student", show_default=True)
@click.option("--dry-run", is_flag=True, help="Report what would change; change nothing.")
@click.option("--full-export", is_flag=True,
              help="The file is a full export: list who is missing (marked as left only with confirm-left).")
def import_command(file: str, school_slug: str, kind: str, dry_run: bool, full_export: bool) -> None:
    school = _school(school_slug)
    with open(file, "rb") as fh:
        data = fh.read()
    now = utcnow()
    try:
        report = import_roster(db.session, actor=Actor.system("cli"), school_id=school.id, data=data,
                               kind=kind, today=local_date(now), now=now, full_export=full_export,
                               dry_run=dry_run, secret=current_app.config["SECRET_KEY"])
    except DomainError as err:
        db.session.rollback()
        click.echo(f"Error: {err.message}", err=True)
        sys.exit(1)
    for row in report.rows:
        if row.status in ("rejected", "gone") or row.reason:
            where = f"line {row.line}" if row.line else "—"
            click.echo(f"{row.status:<9} {where:<10} {row.external_id:<12} {row.reason}")
    for note in report.notes:
        click.echo(f"Note: {note}")
    counts = ", ".join(f"{k} {v}" for k, v in report.counts.items())
    if dry_run:
        db.session.rollback()
        click.echo(f"Dry run, nothing changed: {counts}.")
    else:
        db.session.commit()
        click.echo(f"Imported: {counts}.")
    if report.leavers_checked:
        click.echo(f"Missing from this export (not marked as left): {len(report.leavers)}.")
        for leaver in report.leavers:
            click.echo(f"  {leaver.external_id:<12} {leaver.name} ({leaver.group_name or '—'}): "
                       f"{leaver.reference_faces} reference face(s), {leaver.face_encodings} face encoding(s) "
                       "would be deleted")
        if report.leave_token:
            click.echo("To mark exactly these people as left, within an hour:")
            click.echo(f"  flask --app consentflow people confirm-left {report.leave_token} --school {school.slug}")


@people_cli.command("confirm-left")
@click.argument("token")
@click.option("--school", "school_slug", required=True, help="School slug.")
def confirm_left_command(token: str, school_slug: str) -> None:
    """Mark the people listed by an import with --full-export as left."""
    school = _school(school_slug)
    now = utcnow()
    try:
        confirmed = confirm_leavers(db.session, actor=Actor.system("cli"), school_id=school.id, token=token,
                                    secret=current_app.config["SECRET_KEY"], today=local_date(now), now=now)
    except DomainError as err:
        db.session.rollback()
        click.echo(f"Error: {err.message}", err=True)
        sys.exit(1)
    db.session.commit()
    for leaver in confirmed:
        click.echo(f"left      {leaver.external_id:<12} {leaver.name}")
    click.echo(f"Marked as left: {len(confirmed)}.")
