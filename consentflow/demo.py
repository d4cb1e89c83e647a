"""A demo school built from real face images (see instance/demo/SOURCES.md)."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from consentflow.audit.service import Actor
from consentflow.auth.service import create_user
from consentflow.extensions import db
from consentflow.models import User

demo_cli = AppGroup("demo", help="Demo data.")

DEMO_PASSWORD = "demo-password-2026"
DEMO_USERS = (
    ("admin@demo.school", "Anna Admin", ("admin",)),
    ("pr@demo.school", "Pieter PR", ("pr",)),
    ("teacher@demo.school", "Tessa Teacher", ("teacher",)),
    ("privacy@demo.school", "Fatima FG", ("privacy",)),
)


def load_demo() -> list[tuple[str, str, tuple[str, ...]]]:
    """Create the demo school once; returns the logins (idempotent)."""
    from consentflow.cli import ensure_school
    from consentflow.demo_people import load_demo_people
    from consentflow.demo_photos import load_demo_photos

    school = ensure_school("Het Voorbeeld College", "voorbeeld", board_name="Stichting Voorbeeld")
    actor = Actor.system("demo")
    for email, name, roles in DEMO_USERS:
        if db.session.scalar(select(User).where(User.email == email)) is None:
            create_user(db.session, actor=actor, email=email, name=name, password=DEMO_PASSWORD,
                        roles=[(school, r) for r in roles])
    load_demo_people(db.session, school, actor)
    __import__("consentflow.demo_consent").demo_consent.load_demo_consent(db.session, school, actor)
    load_demo_photos(db.session, school, actor)
    return list(DEMO_USERS)


@demo_cli.command("load")
def demo_load() -> None:
    logins = load_demo()
    db.session.commit()
    click.echo("Demo school loaded. Logins (password for all: %s):" % DEMO_PASSWORD)
    for email, _name, roles in logins:
        click.echo(f"  {', '.join(roles):<8} {email}")
