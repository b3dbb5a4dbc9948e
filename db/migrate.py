"""Apply the Alembic migrations from code (the dev stack, the tests, the compose migrate step)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from config import Settings, get_settings

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(settings: Settings) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = settings.sync_database_url
    return config


def upgrade_to_head(settings: Settings) -> None:
    if settings.is_sqlite:
        _ensure_sqlite_directory(settings.sync_database_url)
    command.upgrade(alembic_config(settings), "head")


def _ensure_sqlite_directory(url: str) -> None:
    path = url.split("///", 1)[1] if "///" in url else ""
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


if __name__ == "__main__":
    upgrade_to_head(get_settings())
