"""The migrations build the schema the models describe, and come back down cleanly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from db.migrate import alembic_config
from db.models import Base
from tests.conftest import BACKENDS, fresh_postgres_database, make_settings


@pytest.fixture(params=BACKENDS)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/migrations.db"
    else:
        with fresh_postgres_database() as url:
            yield url


def test_upgrade_matches_the_models_and_downgrade_removes_everything(empty_database: str) -> None:
    settings = make_settings(empty_database)
    config = alembic_config(settings)
    engine = create_engine(settings.sync_database_url)
    try:
        command.upgrade(config, "head")
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert differences == []

        command.downgrade(config, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}

        command.upgrade(config, "head")  # and up again, as a second `make dev` would
        assert {"appointments", "external_busy_blocks"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
