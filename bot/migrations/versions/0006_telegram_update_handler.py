"""telegram_updates.handler: which process took an update in, so replicas take over only a dead one's

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 12:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('telegram_updates') as batch:
        batch.add_column(sa.Column('handler', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('telegram_updates') as batch:
        batch.drop_column('handler')
