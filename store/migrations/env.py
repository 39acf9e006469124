"""Alembic environment: runs migrations on the connection store.db.upgrade hands over."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import store.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from store.search import modelled

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `rulewatch db upgrade`, which supplies the database")

context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    include_name=modelled,
)
with context.begin_transaction():
    context.run_migrations()
