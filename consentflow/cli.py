"""Command line: ``flask --app consentflow ...``.

Each command is one unit of work: it commits on success or rolls back.
Feature packages add their own groups through ``CLI_GROUPS``.
"""

from __future__ import annotations

import importlib
import json
import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from flask_migrate import upgrade
from sqlalchemy import select

from consentflow.audit.service import Actor, verify_chain
from consentflow.auth.service import create_user
from consentflow.config import ConfigError
from consentflow.errors import DomainError
from consentflow.extensions import db
from consentflow.models import Board, School

# "module:attribute" of click groups/commands contributed by features.
CLI_GROUPS: list[str] = ["consentflow.demo:demo_cli", "consentflow.people.cli:people_cli",
                         "consentflow.photos.cli:faces_cli",
                         "consentflow.photos.cli:photos_cli",
                         "consentflow.privacy.cli:privacy_cli", "consentflow.privacy.cli:retention_command"]

users_cli = AppGroup("users", help="Manage staff accounts.")
audit_cli = AppGroup("audit", help="Verify and export the audit trail.")


def _fail(err: Exception) -> None:
    db.session.rollback()
    click.echo(f"Error: {getattr(err, 'message', err)}", err=True)
    sys.exit(1)


def ensure_school(name: str, slug: str, board_name: str | None = None) -> School:
    school = db.session.scalar(select(School).where(School.slug == slug))
    if school:
        return school
    board = None
    if board_name:
        board = db.session.scalar(select(Board).where(Board.name == board_name)) or Board(name=board_name)
        db.session.add(board)
    school = School(name=name, slug=slug, board=board)
    db.session.add(school)
    db.session.flush()
    return school


@click.command("init", help="Upgrade the database and create the first admin.")
@click.option("--school", "school_name", default=None, help="Name of the first school.")
@click.option("--slug", default=None)
@click.option("--email", default=None)
@click.option("--name", default="Administrator")
@click.option("--password", default=None, help="Prompted when omitted.")
@with_appcontext
def init_command(school_name: str | None, slug: str | None, email: str | None, name: str,
                 password: str | None) -> None:
    upgrade()
    click.echo("Database is up to date.")
    if not school_name or not email:
        return
    password = password or click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        school = ensure_school(school_name, slug or school_name.lower().replace(" ", "-"))
        create_user(db.session, actor=Actor.system("cli"), email=email, name=name,
                    password=password, roles=[(school, "admin")])
        db.session.commit()
    except DomainError as err:
        _fail(err)
    click.echo(f"Created admin {email} for {school_name}.")
    click.echo(f"Admins set up a second factor at their first sign-in, from a link by mail; without mail "
               f"yet, print one with: flask users enrol-link {email}")


@users_cli.command("create")
@click.argument("email")
@click.option("--name", required=True)
@click.option("--school", "school_slug", required=True, help="School slug.")
@click.option("--role", "roles", multiple=True, required=True,
              type=click.Choice(["admin", "pr", "teacher", "privacy"]))
@click.option("--password", default=None, help="Prompted when omitted.")
def users_create(email: str, name: str, school_slug: str, roles: tuple[str, ...],
                 password: str | None) -> None:
    school = db.session.scalar(select(School).where(School.slug == school_slug))
    if school is None:
        _fail(DomainError(f"No school with slug {school_slug!r}."))
        return
    password = password or click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        create_user(db.session, actor=Actor.system("cli"), email=email, name=name,
                    password=password, roles=[(school, r) for r in roles])
        db.session.commit()
    except DomainError as err:
        _fail(err)
    click.echo(f"Created {email} with roles {', '.join(roles)} in {school.name}.")


@users_cli.command("enrol-link", help="Print a link with which a user sets up a first second factor "
                   "(for an install that sends no mail yet: hand it to the user yourself).")
@click.argument("email")
def users_enrol_link(email: str) -> None:
    from datetime import timedelta

    from consentflow.auth.links import ENROL_PURPOSE, issue_link
    from consentflow.auth.service import normalise_email
    from consentflow.models import User, utcnow
    from consentflow.signin.views import link_url

    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None or not user.active:
        _fail(DomainError(f"No active account for {email}."))
        return
    minutes = current_app.config["PASSWORD_RESET_MINUTES"]
    try:
        with current_app.test_request_context("/"):
            url = link_url()  # the address mailed links use
        issued = issue_link(db.session, actor=Actor.system("cli"), user=user, purpose=ENROL_PURPOSE,
                            secret_key=current_app.config["SECRET_KEY"], valid_for=timedelta(minutes=minutes),
                            now=utcnow())
        db.session.commit()
    except (ConfigError, DomainError) as err:  # PUBLIC_BASE_URL missing, say: in words, nothing kept
        _fail(err)
        return
    click.echo(f"Open this link within {minutes} minutes in the browser {user.email} signs in with "
               f"(with the password, before or after):\n{url.replace('{token}', issued.token)}")


@audit_cli.command("verify")
def audit_verify() -> None:
    result = verify_chain(db.session, current_app.config.get("AUDIT_HEAD_FILE"))
    for warning in result.warnings:
        click.echo(f"Warning: {warning}")
    if result.ok:
        click.echo(f"OK: {result.checked} events verified.")
        return
    click.echo(f"BROKEN at event {result.first_broken_id}: {result.reason}", err=True)
    sys.exit(1)


@audit_cli.command("head")
def audit_head() -> None:
    """Print the chain head, for safekeeping outside the database."""
    from consentflow.models import AuditEvent

    ev = db.session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
    click.echo(json.dumps({"id": ev.id, "hash": ev.hash} if ev else {}))


@click.command("worker", help="Run background workers (face detection, rendering).")
@click.option("--workers", default=2, show_default=True, help="Worker processes.")
@with_appcontext
def worker_command(workers: int) -> None:
    import logging

    from consentflow.jobs import get_queue

    # Job start/failure lines (with the job id and photo id) for the system administrator.
    logging.basicConfig(
        level=current_app.config.get("WORKER_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(processName)s %(name)s %(levelname)s %(message)s",
    )
    queue = get_queue()
    if current_app.config["QUEUE_BACKEND"] == "memory":
        _fail(DomainError("The memory queue cannot be shared with a worker; use sqlite or redis."))
    consumer = queue.huey.create_consumer(
        workers=workers, worker_type="process", periodic=True, check_worker_health=True
    )
    click.echo(f"Worker: {workers} process(es) on the {current_app.config['QUEUE_BACKEND']} queue.")
    consumer.run()


def register_cli(app: Flask) -> None:
    app.cli.add_command(init_command)
    app.cli.add_command(users_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(worker_command)
    for ref in CLI_GROUPS:
        module_name, _, attr = ref.partition(":")
        app.cli.add_command(getattr(importlib.import_module(module_name), attr))
