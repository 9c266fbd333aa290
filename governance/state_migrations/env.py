"""Alembic environment for the platform's state tables only.

Used programmatically by :func:`governance.state.ensure_schema`, which passes an
open connection in ``config.attributes["connection"]``; the migration runs
inside that connection's transaction (Alembic does not commit an external
transaction). The chain keeps its own version table and looks only at the
tables on :data:`governance.state.METADATA`, because the state database is
usually the ledger's and may be a case store's.

By hand (new revisions): see ``alembic.ini`` beside this file.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from governance.state import METADATA, VERSION_TABLE, is_state_name, load_table_modules

config = context.config
load_table_modules()  # autogenerate must see every capability's tables


def _options() -> dict:
    return {"target_metadata": METADATA, "version_table": VERSION_TABLE, "include_name": is_state_name}


def _run(connection: sa.Connection) -> None:
    context.configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite", **_options())
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str | None:
    return context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")


if context.is_offline_mode():
    # `alembic upgrade --sql` style: emit the DDL for review instead of running it.
    # The baseline inspects the database, so offline mode fits later revisions only.
    context.configure(url=_url(), literal_binds=True, **_options())
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    else:
        engine = sa.create_engine(_url())
        with engine.begin() as conn:
            _run(conn)
        engine.dispose()
