"""``flask --app consentflow people import FILE --school SLUG [--kind student|staff] [--dry-run]``."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup
from sqlalchemy import select

from consentflow.audit.service import Actor
from consentflow.errors import DomainError
from consentflow.extensions import db
from consentflow.models import School, utcnow
from consentflow.people.service import import_roster

people_cli = AppGroup("people", help="Roster of students and staff.")


@people_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--school", "school_slug", required=True, help="School slug.")
@click.option("--kind", type=click.Choice(["student", "staff"]), default="student", show_default=True)
@click.option("--dry-run", is_flag=True, help="Report what would change; change nothing.")
@click.option("--partial", is_flag=True,
              help="The file is not a full export: do not mark missing people as left.")
def import_command(file: str, school_slug: str, kind: str, dry_run: bool, partial: bool) -> None:
    school = db.session.scalar(select(School).where(School.slug == school_slug))
    if school is None:
        click.echo(f"Error: no school with slug {school_slug!r}.", err=True)
        sys.exit(1)
    with open(file, "rb") as fh:
        data = fh.read()
    now = utcnow()
    try:
        report = import_roster(db.session, actor=Actor.system("cli"), school_id=school.id, data=data,
                               kind=kind, today=now.date(), now=now, full_export=not partial,
                               dry_run=dry_run)
    except DomainError as err:
        db.session.rollback()
        click.echo(f"Error: {err.message}", err=True)
        sys.exit(1)
    for row in report.rows:
        if row.status in ("rejected", "left") or row.reason:
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
