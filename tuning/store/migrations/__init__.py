"""Alembic migrations of servetune's tables: bring a database to the newest schema.

The revisions live in ``versions/``, one file each, run by ``env.py``. A schema change is a change to
``tuning/store/tables.py`` plus the next revision, which :func:`new_revision` writes from the difference (read it
before committing it)::

    .venv/bin/python -c "from tuning.store.migrations import new_revision; new_revision('add trial.foo')"
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, inspect, text

from tuning.errors import ServetuneError
from tuning.store.tables import TABLE_NAMES, metadata

VERSION_TABLE = "servetune_alembic_version"
"""Where servetune records its revision: Optuna's own alembic history is ``alembic_version`` in the same database."""

FIRST_REVISION = "0001"
"""The schema of release 0.1.0, which made its tables without alembic."""

_MIGRATIONS = Path(__file__).parent
# Two processes opening one PostgreSQL database take turns on this lock; SQLite takes turns on the file.
_LOCK_KEY = zlib.crc32(VERSION_TABLE.encode())


class UnknownSchema(ServetuneError):
    """servetune's tables are there but have no revision, and are not release 0.1.0's either."""


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Whether alembic looks at a database object: servetune's tables, never Optuna's."""
    return type_ != "table" or name in TABLE_NAMES


def upgrade(engine: Engine, target: str = "head") -> None:
    """Upgrade servetune's tables to the newest revision (or ``target``), creating them in a database without them.

    Tables made by release 0.1.0 (no version table) are first stamped with the revision they match.
    """
    with engine.connect() as connection:
        _take_turn(connection)
        config = _config(connection)
        if _revision(connection) is None and _has_tables(connection):
            _complete_first_revision(connection)
            command.stamp(config, FIRST_REVISION)
        command.upgrade(config, target)
        connection.commit()


def revision(engine: Engine) -> str | None:
    """The revision servetune's tables are at, or None before any."""
    with engine.connect() as connection:
        return _revision(connection)


def head() -> str:
    head = ScriptDirectory.from_config(_config(None)).get_current_head()
    assert head is not None, f"no revisions in {_MIGRATIONS}"
    return head


def new_revision(message: str) -> Path:
    """Write the next revision file: the difference between ``tables.py`` and the newest revision's schema."""
    with create_engine("sqlite://").connect() as connection:
        config = _config(connection)
        command.upgrade(config, "head")
        current = ScriptDirectory.from_config(config).get_current_head()
        number = f"{int(current or 0) + 1:04d}"
        script = command.revision(config, message, autogenerate=True, rev_id=number)
    assert script is not None and not isinstance(script, list)
    return Path(script.path)


def _config(connection: Connection | None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.set_main_option("file_template", "r%%(rev)s_%%(slug)s")
    config.attributes["connection"] = connection
    return config


def _take_turn(connection: Connection) -> None:
    """Hold the database's migration lock until the transaction ends, so that a second process waits, then sees
    the tables at the newest revision and does nothing."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    elif connection.dialect.name == "sqlite":
        # The sqlite3 module starts no transaction before DDL: take the file's write lock now.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE}).get_current_revision()


def _has_tables(connection: Connection) -> bool:
    return bool(TABLE_NAMES & set(inspect(connection).get_table_names()))


def _complete_first_revision(connection: Connection) -> None:
    """Give unversioned tables the columns of the first revision they lack, or raise if that cannot be done.

    Builds before 0.1.0 made the same tables with fewer columns, and 0.1.0 added the missing ones on open (each
    nullable or with a default, so stored rows stay valid): this does what it did, so those databases upgrade too.
    """
    inspector = inspect(connection)
    present = set(inspector.get_table_names())
    missing = [
        (table, column)
        for table, columns in _first_revision_columns().items()
        if table in present
        for column in sorted(columns - {c["name"] for c in inspector.get_columns(table)})
    ]
    current = metadata.tables
    addable = [
        (table, current[table].columns[name])
        for table, name in missing
        if table in current and name in current[table].columns
    ]
    lacking = (
        sorted(TABLE_NAMES - present)
        + [
            f"{table}.{column.name}"
            for table, column in addable
            if not column.nullable and column.server_default is None
        ]
        + [f"{table}.{name}" for table, name in missing if table not in current or name not in current[table].columns]
    )
    if lacking:
        url = connection.engine.url.render_as_string(hide_password=True)
        raise UnknownSchema(
            f"servetune's tables in {url} have no schema revision and lack {', '.join(lacking)}, which cannot be "
            "added in place: they were not made by servetune. Point SERVETUNE_DATABASE_URL at another database."
        )
    operations = Operations(MigrationContext.configure(connection))
    for table, column in addable:
        operations.add_column(table, column._copy())


def _first_revision_columns() -> dict[str, set[str]]:
    with create_engine("sqlite://").connect() as scratch:
        command.upgrade(_config(scratch), FIRST_REVISION)
        inspector = inspect(scratch)
        return {
            table: {column["name"] for column in inspector.get_columns(table)}
            for table in inspector.get_table_names()
            if table in TABLE_NAMES
        }
