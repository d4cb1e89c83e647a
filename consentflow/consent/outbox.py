"""Outgoing e-mail: always kept in the outbox; sent over SMTP when a server is configured.

Family mail is multipart (plain text and HTML) and goes out with the
school's name as the sender's display name; a failure is kept on the message
with its error and tried again by the worker's periodic send.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import formataddr, parseaddr
from typing import Any

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.orm import Session

from consentflow.jobs import job
from consentflow.models import OutboxMessage, School


@dataclass(frozen=True)
class MailSettings:
    server: str
    port: int
    use_tls: bool
    username: str
    password: str
    sender: str

    @classmethod
    def from_config(cls, config: Any) -> MailSettings:
        return cls(str(config.get("MAIL_SERVER") or ""), int(config.get("MAIL_PORT") or 25),
                   bool(config.get("MAIL_USE_TLS")), str(config.get("MAIL_USERNAME") or ""),
                   str(config.get("MAIL_PASSWORD") or ""),
                   str(config.get("MAIL_FROM") or "consentflow@localhost"))


def queue_message(session: Session, *, school_id: int, to_address: str, subject: str, body: str,
                  now: datetime, html: str | None = None) -> OutboxMessage:
    message = OutboxMessage(school_id=school_id, to_address=to_address, subject=subject[:300],
                            body=body, html_body=html, created_at=now)
    session.add(message)
    session.flush()
    return message


def render_message(template: str, locale: str, **values: Any) -> tuple[str, str]:
    """(subject, body) from a text template whose first line is the subject, in ``locale``."""
    # Rendered without the page context processors: this runs in jobs and CLI too.
    with force_locale(locale):
        text = current_app.jinja_env.get_template(template).render(**values)
    subject, _, body = text.strip().partition("\n")
    return subject.strip(), body.strip() + "\n"


def render_mail(name: str, locale: str, **values: Any) -> tuple[str, str, str]:
    """(subject, text, html) from ``<name>.txt`` (subject on its first line) and ``<name>.html``."""
    subject, text = render_message(f"{name}.txt", locale, **values)
    with force_locale(locale):
        html = current_app.jinja_env.get_template(f"{name}.html").render(subject=subject, lang=locale,
                                                                          **values)
    return subject, text, html


def _email(message: OutboxMessage, sender: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.to_address
    email["Subject"] = message.subject
    email.set_content(message.body)
    if message.html_body:
        email.add_alternative(message.html_body, subtype="html")
    return email


def _sender(settings: MailSettings, school: School | None) -> str:
    """The configured address with the school's name as display name (families see who writes)."""
    _name, address = parseaddr(settings.sender)
    return formataddr((school.name, address or settings.sender)) if school else settings.sender


def send_pending(session: Session, settings: MailSettings, now: datetime, limit: int = 500,
                 school_id: int | None = None) -> int:
    """Send unsent messages; failures are kept with their error for another try."""
    if not settings.server:
        return 0
    stmt = select(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
    if school_id is not None:
        stmt = stmt.where(OutboxMessage.school_id == school_id)
    pending = list(session.scalars(stmt.order_by(OutboxMessage.id).limit(limit)))
    if not pending:
        return 0
    schools = {s.id: s for s in session.scalars(
        select(School).where(School.id.in_({m.school_id for m in pending})))}
    sent = 0
    try:
        with smtplib.SMTP(settings.server, settings.port, timeout=30) as smtp:
            if settings.use_tls:
                smtp.starttls()
            if settings.username:
                smtp.login(settings.username, settings.password)
            for message in pending:
                try:
                    smtp.send_message(_email(message, _sender(settings, schools.get(message.school_id))))
                except smtplib.SMTPException as err:
                    message.error = str(err)[:2000]
                    continue
                message.sent_at = now
                message.error = None
                sent += 1
    except OSError as err:  # smtplib.SMTPException is an OSError too
        # The server cannot be reached (or refused us): every message still
        # waiting says so on the outbox page; the periodic send tries again.
        for message in pending:
            if message.sent_at is None:
                message.error = f"{type(err).__name__}: {err}"[:2000]
        session.flush()
        raise
    session.flush()
    return sent


@job("outbox.send", retries=0, every_minutes=10)
def send_outbox_job() -> int:
    """Worker task: deliver the outbox with the app's mail settings."""
    from flask import current_app

    from consentflow.extensions import db
    from consentflow.models import utcnow

    try:
        return send_pending(db.session, MailSettings.from_config(current_app.config), utcnow())
    except OSError:
        # Keep the errors on the messages (the job commits); the next periodic run retries.
        return 0
