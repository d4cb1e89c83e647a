"""A demo school built from real face images (see instance/demo/SOURCES.md)."""

from __future__ import annotations

import click
import pyotp
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from consentflow.audit.service import Actor
from consentflow.auth.second_factor import BOX_PURPOSE, is_enrolled, requires_second_factor
from consentflow.auth.secret_box import SecretBox
from consentflow.auth.service import create_user
from consentflow.extensions import db
from consentflow.models import User, utcnow

demo_cli = AppGroup("demo", help="Demo data.")

DEMO_PASSWORD = "demo-password-2026"
# The demo's TOTP key for admin and PR (public: it is in this file and printed by `demo load`).
DEMO_TOTP_SECRET = "DEMOCONSENTFLOWDEMOCONSENTFLOW23"
DEMO_USERS = (
    ("admin@demo.school", "Anna Admin", ("admin",)),
    ("pr@demo.school", "Pieter PR", ("pr",)),
    ("teacher@demo.school", "Tessa Teacher", ("teacher",)),
    ("privacy@demo.school", "Fatima FG", ("privacy",)),
)


def enrol_demo_second_factor(user: User) -> None:
    """Admin and PR need a second factor, in the demo as in production: they get the published key."""
    if requires_second_factor(user, current_app.config["SECOND_FACTOR_ROLES"]) and not is_enrolled(user):
        user.totp_secret_sealed = SecretBox(current_app.config["SECRET_KEY"], BOX_PURPOSE).seal(DEMO_TOTP_SECRET)
        user.totp_confirmed_at = utcnow()


def load_demo() -> list[tuple[str, str, tuple[str, ...]]]:
    """Create the demo school once; returns the logins (idempotent)."""
    from consentflow.cli import ensure_school
    from consentflow.demo.consent import load_demo_consent
    from consentflow.demo.people import load_demo_people
    from consentflow.demo.photos import load_demo_photos

    school = ensure_school("Het Voorbeeld College", "voorbeeld", board_name="Stichting Voorbeeld")
    actor = Actor.system("demo")
    for email, name, roles in DEMO_USERS:
        user = db.session.scalar(select(User).where(User.email == email))
        if user is None:
            user = create_user(db.session, actor=actor, email=email, name=name, password=DEMO_PASSWORD,
                               roles=[(school, r) for r in roles])
        enrol_demo_second_factor(user)
    load_demo_people(db.session, school, actor)
    load_demo_consent(db.session, school, actor)
    load_demo_photos(db.session, school, actor)
    return list(DEMO_USERS)


@demo_cli.command("load")
def demo_load() -> None:
    logins = load_demo()
    db.session.commit()
    click.echo("Demo school loaded. Logins (password for all: %s):" % DEMO_PASSWORD)
    for email, _name, roles in logins:
        click.echo(f"  {', '.join(roles):<8} {email}")
    required = current_app.config["SECOND_FACTOR_ROLES"]
    if required:
        click.echo(f"Roles {', '.join(required)} also need a code (second factor). Add this key to an "
                   f"authenticator app: {DEMO_TOTP_SECRET}")
        uri = pyotp.TOTP(DEMO_TOTP_SECRET).provisioning_uri(name="demo", issuer_name="consentflow")
        click.echo(f"  or scan: {uri}")
        click.echo("  No app at hand? `flask --app consentflow demo code` prints the current code.")


@demo_cli.command("code")
def demo_code() -> None:
    """The current second-factor code of the demo admin and PR accounts (the demo key only)."""
    click.echo(pyotp.TOTP(DEMO_TOTP_SECRET).now())
