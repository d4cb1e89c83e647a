"""School sign-in: OpenID Connect providers, TOTP second factor, recovery codes, account links.

- signin_provider: one OpenID Connect provider per school (issuer, client,
  sealed secret, e-mail claim, domain and organisation rules).
- user_account: the sealed TOTP secret, when it was confirmed and the last
  accepted time step (a code is accepted once).
- recovery_code: hashed one-time codes for a lost authenticator.
- account_link: invitation and password-reset links (hash of the random
  part, expiry, single use).

Revision ID: 0010_signin
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa


revision = "0010_signin"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "signin_provider",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("client_secret_sealed", sa.Text(), nullable=False),
        sa.Column("scopes", sa.String(length=300), nullable=False),
        sa.Column("email_claim", sa.String(length=80), nullable=False),
        sa.Column("allowed_domains", sa.String(length=500), nullable=False),
        sa.Column("org_claim", sa.String(length=80), nullable=False),
        sa.Column("org_values", sa.String(length=500), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["school_id"], ["school.id"], ondelete="CASCADE",
                                name=op.f("fk_signin_provider_school_id_school")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signin_provider")),
        sa.UniqueConstraint("school_id", name=op.f("uq_signin_provider_school_id")),
    )
    op.create_table(
        "recovery_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], ondelete="CASCADE",
                                name=op.f("fk_recovery_code_user_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_code")),
    )
    with op.batch_alter_table("recovery_code") as batch_op:
        batch_op.create_index(batch_op.f("ix_recovery_code_user_id"), ["user_id"], unique=False)
    op.create_table(
        "account_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=12), nullable=False),
        sa.Column("nonce_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("purpose IN ('invite', 'reset')", name=op.f("ck_account_link_purpose")),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], ondelete="CASCADE",
                                name=op.f("fk_account_link_user_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_link")),
        sa.UniqueConstraint("nonce_hash", name=op.f("uq_account_link_nonce_hash")),
    )
    with op.batch_alter_table("account_link") as batch_op:
        batch_op.create_index(batch_op.f("ix_account_link_user_id"), ["user_id"], unique=False)
    with op.batch_alter_table("user_account") as batch_op:
        batch_op.add_column(sa.Column("totp_secret_sealed", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("totp_confirmed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("totp_last_step", sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table("user_account") as batch_op:
        batch_op.drop_column("totp_last_step")
        batch_op.drop_column("totp_confirmed_at")
        batch_op.drop_column("totp_secret_sealed")
    with op.batch_alter_table("account_link") as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_link_user_id"))
    op.drop_table("account_link")
    with op.batch_alter_table("recovery_code") as batch_op:
        batch_op.drop_index(batch_op.f("ix_recovery_code_user_id"))
    op.drop_table("recovery_code")
    op.drop_table("signin_provider")
