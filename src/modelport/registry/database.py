"""The registry's database: engine set-up, schema migrations, and write transactions.

SQLite is the embedded default. Several processes may register at once, so
writes take the database lock up front (``BEGIN IMMEDIATE``) instead of
upgrading a read lock mid-transaction, which SQLite answers with an immediate
"database is locked" that no busy timeout can wait out. PostgreSQL gets the
same code; its row locks and the unique constraints do the work there.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from modelport.errors import ConfigurationError, RegistryUnavailable

MIGRATIONS = Path(__file__).parent / "migrations"
#: the newest revision in migrations/versions (a test pins it to Alembic's own head), so a
#: database that is already current is recognised without importing Alembic (a tenth of a
#: second of every server start); Alembic runs only when there is something to upgrade
HEAD_REVISION = "0004"
_WRITE = "modelport_write"


def create_registry_engine(uri: str) -> Engine:
    """An engine for ``uri`` with the SQLite locking behaviour described above."""
    try:
        if uri.startswith("sqlite"):
            database = uri.split("///", 1)[1] if "///" in uri else ""
            if database and database != ":memory:":
                Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(uri, connect_args={"timeout": 60})
            _configure_sqlite(engine)
        else:
            engine = create_engine(uri, pool_pre_ping=True)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise ConfigurationError(
            f"cannot use registry URI {uri!r}: {exc}",
            hint="use sqlite:///path/registry.db or postgresql+psycopg://user@host/db "
            "(pip install 'modelport[postgres]')",
        ) from exc
    except ModuleNotFoundError as exc:
        raise ConfigurationError(
            f"the database driver for {uri.split(':', 1)[0]!r} is not installed ({exc.name})",
            hint="for PostgreSQL: pip install 'modelport[postgres]'",
        ) from exc
    return engine


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Database:
    """Owns the engine and hands out read sessions and write transactions."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.engine = create_registry_engine(uri)
        self._reader = sessionmaker(self.engine, expire_on_commit=False)
        self._writer = sessionmaker(
            self.engine.execution_options(**{_WRITE: True}), expire_on_commit=False
        )
        self.migrate()

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        with _translate(self.uri), self._reader() as session, session.begin():
            yield session

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """One atomic write: commits on success, rolls back on any error."""
        with _translate(self.uri), self._writer() as session, session.begin():
            yield session

    def migrate(self) -> None:
        """Bring the schema to the newest revision; concurrent starters wait for each other."""
        with _translate(self.uri):
            with self.engine.connect() as conn:
                if current_revisions(conn) == [HEAD_REVISION]:
                    return
            self._upgrade()

    def _upgrade(self) -> None:
        from alembic import command
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        head = ScriptDirectory.from_config(config).get_current_head()
        with self.engine.execution_options(**{_WRITE: True}).begin() as conn:
            if not self.is_sqlite:
                # One migrator at a time across processes; released at commit.
                conn.execute(text("SELECT pg_advisory_xact_lock(727274)"))
            if MigrationContext.configure(conn).get_current_revision() == head:
                return
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    def dispose(self) -> None:
        self.engine.dispose()


def current_revisions(conn: Connection) -> list[str]:
    """The revisions in Alembic's version table (its default name), read without Alembic."""
    if not inspect(conn).has_table("alembic_version"):
        return []
    return [row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))]


@contextlib.contextmanager
def _translate(uri: str) -> Iterator[None]:
    """Database driver failures enter our hierarchy here."""
    try:
        yield
    except OperationalError as exc:
        raise RegistryUnavailable(
            f"the registry database is unavailable: {exc.orig}",
            hint=f"check that {_redact(uri)} is reachable and writable",
        ) from exc


def _redact(uri: str) -> str:
    if "@" in uri and "://" in uri:
        scheme, rest = uri.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return uri
