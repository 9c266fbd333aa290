"""Alembic environment for the ledger's tables only.

Used programmatically by :func:`governance.ledger.schema.upgrade`, which passes
an open connection in ``config.attributes["connection"]``; the migration runs
inside that connection's transaction (Alembic does not commit an external
transaction). The ledger keeps its own version table so it can share a database
with a case store that has migrations of its own.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from governance.ledger.schema import VERSION_TABLE, metadata

config = context.config


def _run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    # `alembic upgrade --sql` style: emit the DDL for review instead of running it.
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    else:
        # Run by hand: `sqlalchemy.url` set on the Alembic config.
        engine = sa.create_engine(config.get_main_option("sqlalchemy.url"))
        with engine.begin() as conn:
            _run(conn)
        engine.dispose()
