"""kakao: KakaoTalk chat accounts, and one-time link codes for them in the link-token table

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 16:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('chat_identities', schema=None) as batch_op:
        batch_op.drop_constraint('ck_identity_channel', type_='check')
        batch_op.create_check_constraint('ck_identity_channel', "channel IN ('web', 'telegram', 'kakao')")
    with op.batch_alter_table('telegram_link_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel', sa.String(length=20), server_default='telegram', nullable=False))
        batch_op.alter_column('used_by', existing_type=sa.String(length=32), type_=sa.String(length=128),
                              existing_nullable=True)
        batch_op.create_check_constraint('ck_link_token_channel', "channel IN ('telegram', 'kakao')")


def downgrade() -> None:
    op.execute("DELETE FROM telegram_link_tokens WHERE channel = 'kakao'")
    with op.batch_alter_table('telegram_link_tokens', schema=None) as batch_op:
        batch_op.drop_constraint('ck_link_token_channel', type_='check')
        batch_op.alter_column('used_by', existing_type=sa.String(length=128), type_=sa.String(length=32),
                              existing_nullable=True)
        batch_op.drop_column('channel')
    kakao = op.get_bind().execute(sa.text("SELECT COUNT(*) FROM chat_identities WHERE channel = 'kakao'")).scalar()
    if kakao:
        # Their reports, notifications and hand-overs point at them: a person decides what becomes of those.
        raise RuntimeError(f"{kakao} KakaoTalk accounts exist; downgrading below 0010 would orphan their records")
    with op.batch_alter_table('chat_identities', schema=None) as batch_op:
        batch_op.drop_constraint('ck_identity_channel', type_='check')
        batch_op.create_check_constraint('ck_identity_channel', "channel IN ('web', 'telegram')")
