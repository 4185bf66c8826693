"""handoff: conversations handed over to agents, and their messages

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

OPEN = "state IN ('waiting', 'held')"


def upgrade() -> None:
    op.create_table('handoffs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('identity_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('sender_id', sa.String(length=128), nullable=False),
    sa.Column('input_channel', sa.String(length=40), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('after_hours', sa.Integer(), nullable=False),
    sa.Column('topic_id', sa.BigInteger(), nullable=True),
    sa.Column('agent_id', sa.String(length=32), nullable=True),
    sa.Column('agent_name', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('queued_at', sa.DateTime(), nullable=False),
    sa.Column('held_at', sa.DateTime(), nullable=True),
    sa.Column('last_agent_at', sa.DateTime(), nullable=True),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('closed_by', sa.String(length=100), nullable=True),
    sa.Column('close_reason', sa.String(length=20), nullable=True),
    sa.Column('resumed_at', sa.DateTime(), nullable=True),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('rated_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint("state IN ('waiting', 'held', 'closed')", name='ck_handoff_state'),
    sa.CheckConstraint("reason IN ('request_human', 'fallback', 'complain')", name='ck_handoff_reason'),
    sa.CheckConstraint('rating IS NULL OR (rating BETWEEN 1 AND 5)', name='ck_handoff_rating'),
    sa.CheckConstraint("(state = 'held') = (agent_id IS NOT NULL)", name='ck_handoff_held_agent'),
    sa.ForeignKeyConstraint(['identity_id'], ['chat_identities.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.create_index('ix_handoffs_state', ['state'], unique=False)
        batch_op.create_index('ix_handoffs_topic', ['topic_id'], unique=False)
        batch_op.create_index('uq_open_handoff_per_identity', ['identity_id'], unique=True,
                              sqlite_where=sa.text(OPEN), postgresql_where=sa.text(OPEN))

    op.create_table('handoff_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('handoff_id', sa.Integer(), nullable=False),
    sa.Column('direction', sa.String(length=10), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('photo_sha256', sa.String(length=64), nullable=True),
    sa.Column('buttons', sa.JSON(), nullable=True),
    sa.Column('actor', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('delivered_at', sa.DateTime(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.CheckConstraint("direction IN ('user', 'agent', 'note', 'system', 'bot')",
                       name='ck_handoff_message_direction'),
    sa.ForeignKeyConstraint(['handoff_id'], ['handoffs.id'], ),
    sa.ForeignKeyConstraint(['photo_sha256'], ['photos.sha256'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('handoff_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_handoff_messages_handoff_id'), ['handoff_id'], unique=False)
        batch_op.create_index('ix_handoff_messages_pending', ['delivered_at', 'direction'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('handoff_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_handoff_messages_pending')
        batch_op.drop_index(batch_op.f('ix_handoff_messages_handoff_id'))
    op.drop_table('handoff_messages')
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.drop_index('uq_open_handoff_per_identity')
        batch_op.drop_index('ix_handoffs_topic')
        batch_op.drop_index('ix_handoffs_state')
    op.drop_table('handoffs')
