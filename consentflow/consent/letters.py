"""Printable letters (PDF) with the personal link as text and as QR code, for families without e-mail.

One A4 page per link, in the recipient's language (or the school's). The QR
code (segno) holds exactly the printed link, so a phone camera opens the
same page the typed address does.
"""

from __future__ import annotations

import io
import unicodedata
from dataclasses import dataclass
from datetime import datetime

import segno
from flask_babel import force_locale
from flask_babel import gettext as _
from fpdf import FPDF

from consentflow.consent.family_mail import last_valid_day, long_date, mail_language
from consentflow.consent.links import LinkContext
from consentflow.consent.signer import local_date
from consentflow.models import ConsentLink, School


@dataclass(frozen=True)
class Letter:
    school: str
    recipient: str
    subject: str
    paragraphs: tuple[str, ...]
    url: str
    printed_on: str


def letter_for(ctx: LinkContext, school: School, link: ConsentLink, now: datetime) -> Letter:
    """The words of one letter, in the link's language."""
    locale = mail_language(link, school)
    person = link.person
    with force_locale(locale):
        valid_until = long_date(last_valid_day(link), locale)
        if link.guardian is not None:
            recipient = link.guardian.name
            intro = _("%(school)s asks you, once per school year, whether photos and videos of %(name)s "
                      "may be used, and for what.", school=school.name, name=person.full_name)
        else:
            recipient = person.full_name
            intro = _("%(school)s asks you, once per school year, whether photos and videos of you may "
                      "be used, and for what. You are 16 or older, so you decide yourself.",
                      school=school.name)
        return Letter(
            school=school.name, recipient=recipient,
            subject=_("Photos and video of %(name)s at %(school)s: your choice", name=person.first_name,
                      school=school.name),
            paragraphs=(
                _("Dear %(name)s,", name=recipient), intro,
                _("Scan the QR code with your phone's camera, or type the address below into a browser. "
                  "There you give, change or withdraw your choice."),
                _("This link is yours for the whole school year %(year)s and works until %(date)s. With it "
                  "you can always see the choice on file, change it or withdraw it. Do not forward it: it "
                  "is meant for you only.", year=link.round.school_year.label, date=valid_until),
            ),
            url=ctx.url(link), printed_on=long_date(local_date(now), locale))


def _latin1(text: str) -> str:
    """The PDF's built-in font covers Latin-1 (all Dutch letters); other letters lose their accents."""
    if all(ord(ch) < 256 for ch in text):
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if ord(ch) < 256 and not unicodedata.combining(ch)) or "?"


def _qr_png(url: str) -> io.BytesIO:
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="png", scale=10, border=2)
    out.seek(0)
    return out


def letters_pdf(letters: list[Letter]) -> bytes:
    """One A4 page per letter: school, recipient, text, the QR code and the link as text."""
    pdf = FPDF(format="A4")
    pdf.set_margins(22, 22, 22)
    pdf.set_auto_page_break(True, margin=20)
    pdf.set_title(_latin1(letters[0].subject) if letters else "")
    for letter in letters:
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 14)
        pdf.multi_cell(0, 7, _latin1(letter.school), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 10)
        pdf.multi_cell(0, 5, _latin1(letter.printed_on), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(8)
        pdf.set_font("Helvetica", "", 11)
        pdf.multi_cell(0, 6, _latin1(letter.recipient), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(8)
        pdf.set_font("Helvetica", "B", 12)
        pdf.multi_cell(0, 6, _latin1(letter.subject), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
        pdf.set_font("Helvetica", "", 11)
        for paragraph in letter.paragraphs:
            pdf.multi_cell(0, 6, _latin1(paragraph), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
        pdf.image(_qr_png(letter.url), x=pdf.l_margin, w=50, h=50)
        pdf.ln(3)
        pdf.set_font("Courier", "", 9)
        pdf.multi_cell(0, 5, letter.url, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(6)
        pdf.set_font("Helvetica", "", 11)
        pdf.multi_cell(0, 6, _latin1(letter.school), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
