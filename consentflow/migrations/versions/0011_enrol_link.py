"""Second-factor set-up links: a first second factor is tied to the user's mailbox.

- account_link.purpose may now be 'enrol': the link mailed to an admin or PR
  user who has to set up a second factor, so that a password alone never
  lets anyone enrol their own authenticator.

Revision ID: 0011_enrol_link
Revises: 0009_video
"""
from alembic import op


revision = "0011_enrol_link"
down_revision = "0009_video"
branch_labels = None
depends_on = None


def _purposes(allowed: str) -> None:
    # SQLite cannot alter a constraint: batch mode copies the table.
    with op.batch_alter_table("account_link", recreate="always") as batch_op:
        batch_op.drop_constraint(op.f("ck_account_link_purpose"), type_="check")
        batch_op.create_check_constraint(op.f("ck_account_link_purpose"), f"purpose IN ({allowed})")


def upgrade():
    _purposes("'invite', 'reset', 'enrol'")


def downgrade():
    op.execute("DELETE FROM account_link WHERE purpose = 'enrol'")
    _purposes("'invite', 'reset'")
