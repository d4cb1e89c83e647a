"""The loopback SMTP server really receives what smtplib sends."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from typing import Any


def test_loopback_smtp_receives_a_message(mail_server: Any) -> None:
    message = EmailMessage()
    message["From"] = "school@example.org"
    message["To"] = "ouder@example.org"
    message["Subject"] = "Toestemming"
    message.set_content("Beste ouder,")
    with smtplib.SMTP(mail_server.host, mail_server.port, timeout=10) as smtp:
        smtp.send_message(message)
    received = mail_server.wait_for(1)
    assert [m["Subject"] for m in received] == ["Toestemming"]
    assert mail_server.to("ouder@example.org")[0].get_content().strip() == "Beste ouder,"
