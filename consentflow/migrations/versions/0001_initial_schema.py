"""Initial schema: tenancy, people, consent, photos, faces, publications, audit.

consent_record is append-only: a trigger refuses UPDATE and DELETE on both
SQLite and PostgreSQL, so a record can only ever be superseded.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-21

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0001'
down_revision = None
branch_labels = None
depends_on = None



CONSENT_IMMUTABLE_MESSAGE = "consent records are immutable; record a superseding record instead"


def _create_consent_triggers():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER consent_record_no_{verb.lower()} BEFORE {verb} ON consent_record "
                f"BEGIN SELECT RAISE(ABORT, '{CONSENT_IMMUTABLE_MESSAGE}'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION consent_record_immutable() RETURNS trigger AS $$ BEGIN "
            f"RAISE EXCEPTION '{CONSENT_IMMUTABLE_MESSAGE}'; END; $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER consent_record_immutable BEFORE UPDATE OR DELETE ON consent_record "
            "FOR EACH ROW EXECUTE FUNCTION consent_record_immutable()"
        )


def _drop_consent_triggers():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS consent_record_no_update")
        op.execute("DROP TRIGGER IF EXISTS consent_record_no_delete")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS consent_record_immutable ON consent_record")
        op.execute("DROP FUNCTION IF EXISTS consent_record_immutable()")


def upgrade():
    op.create_table('board',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_board')),
    sa.UniqueConstraint('name', name=op.f('uq_board_name'))
    )
    op.create_table('login_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('remote_addr', sa.String(length=64), nullable=False),
    sa.Column('success', sa.Boolean(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_attempt'))
    )
    with op.batch_alter_table('login_attempt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_attempt_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_login_attempt_email'), ['email'], unique=False)
        batch_op.create_index(batch_op.f('ix_login_attempt_remote_addr'), ['remote_addr'], unique=False)

    op.create_table('school',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('board_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('slug', sa.String(length=80), nullable=False),
    sa.Column('locale', sa.String(length=5), nullable=False),
    sa.Column('biometric_mode', sa.String(length=12), nullable=False),
    sa.Column('block_face_share', sa.Double(), nullable=False),
    sa.Column('year_start_month', sa.Integer(), nullable=False),
    sa.Column('year_start_day', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("biometric_mode IN ('all', 'consented', 'off')", name=op.f('ck_school_biometric_mode')),
    sa.ForeignKeyConstraint(['board_id'], ['board.id'], name=op.f('fk_school_board_id_board')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_school')),
    sa.UniqueConstraint('slug', name=op.f('uq_school_slug'))
    )
    with op.batch_alter_table('school', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_school_board_id'), ['board_id'], unique=False)

    op.create_table('user_account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('board_admin_of_id', sa.Integer(), nullable=True),
    sa.Column('locale', sa.String(length=5), nullable=True),
    sa.Column('session_token', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['board_admin_of_id'], ['board.id'], name=op.f('fk_user_account_board_admin_of_id_board')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_account')),
    sa.UniqueConstraint('email', name=op.f('uq_user_account_email'))
    )
    op.create_table('album',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('event_date', sa.Date(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('maker', sa.String(length=200), nullable=False),
    sa.Column('purposes', sa.JSON(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_album_created_by_id_user_account')),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], name=op.f('fk_album_school_id_school')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_album'))
    )
    with op.batch_alter_table('album', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_album_school_id'), ['school_id'], unique=False)

    op.create_table('audit_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_label', sa.String(length=254), nullable=False),
    sa.Column('action', sa.String(length=80), nullable=False),
    sa.Column('object_type', sa.String(length=40), nullable=False),
    sa.Column('object_id', sa.String(length=64), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('personal', sa.JSON(), nullable=False),
    sa.Column('subject_ids', sa.JSON(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], name=op.f('fk_audit_event_actor_id_user_account')),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], name=op.f('fk_audit_event_school_id_school')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_event')),
    sa.UniqueConstraint('hash', name=op.f('uq_audit_event_hash')),
    sa.UniqueConstraint('prev_hash', name=op.f('uq_audit_event_prev_hash'))
    )
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_event_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_event_school_id'), ['school_id'], unique=False)

    op.create_table('guardian',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], name=op.f('fk_guardian_school_id_school')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_guardian'))
    )
    with op.batch_alter_table('guardian', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_guardian_email'), ['email'], unique=False)
        batch_op.create_index(batch_op.f('ix_guardian_school_id'), ['school_id'], unique=False)

    op.create_table('membership',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.CheckConstraint("role IN ('admin', 'pr', 'teacher', 'privacy')", name=op.f('ck_membership_role')),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], name=op.f('fk_membership_school_id_school')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_membership_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_membership')),
    sa.UniqueConstraint('user_id', 'school_id', 'role', name=op.f('uq_membership_user_id_school_id_role'))
    )
    with op.batch_alter_table('membership', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_membership_school_id'), ['school_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_membership_user_id'), ['user_id'], unique=False)

    op.create_table('api_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], name=op.f('fk_api_token_school_id_school')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_api_token_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_token')),
    sa.UniqueConstraint('token_sha256', name=op.f('uq_api_token_token_sha256'))
    )
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_token_school_id'), ['school_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_api_token_user_id'), ['user_id'], unique=False)

    op.create_table('outbox_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('to_address', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], name=op.f('fk_outbox_message_school_id_school')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_message'))
    )
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_message_school_id'), ['school_id'], unique=False)

    op.create_table('person',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.Column('first_name', sa.String(length=120), nullable=False),
    sa.Column('last_name', sa.String(length=160), nullable=False),
    sa.Column('date_of_birth', sa.Date(), nullable=True),
    sa.Column('group_name', sa.String(length=40), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('enrolled_on', sa.Date(), nullable=True),
    sa.Column('left_on', sa.Date(), nullable=True),
    sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('student', 'staff')", name=op.f('ck_person_kind')),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], name=op.f('fk_person_school_id_school')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_person')),
    sa.UniqueConstraint('school_id', 'external_id', name=op.f('uq_person_school_id_external_id'))
    )
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_person_group_name'), ['group_name'], unique=False)
        batch_op.create_index(batch_op.f('ix_person_school_id'), ['school_id'], unique=False)

    op.create_table('school_year',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=20), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], name=op.f('fk_school_year_school_id_school')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_school_year')),
    sa.UniqueConstraint('school_id', 'starts_on', name=op.f('uq_school_year_school_id_starts_on'))
    )
    with op.batch_alter_table('school_year', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_school_year_school_id'), ['school_id'], unique=False)

    op.create_table('consent_form',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('school_year_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('wording', sa.Text(), nullable=False),
    sa.Column('purposes', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], name=op.f('fk_consent_form_school_id_school')),
    sa.ForeignKeyConstraint(['school_year_id'], ['school_year.id'], name=op.f('fk_consent_form_school_year_id_school_year')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_form')),
    sa.UniqueConstraint('school_year_id', 'version', name=op.f('uq_consent_form_school_year_id_version'))
    )
    with op.batch_alter_table('consent_form', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consent_form_school_id'), ['school_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_consent_form_school_year_id'), ['school_year_id'], unique=False)

    op.create_table('person_guardian',
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('guardian_id', sa.Integer(), nullable=False),
    sa.Column('relation', sa.String(length=40), nullable=True),
    sa.ForeignKeyConstraint(['guardian_id'], ['guardian.id'], name=op.f('fk_person_guardian_guardian_id_guardian'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_person_guardian_person_id_person'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('person_id', 'guardian_id', name=op.f('pk_person_guardian'))
    )
    op.create_table('photo',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('album_id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('storage_key', sa.String(length=200), nullable=True),
    sa.Column('original_filename', sa.String(length=255), nullable=False),
    sa.Column('media_type', sa.String(length=40), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('byte_size', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('failure_reason', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('engine_settings', sa.JSON(), nullable=True),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('processing_started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("state IN ('uploaded', 'processing', 'needs_review', 'approved', 'published', 'rejected', 'failed', 'withdrawn')", name=op.f('ck_photo_state')),
    sa.ForeignKeyConstraint(['album_id'], ['album.id'], name=op.f('fk_photo_album_id_album')),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], name=op.f('fk_photo_school_id_school')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['user_account.id'], name=op.f('fk_photo_uploaded_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_photo')),
    sa.UniqueConstraint('album_id', 'sha256', name=op.f('uq_photo_album_id_sha256'))
    )
    with op.batch_alter_table('photo', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_photo_album_id'), ['album_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_photo_school_id'), ['school_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_photo_sha256'), ['sha256'], unique=False)
        batch_op.create_index(batch_op.f('ix_photo_state'), ['state'], unique=False)

    op.create_table('reference_face',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('portrait_sha256', sa.String(length=64), nullable=False),
    sa.Column('encoding_encrypted', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_reference_face_created_by_id_user_account')),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_reference_face_person_id_person'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], name=op.f('fk_reference_face_school_id_school')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reference_face'))
    )
    with op.batch_alter_table('reference_face', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reference_face_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reference_face_school_id'), ['school_id'], unique=False)

    op.create_table('consent_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('school_year_id', sa.Integer(), nullable=False),
    sa.Column('form_id', sa.Integer(), nullable=False),
    sa.Column('decisions', sa.JSON(), nullable=False),
    sa.Column('signer_kind', sa.String(length=10), nullable=False),
    sa.Column('signer_guardian_id', sa.Integer(), nullable=True),
    sa.Column('signer_name', sa.String(length=200), nullable=False),
    sa.Column('method', sa.String(length=12), nullable=False),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('evidence_sha256', sa.String(length=64), nullable=True),
    sa.Column('evidence_key', sa.String(length=200), nullable=True),
    sa.Column('evidence_note', sa.Text(), nullable=True),
    sa.Column('supersedes_id', sa.Integer(), nullable=True),
    sa.Column('submission_nonce', sa.String(length=64), nullable=True),
    sa.CheckConstraint("method IN ('digital', 'paper', 'in_person')", name=op.f('ck_consent_record_method')),
    sa.CheckConstraint("signer_kind IN ('guardian', 'self')", name=op.f('ck_consent_record_signer_kind')),
    sa.ForeignKeyConstraint(['form_id'], ['consent_form.id'], name=op.f('fk_consent_record_form_id_consent_form')),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_consent_record_person_id_person')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user_account.id'], name=op.f('fk_consent_record_recorded_by_id_user_account')),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], name=op.f('fk_consent_record_school_id_school')),
    sa.ForeignKeyConstraint(['school_year_id'], ['school_year.id'], name=op.f('fk_consent_record_school_year_id_school_year')),
    sa.ForeignKeyConstraint(['signer_guardian_id'], ['guardian.id'], name=op.f('fk_consent_record_signer_guardian_id_guardian')),
    sa.ForeignKeyConstraint(['supersedes_id'], ['consent_record.id'], name=op.f('fk_consent_record_supersedes_id_consent_record')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_record')),
    sa.UniqueConstraint('submission_nonce', name=op.f('uq_consent_record_submission_nonce'))
    )
    with op.batch_alter_table('consent_record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consent_record_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_consent_record_school_id'), ['school_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_consent_record_school_year_id'), ['school_year_id'], unique=False)

    op.create_table('consent_round',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('school_year_id', sa.Integer(), nullable=False),
    sa.Column('form_id', sa.Integer(), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('opened_by_id', sa.Integer(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['form_id'], ['consent_form.id'], name=op.f('fk_consent_round_form_id_consent_form')),
    sa.ForeignKeyConstraint(['opened_by_id'], ['user_account.id'], name=op.f('fk_consent_round_opened_by_id_user_account')),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], name=op.f('fk_consent_round_school_id_school')),
    sa.ForeignKeyConstraint(['school_year_id'], ['school_year.id'], name=op.f('fk_consent_round_school_year_id_school_year')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_round'))
    )
    with op.batch_alter_table('consent_round', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consent_round_school_id'), ['school_id'], unique=False)

    op.create_table('face',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('photo_id', sa.Integer(), nullable=False),
    sa.Column('left', sa.Integer(), nullable=False),
    sa.Column('top', sa.Integer(), nullable=False),
    sa.Column('right', sa.Integer(), nullable=False),
    sa.Column('bottom', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('detector', sa.String(length=40), nullable=False),
    sa.Column('score', sa.Double(), nullable=False),
    sa.Column('encoding_encrypted', sa.LargeBinary(), nullable=True),
    sa.Column('match_status', sa.String(length=10), nullable=False),
    sa.Column('matched_person_id', sa.Integer(), nullable=True),
    sa.Column('distance', sa.Double(), nullable=True),
    sa.Column('candidates', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("match_status IN ('matched', 'ambiguous', 'weak', 'unknown')", name=op.f('ck_face_match_status')),
    sa.CheckConstraint("source IN ('detector', 'reviewer')", name=op.f('ck_face_source')),
    sa.ForeignKeyConstraint(['matched_person_id'], ['person.id'], name=op.f('fk_face_matched_person_id_person'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['photo_id'], ['photo.id'], name=op.f('fk_face_photo_id_photo'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_face'))
    )
    with op.batch_alter_table('face', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_face_matched_person_id'), ['matched_person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_face_photo_id'), ['photo_id'], unique=False)

    op.create_table('photo_purpose',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('photo_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'approved', 'blocked')", name=op.f('ck_photo_purpose_status')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['user_account.id'], name=op.f('fk_photo_purpose_decided_by_id_user_account')),
    sa.ForeignKeyConstraint(['photo_id'], ['photo.id'], name=op.f('fk_photo_purpose_photo_id_photo'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_photo_purpose')),
    sa.UniqueConstraint('photo_id', 'purpose', name=op.f('uq_photo_purpose_photo_id_purpose'))
    )
    with op.batch_alter_table('photo_purpose', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_photo_purpose_photo_id'), ['photo_id'], unique=False)

    op.create_table('publication',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('photo_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=40), nullable=False),
    sa.Column('channel_note', sa.String(length=300), nullable=True),
    sa.Column('derivative_sha256', sa.String(length=64), nullable=False),
    sa.Column('derivative_key', sa.String(length=200), nullable=True),
    sa.Column('maker_credit', sa.String(length=200), nullable=False),
    sa.Column('snapshot', sa.JSON(), nullable=False),
    sa.Column('published_by_id', sa.Integer(), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('taken_down_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['photo_id'], ['photo.id'], name=op.f('fk_publication_photo_id_photo')),
    sa.ForeignKeyConstraint(['published_by_id'], ['user_account.id'], name=op.f('fk_publication_published_by_id_user_account')),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], name=op.f('fk_publication_school_id_school')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_publication'))
    )
    with op.batch_alter_table('publication', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_publication_photo_id'), ['photo_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_publication_school_id'), ['school_id'], unique=False)

    op.create_table('consent_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('guardian_id', sa.Integer(), nullable=True),
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['guardian_id'], ['guardian.id'], name=op.f('fk_consent_link_guardian_id_guardian')),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_consent_link_person_id_person')),
    sa.ForeignKeyConstraint(['round_id'], ['consent_round.id'], name=op.f('fk_consent_link_round_id_consent_round')),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], name=op.f('fk_consent_link_school_id_school')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_link')),
    sa.UniqueConstraint('nonce', name=op.f('uq_consent_link_nonce'))
    )
    with op.batch_alter_table('consent_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consent_link_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_consent_link_round_id'), ['round_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_consent_link_school_id'), ['school_id'], unique=False)

    op.create_table('face_review',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('photo_id', sa.Integer(), nullable=False),
    sa.Column('face_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('left', sa.Integer(), nullable=False),
    sa.Column('top', sa.Integer(), nullable=False),
    sa.Column('right', sa.Integer(), nullable=False),
    sa.Column('bottom', sa.Integer(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('reviewer_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind IN ('confirm', 'assign', 'not_person', 'not_face', 'external_adult')", name=op.f('ck_face_review_kind')),
    sa.ForeignKeyConstraint(['face_id'], ['face.id'], name=op.f('fk_face_review_face_id_face'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_face_review_person_id_person'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['photo_id'], ['photo.id'], name=op.f('fk_face_review_photo_id_photo'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reviewer_id'], ['user_account.id'], name=op.f('fk_face_review_reviewer_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_face_review'))
    )
    with op.batch_alter_table('face_review', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_face_review_photo_id'), ['photo_id'], unique=False)

    op.create_table('takedown_task',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('publication_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('consent_record_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('done_by_id', sa.Integer(), nullable=True),
    sa.Column('done_note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['consent_record_id'], ['consent_record.id'], name=op.f('fk_takedown_task_consent_record_id_consent_record')),
    sa.ForeignKeyConstraint(['done_by_id'], ['user_account.id'], name=op.f('fk_takedown_task_done_by_id_user_account')),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_takedown_task_person_id_person'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['publication_id'], ['publication.id'], name=op.f('fk_takedown_task_publication_id_publication')),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], name=op.f('fk_takedown_task_school_id_school')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_takedown_task'))
    )
    with op.batch_alter_table('takedown_task', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_takedown_task_publication_id'), ['publication_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_takedown_task_school_id'), ['school_id'], unique=False)

    _create_consent_triggers()


def downgrade():
    _drop_consent_triggers()
    with op.batch_alter_table('takedown_task', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_takedown_task_school_id'))
        batch_op.drop_index(batch_op.f('ix_takedown_task_publication_id'))

    op.drop_table('takedown_task')
    with op.batch_alter_table('face_review', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_face_review_photo_id'))

    op.drop_table('face_review')
    with op.batch_alter_table('consent_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consent_link_school_id'))
        batch_op.drop_index(batch_op.f('ix_consent_link_round_id'))
        batch_op.drop_index(batch_op.f('ix_consent_link_person_id'))

    op.drop_table('consent_link')
    with op.batch_alter_table('publication', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_publication_school_id'))
        batch_op.drop_index(batch_op.f('ix_publication_photo_id'))

    op.drop_table('publication')
    with op.batch_alter_table('photo_purpose', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_photo_purpose_photo_id'))

    op.drop_table('photo_purpose')
    with op.batch_alter_table('face', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_face_photo_id'))
        batch_op.drop_index(batch_op.f('ix_face_matched_person_id'))

    op.drop_table('face')
    with op.batch_alter_table('consent_round', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consent_round_school_id'))

    op.drop_table('consent_round')
    with op.batch_alter_table('consent_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consent_record_school_year_id'))
        batch_op.drop_index(batch_op.f('ix_consent_record_school_id'))
        batch_op.drop_index(batch_op.f('ix_consent_record_person_id'))

    op.drop_table('consent_record')
    with op.batch_alter_table('reference_face', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reference_face_school_id'))
        batch_op.drop_index(batch_op.f('ix_reference_face_person_id'))

    op.drop_table('reference_face')
    with op.batch_alter_table('photo', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_photo_state'))
        batch_op.drop_index(batch_op.f('ix_photo_sha256'))
        batch_op.drop_index(batch_op.f('ix_photo_school_id'))
        batch_op.drop_index(batch_op.f('ix_photo_album_id'))

    op.drop_table('photo')
    op.drop_table('person_guardian')
    with op.batch_alter_table('consent_form', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consent_form_school_year_id'))
        batch_op.drop_index(batch_op.f('ix_consent_form_school_id'))

    op.drop_table('consent_form')
    with op.batch_alter_table('school_year', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_school_year_school_id'))

    op.drop_table('school_year')
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_person_school_id'))
        batch_op.drop_index(batch_op.f('ix_person_group_name'))

    op.drop_table('person')
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_message_school_id'))

    op.drop_table('outbox_message')
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_token_user_id'))
        batch_op.drop_index(batch_op.f('ix_api_token_school_id'))

    op.drop_table('api_token')
    with op.batch_alter_table('membership', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_membership_user_id'))
        batch_op.drop_index(batch_op.f('ix_membership_school_id'))

    op.drop_table('membership')
    with op.batch_alter_table('guardian', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_guardian_school_id'))
        batch_op.drop_index(batch_op.f('ix_guardian_email'))

    op.drop_table('guardian')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_event_school_id'))
        batch_op.drop_index(batch_op.f('ix_audit_event_action'))

    op.drop_table('audit_event')
    with op.batch_alter_table('album', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_album_school_id'))

    op.drop_table('album')
    op.drop_table('user_account')
    with op.batch_alter_table('school', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_school_board_id'))

    op.drop_table('school')
    with op.batch_alter_table('login_attempt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_attempt_remote_addr'))
        batch_op.drop_index(batch_op.f('ix_login_attempt_email'))
        batch_op.drop_index(batch_op.f('ix_login_attempt_at'))

    op.drop_table('login_attempt')
    op.drop_table('board')
