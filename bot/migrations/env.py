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
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch migrations rebuild a table (copy, DROP, rename): with foreign keys on, dropping a table
            # other rows point at fails once there is data. SQLite's own recipe: keys off outside any
            # transaction, rebuild, check every key, keys on again (bot.db turns them on per connection).
            _raw(connection, "PRAGMA foreign_keys=OFF")
        try:
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                render_as_batch=sqlite,
                compare_type=True,
                include_name=_ours,
            )
            with context.begin_transaction():
                context.run_migrations()
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"the migration left rows pointing at nothing: {broken[:5]}")
            if connection.in_transaction():  # alembic joined a transaction the version check had begun
                connection.commit()
        finally:
            if sqlite:
                if connection.in_transaction():
                    connection.rollback()
                _raw(connection, "PRAGMA foreign_keys=ON")


def _raw(connection, statement: str) -> None:
    """On the DBAPI connection, outside SQLAlchemy's transaction (a PRAGMA inside one is ignored)."""
    cursor = connection.connection.cursor()
    try:
        cursor.execute(statement)
    finally:
        cursor.close()


run_migrations()
