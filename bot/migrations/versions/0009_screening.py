"""screening: listings' reference price, photo hash and (demo) truth label; sellers' opening date; cases
opened by the screening

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 15:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

OPEN = sa.text("state IN ('submitted', 'under_review', 'info_requested')")
SOURCES_OLD = "source IN ('shopper_report', 'rights_holder', 'inspection')"
SOURCES_NEW = "source IN ('shopper_report', 'rights_holder', 'inspection', 'screening')"


def _case_source(check: str) -> None:
    # As in 0008: the partial unique index is made again by hand around the batch rebuild, so SQLite's
    # table copy cannot lose its WHERE clause.
    op.drop_index('uq_open_case_per_listing', table_name='ipp_cases')
    with op.batch_alter_table('ipp_cases') as batch:
        batch.drop_constraint('ck_case_source', type_='check')
        batch.create_check_constraint('ck_case_source', check)
    op.create_index('uq_open_case_per_listing', 'ipp_cases', ['listing_id'], unique=True,
                    sqlite_where=OPEN, postgresql_where=OPEN)


def upgrade() -> None:
    with op.batch_alter_table('sellers') as batch:
        batch.add_column(sa.Column('created_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('listings') as batch:
        batch.add_column(sa.Column('reference_price_krw', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('photo_phash', sa.String(length=16), nullable=True))
        batch.add_column(sa.Column('truth_label', sa.String(length=10), nullable=True))
        batch.create_check_constraint('ck_listing_reference_price',
                                      "reference_price_krw IS NULL OR reference_price_krw > 0")
        batch.create_check_constraint('ck_listing_photo_phash', "photo_phash IS NULL OR length(photo_phash) = 16")
        batch.create_check_constraint('ck_listing_truth_label',
                                      "truth_label IS NULL OR truth_label IN ('fake', 'genuine')")
        batch.create_index('ix_listings_photo_phash', ['photo_phash'])
    _case_source(SOURCES_NEW)


def downgrade() -> None:
    # Cases the screening opened stay, as cases the team opened (the closest older kind).
    op.execute(sa.text("UPDATE ipp_cases SET source = 'rights_holder' WHERE source = 'screening'"))
    _case_source(SOURCES_OLD)
    with op.batch_alter_table('listings') as batch:
        batch.drop_index('ix_listings_photo_phash')
        batch.drop_constraint('ck_listing_truth_label', type_='check')
        batch.drop_constraint('ck_listing_photo_phash', type_='check')
        batch.drop_constraint('ck_listing_reference_price', type_='check')
        batch.drop_column('truth_label')
        batch.drop_column('photo_phash')
        batch.drop_column('reference_price_krw')
    with op.batch_alter_table('sellers') as batch:
        batch.drop_column('created_at')
