"""Server-side sessions, known-device login throttling, audit hash rule 2, signed forms frozen.

- user_session: one row per signed-in browser; checked on every request, so
  logout, a password change or an administrator can end a session for good.
- login_attempt.device: the known-device id of the client, so a client that
  signed in before is judged only by its own failures.
- audit_event.hash_version: events already in the table keep rule 1 (the
  server default), so existing chains keep verifying unchanged; new events
  are sealed with rule 2, which also covers the event id and the stored order
  of subject ids. No event is rewritten.
- consent_form: a trigger refuses UPDATE and DELETE of a form version that a
  consent record refers to (what families signed never changes).

Revision ID: 0005
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = "0005"
down_revision = "0001"
branch_labels = None
depends_on = None

FORM_SIGNED_MESSAGE = "this consent form version has been signed and cannot change; make a new version"


def _create_form_triggers():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER consent_form_signed_no_{verb.lower()} BEFORE {verb} ON consent_form "
                "WHEN EXISTS (SELECT 1 FROM consent_record WHERE consent_record.form_id = OLD.id) "
                f"BEGIN SELECT RAISE(ABORT, '{FORM_SIGNED_MESSAGE}'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION consent_form_signed_immutable() RETURNS trigger AS $$ BEGIN "
            "IF EXISTS (SELECT 1 FROM consent_record WHERE consent_record.form_id = OLD.id) THEN "
            f"RAISE EXCEPTION '{FORM_SIGNED_MESSAGE}'; END IF; "
            "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END; $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER consent_form_signed_immutable BEFORE UPDATE OR DELETE ON consent_form "
            "FOR EACH ROW EXECUTE FUNCTION consent_form_signed_immutable()"
        )


def _drop_form_triggers():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS consent_form_signed_no_update")
        op.execute("DROP TRIGGER IF EXISTS consent_form_signed_no_delete")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS consent_form_signed_immutable ON consent_form")
        op.execute("DROP FUNCTION IF EXISTS consent_form_signed_immutable()")


def upgrade():
    op.create_table(
        "user_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_agent", sa.String(length=300), nullable=False),
        sa.Column("remote_addr", sa.String(length=64), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], ondelete="CASCADE",
                                name=op.f("fk_user_session_user_id_user_account")),
        sa.ForeignKeyConstraint(["school_id"], ["school.id"], ondelete="SET NULL",
                                name=op.f("fk_user_session_school_id_school")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_user_session_token_hash")),
    )
    with op.batch_alter_table("user_session") as batch_op:
        batch_op.create_index(batch_op.f("ix_user_session_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("login_attempt") as batch_op:
        batch_op.add_column(sa.Column("device", sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f("ix_login_attempt_device"), ["device"], unique=False)

    # Existing rows take rule 1 from the server default; the app writes 2.
    op.add_column("audit_event", sa.Column("hash_version", sa.Integer(), nullable=False,
                                           server_default=sa.text("1")))
    _create_form_triggers()


def downgrade():
    _drop_form_triggers()
    with op.batch_alter_table("audit_event") as batch_op:
        batch_op.drop_column("hash_version")
    with op.batch_alter_table("login_attempt") as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_attempt_device"))
        batch_op.drop_column("device")
    with op.batch_alter_table("user_session") as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_session_user_id"))
    op.drop_table("user_session")
