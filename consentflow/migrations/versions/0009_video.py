"""Videos in the product: tracks, processing and rendering progress, the sound decision.

- video_track: one row per face followed through a video, tied to the Face
  row that carries its review decisions (deleted with it).
- photo.progress_done / progress_total: frames analysed, for the progress bar
  (a long job keeps its claim through the lease its heartbeat renews).
- photo_purpose.keep_audio: the reviewer's wish to keep a video's sound
  (existing rows: false, i.e. dropped); render_done / render_total: frames
  rendered and checked during publication.
- publication.video_snapshot: for a video, the sound decision and the check.

Revision ID: 0009_video
Revises: 0010_signin
"""
from alembic import op
import sqlalchemy as sa


revision = "0009_video"
down_revision = "0010_signin"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "video_track",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("photo_id", sa.Integer(), nullable=False),
        sa.Column("face_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("fps", sa.Double(), nullable=False),
        sa.Column("first_frame", sa.Integer(), nullable=False),
        sa.Column("last_frame", sa.Integer(), nullable=False),
        sa.Column("frame_count", sa.Integer(), nullable=False),
        sa.Column("detections", sa.Integer(), nullable=False),
        sa.Column("boxes_key", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["photo_id"], ["photo.id"], ondelete="CASCADE",
                                name=op.f("fk_video_track_photo_id_photo")),
        sa.ForeignKeyConstraint(["face_id"], ["face.id"], ondelete="CASCADE",
                                name=op.f("fk_video_track_face_id_face")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_video_track")),
        sa.UniqueConstraint("face_id", name=op.f("uq_video_track_face_id")),
    )
    with op.batch_alter_table("video_track") as batch_op:
        batch_op.create_index(batch_op.f("ix_video_track_photo_id"), ["photo_id"], unique=False)
    with op.batch_alter_table("photo") as batch_op:
        batch_op.add_column(sa.Column("progress_done", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("progress_total", sa.Integer(), nullable=True))
    with op.batch_alter_table("publication") as batch_op:
        batch_op.add_column(sa.Column("video_snapshot", sa.JSON(), nullable=True))
    with op.batch_alter_table("photo_purpose") as batch_op:
        batch_op.add_column(sa.Column("keep_audio", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column("render_done", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("render_total", sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table("photo_purpose") as batch_op:
        batch_op.drop_column("render_total")
        batch_op.drop_column("render_done")
        batch_op.drop_column("keep_audio")
    with op.batch_alter_table("publication") as batch_op:
        batch_op.drop_column("video_snapshot")
    with op.batch_alter_table("photo") as batch_op:
        batch_op.drop_column("progress_total")
        batch_op.drop_column("progress_done")
    with op.batch_alter_table("video_track") as batch_op:
        batch_op.drop_index(batch_op.f("ix_video_track_photo_id"))
    op.drop_table("video_track")
