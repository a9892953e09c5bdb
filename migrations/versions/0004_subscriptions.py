"""subscriptions: change notifications (subscriptions, the event outbox, per-stream sequences)

Revision ID: 0004_subscriptions
Revises: 0003_bulk_publishing
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import models.base
import models.tables

revision: str = '0004_subscriptions'
down_revision: str | None = '0003_bulk_publishing'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('event_streams',
    sa.Column('stream', sa.String(length=300), nullable=False),
    sa.Column('last_sequence', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('stream', name=op.f('pk_event_streams'))
    )
    op.create_table('outbox_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('gun', sa.String(length=255), nullable=True),
    sa.Column('stream', sa.String(length=300), nullable=True),
    sa.Column('sequence', sa.Integer(), nullable=True),
    sa.Column('data', sa.Text().with_variant(mysql.LONGTEXT(), 'mariadb').with_variant(mysql.LONGTEXT(), 'mysql'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_events')),
    sa.UniqueConstraint('event_id', name=op.f('uq_outbox_events_event_id'))
    )
    op.create_table('subscriptions',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('events', sa.Text(), nullable=False),
    sa.Column('gun_prefix', sa.String(length=255), nullable=True),
    sa.Column('secret_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('kek_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscriptions'))
    )
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('subscription_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('event_id', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('stream', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('sequence', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_webhook_deliveries_subscription_id_stream_sequence'), ['subscription_id', 'stream', 'sequence'], unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_webhook_deliveries_subscription_id_event_id'), ['subscription_id', 'event_id'])



def downgrade() -> None:
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_webhook_deliveries_subscription_id_event_id'), type_='unique')
        batch_op.drop_index(batch_op.f('ix_webhook_deliveries_subscription_id_stream_sequence'))
        batch_op.drop_column('sequence')
        batch_op.drop_column('stream')
        batch_op.drop_column('event_id')
        batch_op.drop_column('subscription_id')

    op.drop_table('subscriptions')
    op.drop_table('outbox_events')
    op.drop_table('event_streams')
