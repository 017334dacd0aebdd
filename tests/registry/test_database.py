"""Migrations: Alembic only when the schema is behind; the quick check knows the real head."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text

import modelport
from modelport.registry.database import HEAD_REVISION, MIGRATIONS, Database, current_revisions
from modelport.registry.tables import Base


def test_the_quick_check_knows_alembics_head() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # a new migration must move HEAD_REVISION, or databases would never be upgraded to it
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD_REVISION


def test_a_fresh_database_is_migrated_and_then_recognised(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'registry.db'}")
    with database.engine.connect() as conn:
        assert current_revisions(conn) == [HEAD_REVISION]
        assert conn.execute(text("SELECT count(*) FROM models")).scalar() == 0
    database.dispose()


def test_a_database_behind_the_head_is_upgraded(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'registry.db'}"
    Database(uri).dispose()
    database = Database(uri)
    with database.engine.begin() as conn:
        Base.metadata.drop_all(conn)  # back to an empty database, as before any migration
        conn.execute(text("DROP TABLE alembic_version"))
    database.migrate()
    with database.engine.connect() as conn:
        assert current_revisions(conn) == [HEAD_REVISION]
        assert conn.execute(text("SELECT count(*) FROM models")).scalar() == 0
    database.dispose()


def test_opening_a_current_database_does_not_import_alembic(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'registry.db'}"
    Database(uri).dispose()
    code = (
        "import sys\n"
        "from modelport.registry.database import Database\n"
        f"Database({uri!r}).dispose()\n"
        "print('alembic' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(Path(modelport.__file__).parents[1])},
    )
    assert done.stdout.strip() == "False"
