"""telegram: processed updates, link tokens, callback payload keys

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('telegram_updates',
    sa.Column('update_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('chat_id', sa.BigInteger(), nullable=True),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('update_id')
    )
    with op.batch_alter_table('telegram_updates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_telegram_updates_received_at'), ['received_at'], unique=False)

    op.create_table('telegram_link_tokens',
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('used_at', sa.DateTime(), nullable=True),
    sa.Column('used_by', sa.String(length=32), nullable=True),
    sa.CheckConstraint('(used_at IS NULL) = (used_by IS NULL)', name='ck_link_token_used'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ),
    sa.PrimaryKeyConstraint('token_sha256')
    )
    with op.batch_alter_table('telegram_link_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_telegram_link_tokens_customer_id'), ['customer_id'], unique=False)

    op.create_table('telegram_callback_keys',
    sa.Column('key', sa.String(length=32), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )


def downgrade() -> None:
    op.drop_table('telegram_callback_keys')
    with op.batch_alter_table('telegram_link_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_telegram_link_tokens_customer_id'))
    op.drop_table('telegram_link_tokens')
    with op.batch_alter_table('telegram_updates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_telegram_updates_received_at'))
    op.drop_table('telegram_updates')
