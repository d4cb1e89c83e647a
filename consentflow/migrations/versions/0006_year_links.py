"""Year links: one personal link per person and signer for the school year; mailings with reminders.

- consent_link.last_sent_at / reminders_sent: when the link was last mailed
  and how many reminders went out, so reminders follow the school's schedule
  and a retried task never mails twice.
- consent_link.language: the language the recipient chose on their page
  (?lang=...), so later mail to that link is in their language.
- consent_round.reminder_every_days / reminder_max: the school's reminder
  schedule for a mailing (NULL: no reminders).
- outbox_message.html_body: the HTML part of a family mail (the plain-text
  part stays in body).

Existing links keep their expiry; new links expire at the end of the school year.

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa


revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("consent_link") as batch:
        batch.add_column(sa.Column("last_sent_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("reminders_sent", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("language", sa.String(length=5), nullable=True))
    with op.batch_alter_table("consent_round") as batch:
        batch.add_column(sa.Column("reminder_every_days", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("reminder_max", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("outbox_message") as batch:
        batch.add_column(sa.Column("html_body", sa.Text(), nullable=True))
    # Links created before this revision were mailed when they were created.
    op.execute("UPDATE consent_link SET last_sent_at = created_at")


def downgrade():
    with op.batch_alter_table("outbox_message") as batch:
        batch.drop_column("html_body")
    with op.batch_alter_table("consent_round") as batch:
        batch.drop_column("reminder_max")
        batch.drop_column("reminder_every_days")
    with op.batch_alter_table("consent_link") as batch:
        batch.drop_column("language")
        batch.drop_column("reminders_sent")
        batch.drop_column("last_sent_at")
