"""State tables of the key provider (on :data:`governance.state.METADATA`).

``platform_data_keys``: one row per named data key (a SAR bundle's key, the
tombstone key, the research master key), wrapped by the provider's master key;
the key itself is never stored. ``key_id`` identifies the *data* key (what a SAR
manifest records), ``master_key_id`` the key that wrapped it.

``platform_destroyed_keys``: names crypto-shredded. A destroyed name is never
created again, and a wrapped copy restored from a backup is refused.
"""

from __future__ import annotations

import sqlalchemy as sa

from governance.state import METADATA

__all__ = ["data_keys", "destroyed_keys"]

data_keys = sa.Table(
    "platform_data_keys",
    METADATA,
    sa.Column("name", sa.String(80), primary_key=True),
    sa.Column("key_id", sa.String(64), nullable=False),
    sa.Column("provider", sa.String(40), nullable=False),
    sa.Column("master_key_id", sa.String(300), nullable=False),
    sa.Column("wrapped", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

destroyed_keys = sa.Table(
    "platform_destroyed_keys",
    METADATA,
    sa.Column("name", sa.String(80), primary_key=True),
    sa.Column("destroyed_at", sa.DateTime(timezone=True), nullable=False),
)
