"""sellers: a store is frozen exactly when it has a freeze end (frozen_until)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 12:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

CHECK = "(status = 'frozen' AND frozen_until IS NOT NULL) OR (status <> 'frozen' AND frozen_until IS NULL)"


def upgrade() -> None:
    # Rows the old code could leave behind: an end date on a store that is not frozen means nothing,
    # and a freeze without an end would never be lifted.
    op.execute(sa.text("UPDATE sellers SET frozen_until = NULL WHERE status <> 'frozen'"))
    op.execute(sa.text("UPDATE sellers SET status = 'active' WHERE status = 'frozen' AND frozen_until IS NULL"))
    with op.batch_alter_table('sellers') as batch:
        batch.create_check_constraint('ck_seller_frozen_until', CHECK)


def downgrade() -> None:
    with op.batch_alter_table('sellers') as batch:
        batch.drop_constraint('ck_seller_frozen_until', type_='check')
