"""seller verification and brand authorisations, recall notices (one per order), test buys (inspections)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 15:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

OPEN = sa.text("state IN ('submitted', 'under_review', 'info_requested')")
SOURCES_OLD = "source IN ('shopper_report', 'rights_holder')"
SOURCES_NEW = "source IN ('shopper_report', 'rights_holder', 'inspection')"


def _case_source(check: str) -> None:
    # The partial unique index is dropped around the batch rebuild and made again by hand, so SQLite's
    # table copy cannot lose its WHERE clause.
    op.drop_index('uq_open_case_per_listing', table_name='ipp_cases')
    with op.batch_alter_table('ipp_cases') as batch:
        batch.drop_constraint('ck_case_source', type_='check')
        batch.create_check_constraint('ck_case_source', check)
    op.create_index('uq_open_case_per_listing', 'ipp_cases', ['listing_id'], unique=True,
                    sqlite_where=OPEN, postgresql_where=OPEN)


def upgrade() -> None:
    with op.batch_alter_table('sellers') as batch:
        batch.add_column(sa.Column('verification_level', sa.String(length=20), nullable=False,
                                   server_default='unverified'))
        batch.add_column(sa.Column('verified_at', sa.DateTime(), nullable=True))
        batch.create_check_constraint(
            'ck_seller_verification_level',
            "verification_level IN ('unverified', 'business_verified', 'authorised_reseller')")
        batch.create_check_constraint('ck_seller_verified_at',
                                      "(verification_level = 'unverified') = (verified_at IS NULL)")
    op.create_table('seller_brand_authorisations',
    sa.Column('seller_id', sa.String(length=32), nullable=False),
    sa.Column('brand_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], ),
    sa.ForeignKeyConstraint(['seller_id'], ['sellers.id'], ),
    sa.PrimaryKeyConstraint('seller_id', 'brand_id')
    )
    _case_source(SOURCES_NEW)
    with op.batch_alter_table('notifications') as batch:
        batch.add_column(sa.Column('buttons', sa.JSON(none_as_null=True), nullable=True))
    op.create_table('recall_notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_number', sa.String(length=16), nullable=False),
    sa.Column('customer_id', sa.String(length=64), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('case_event_id', sa.Integer(), nullable=False),
    sa.Column('reached', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('reached >= 0', name='ck_recall_reached'),
    sa.ForeignKeyConstraint(['case_event_id'], ['case_events.id'], ),
    sa.ForeignKeyConstraint(['case_id'], ['ipp_cases.id'], ),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ),
    sa.ForeignKeyConstraint(['order_number'], ['orders.number'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('order_number')
    )
    op.create_index('ix_recall_notices_case_id', 'recall_notices', ['case_id'])
    op.create_index('ix_recall_notices_customer_id', 'recall_notices', ['customer_id'])
    op.create_table('inspections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('listing_id', sa.String(length=16), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('result', sa.String(length=20), nullable=False),
    sa.Column('agency', sa.String(length=100), nullable=False),
    sa.Column('order_ref', sa.String(length=64), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.CheckConstraint("result IN ('fake', 'genuine', 'inconclusive')", name='ck_inspection_result'),
    sa.CheckConstraint('length(agency) > 0', name='ck_inspection_agency'),
    sa.ForeignKeyConstraint(['case_id'], ['ipp_cases.id'], ),
    sa.ForeignKeyConstraint(['listing_id'], ['listings.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_inspections_listing_id', 'inspections', ['listing_id'])
    op.create_index('ix_inspections_case_id', 'inspections', ['case_id'])
    op.create_table('inspection_photos',
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('photo_sha256', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspections.id'], ),
    sa.ForeignKeyConstraint(['photo_sha256'], ['photos.sha256'], ),
    sa.PrimaryKeyConstraint('inspection_id', 'photo_sha256')
    )


def downgrade() -> None:
    op.drop_table('inspection_photos')
    op.drop_index('ix_inspections_case_id', table_name='inspections')
    op.drop_index('ix_inspections_listing_id', table_name='inspections')
    op.drop_table('inspections')
    op.drop_index('ix_recall_notices_customer_id', table_name='recall_notices')
    op.drop_index('ix_recall_notices_case_id', table_name='recall_notices')
    op.drop_table('recall_notices')
    with op.batch_alter_table('notifications') as batch:
        batch.drop_column('buttons')
    op.execute(sa.text("UPDATE ipp_cases SET source = 'rights_holder' WHERE source = 'inspection'"))
    _case_source(SOURCES_OLD)
    op.drop_table('seller_brand_authorisations')
    with op.batch_alter_table('sellers') as batch:
        batch.drop_constraint('ck_seller_verified_at', type_='check')
        batch.drop_constraint('ck_seller_verification_level', type_='check')
        batch.drop_column('verified_at')
        batch.drop_column('verification_level')
