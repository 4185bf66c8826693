"""Alembic environment: migrates the database that bot.settings (or the caller) names."""
from alembic import context

from bot.db import get_engine
from bot.models import Base

config = context.config

# Rasa's own tables (bot/server/tracker_store.py creates them, and TRACKER_TABLES there names them): not ours to
# migrate, so autogenerate must not propose to drop them. A test checks the two lists agree.
RASA_TABLES = frozenset({"events"})


def _ours(name, type_, _parent) -> bool:
    return not (type_ == "table" and name in RASA_TABLES)


def run_migrations() -> None:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url") or None
    engine = get_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            include_name=_ours,
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations()
