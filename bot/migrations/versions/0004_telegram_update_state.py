"""telegram: updates keep their payload and are marked handled (at-least-once handling)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('telegram_updates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payload', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('handled_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default=sa.text('0'), nullable=False))
        batch_op.create_index(batch_op.f('ix_telegram_updates_handled_at'), ['handled_at'], unique=False)
    # Rows from before this revision were only "seen" and carry no payload to handle again: count them as handled.
    op.execute("UPDATE telegram_updates SET handled_at = received_at WHERE handled_at IS NULL")


def downgrade() -> None:
    with op.batch_alter_table('telegram_updates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_telegram_updates_handled_at'))
        batch_op.drop_column('attempts')
        batch_op.drop_column('handled_at')
        batch_op.drop_column('payload')
