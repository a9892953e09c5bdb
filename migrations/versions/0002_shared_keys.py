"""shared keys

Revision ID: 0002_shared_keys
Revises: 0001_initial
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base
import models.tables

revision: str = '0002_shared_keys'
down_revision: str | None = '0001_initial'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('access_list',
    sa.Column('instance_id', sa.String(length=64), nullable=False),
    sa.Column('account', sa.String(length=32), nullable=False),
    sa.Column('nonce_sha256', sa.String(length=64), nullable=False),
    sa.Column('pending_time', models.base.UTCDateTime(), nullable=False),
    sa.Column('first_seen', models.base.UTCDateTime(), nullable=False),
    sa.Column('last_seen', models.base.UTCDateTime(), nullable=False),
    sa.Column('expires_at', models.base.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('instance_id', name=op.f('pk_access_list'))
    )
    with op.batch_alter_table('access_list', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_list_expires_at'), ['expires_at'], unique=False)

    op.create_table('shared_key_audit',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('identity', sa.String(length=128), nullable=False),
    sa.Column('event', sa.String(length=32), nullable=False),
    sa.Column('at', models.base.UTCDateTime(), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shared_key_audit'))
    )
    with op.batch_alter_table('shared_key_audit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shared_key_audit_identity'), ['identity'], unique=False)

    op.create_table('shared_keys',
    sa.Column('identity', sa.String(length=128), nullable=False),
    sa.Column('dc', sa.String(length=64), nullable=False),
    sa.Column('account', sa.String(length=32), nullable=False),
    sa.Column('region', sa.String(length=64), nullable=False),
    sa.Column('image', sa.String(length=64), nullable=False),
    sa.Column('instance_id', sa.String(length=64), nullable=False),
    sa.Column('roles', sa.Text(), nullable=False),
    sa.Column('secret_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('nonce_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('kek_id', sa.String(length=64), nullable=False),
    sa.Column('ttl', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(), nullable=False),
    sa.Column('expires_at', models.base.UTCDateTime(), nullable=False),
    sa.Column('max_expires_at', models.base.UTCDateTime(), nullable=False),
    sa.Column('revoked_at', models.base.UTCDateTime(), nullable=True),
    sa.Column('secret_revealed_at', models.base.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('identity', name=op.f('pk_shared_keys'))
    )
    with op.batch_alter_table('shared_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shared_keys_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_shared_keys_instance_id'), ['instance_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('shared_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shared_keys_instance_id'))
        batch_op.drop_index(batch_op.f('ix_shared_keys_expires_at'))

    op.drop_table('shared_keys')
    with op.batch_alter_table('shared_key_audit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shared_key_audit_identity'))

    op.drop_table('shared_key_audit')
    with op.batch_alter_table('access_list', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_list_expires_at'))

    op.drop_table('access_list')
