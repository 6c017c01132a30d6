"""Alembic's environment for servetune's tables: run on the connection ``tuning.store.migrations`` hands over.

Optuna keeps its own tables and its own alembic history (``alembic_version``) in the same database, so servetune
records its revision in another table and looks at none but its own tables.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlmodel.sql.sqltypes import AutoString

from tuning.store.migrations import VERSION_TABLE, include_name
from tuning.store.tables import metadata

config = context.config
connection: Any = config.attributes["connection"]


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Revisions name plain SQLAlchemy types: a revision must not change when SQLModel does."""
    if type_ == "type" and isinstance(obj, AutoString):
        return "sa.String()"
    return False


context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    include_name=include_name,
    render_item=render_item,
    # SQLite alters a table by copying it: alembic's batch mode does that when a revision asks for it.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    compare_server_default=True,
)
with context.begin_transaction():
    context.run_migrations()
