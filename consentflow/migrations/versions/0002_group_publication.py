"""Group publication: background publishing claims, refusals, per-face redaction, one live publication.

- photo_purpose gains the "publishing" status (claimed by a request, run by
  a worker), who asked and when, the worker's claim time, attempts, and the
  last refusal with the faces that caused it;
- face_redaction stores a reviewer's stronger redaction for a face, with
  the box it was chosen on (it re-attaches after reprocessing);
- publication gets a unique partial index: one live publication per photo
  and channel, enforced by the database.

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

OLD_STATUS = "status IN ('pending', 'approved', 'blocked')"
NEW_STATUS = "status IN ('pending', 'approved', 'blocked', 'publishing')"


def upgrade():
    with op.batch_alter_table("photo_purpose", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_photo_purpose_status"), type_="check")
        batch_op.create_check_constraint("status", NEW_STATUS)
        batch_op.add_column(sa.Column("publish_requested_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("publish_requested_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("publish_note", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("publish_started_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("publish_attempts", sa.Integer(), nullable=False,
                                      server_default="0"))
        batch_op.add_column(sa.Column("refusal", sa.JSON(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_photo_purpose_publish_requested_by_id_user_account"),
            "user_account", ["publish_requested_by_id"], ["id"])
    with op.batch_alter_table("photo_purpose", schema=None) as batch_op:
        batch_op.alter_column("publish_attempts", server_default=None)

    op.create_table(
        "face_redaction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("photo_id", sa.Integer(), nullable=False),
        sa.Column("face_id", sa.Integer(), nullable=True),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("left", sa.Integer(), nullable=False),
        sa.Column("top", sa.Integer(), nullable=False),
        sa.Column("right", sa.Integer(), nullable=False),
        sa.Column("bottom", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("mode IN ('standard', 'wide', 'solid')", name=op.f("ck_face_redaction_mode")),
        sa.ForeignKeyConstraint(["created_by_id"], ["user_account.id"],
                                name=op.f("fk_face_redaction_created_by_id_user_account")),
        sa.ForeignKeyConstraint(["face_id"], ["face.id"], name=op.f("fk_face_redaction_face_id_face"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["photo_id"], ["photo.id"], name=op.f("fk_face_redaction_photo_id_photo"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_face_redaction")),
    )
    with op.batch_alter_table("face_redaction", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_face_redaction_photo_id"), ["photo_id"], unique=False)

    op.create_index("uq_publication_live", "publication", ["photo_id", "purpose"], unique=True,
                    sqlite_where=sa.text("taken_down_at IS NULL"),
                    postgresql_where=sa.text("taken_down_at IS NULL"))


def downgrade():
    op.drop_index("uq_publication_live", table_name="publication",
                  sqlite_where=sa.text("taken_down_at IS NULL"),
                  postgresql_where=sa.text("taken_down_at IS NULL"))
    with op.batch_alter_table("face_redaction", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_face_redaction_photo_id"))
    op.drop_table("face_redaction")
    # A purpose caught mid-publication goes back to approved: nothing was published.
    op.execute("UPDATE photo_purpose SET status = 'approved' WHERE status = 'publishing'")
    with op.batch_alter_table("photo_purpose", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_photo_purpose_publish_requested_by_id_user_account"),
                                 type_="foreignkey")
        batch_op.drop_column("refusal")
        batch_op.drop_column("publish_attempts")
        batch_op.drop_column("publish_started_at")
        batch_op.drop_column("publish_note")
        batch_op.drop_column("publish_requested_by_id")
        batch_op.drop_column("publish_requested_at")
        batch_op.drop_constraint(op.f("ck_photo_purpose_status"), type_="check")
        batch_op.create_check_constraint("status", OLD_STATUS)
