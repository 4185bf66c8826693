"""notification topics: outbox rows about something other than a case event (a held refund's decision)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 16:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('topic', sa.String(length=80), nullable=True))
        batch_op.alter_column('case_event_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_unique_constraint('uq_notification_topic_once', ['topic', 'identity_id'])
        batch_op.create_check_constraint('ck_notification_about',
                                         "(case_event_id IS NULL) <> (topic IS NULL)")


def downgrade() -> None:
    # Topic rows have no case event to hang on: delivered or not, they go with the column.
    op.execute("DELETE FROM notifications WHERE topic IS NOT NULL")
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_constraint('ck_notification_about', type_='check')
        batch_op.drop_constraint('uq_notification_topic_once', type_='unique')
        batch_op.alter_column('case_event_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('topic')
