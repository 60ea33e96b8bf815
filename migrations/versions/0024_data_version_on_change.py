"""data version moves only when rows change: a sync that finds nothing new leaves every cached page in place

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03 08:30:00

Until now a statement-level BEFORE trigger moved the version for every writing statement, even one that changed no
row: a forward sync that re-read the last days and found them unchanged (its upserts skip identical rows) still
threw away every cached page, once per window. Now each versioned table carries:

- `bump_data_version_lock`: BEFORE INSERT/UPDATE/DELETE, takes the version row's lock first, so writers still queue
  on that row before they lock any row of page data (the order the old trigger gave, which keeps them from
  deadlocking each other);
- `bump_data_version_insert` / `_update` / `_delete`: AFTER the statement, with its transition table (`changed`),
  move the version (or the live version, `abacus.live_write`) once per transaction when the statement changed at
  least one row;
- `bump_data_version`: BEFORE TRUNCATE, moves it as before.

A new table that pages read needs the same five triggers (`tests/integration/test_page_cache.py` checks every
table has them or is named as read by no cached page).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BUMP = """
  -- once per transaction: later statements of the same writer find the row already theirs
  IF current_setting('abacus.live_write', true) = 'on' THEN
    UPDATE data_version SET live_version = live_version + 1, live_bumped_by = pg_current_xact_id()::text::bigint
    WHERE id = 1 AND live_bumped_by IS DISTINCT FROM pg_current_xact_id()::text::bigint;
  ELSE
    UPDATE data_version SET version = version + 1, bumped_by = pg_current_xact_id()::text::bigint
    WHERE id = 1 AND bumped_by IS DISTINCT FROM pg_current_xact_id()::text::bigint;
  END IF;
"""
"""Move the version (or the live version) once per transaction, as migration 0021's trigger did."""

FUNCTIONS = (
    f"CREATE OR REPLACE FUNCTION data_version_bump() RETURNS void LANGUAGE plpgsql AS $$\nBEGIN{BUMP}END\n$$",
    """
CREATE OR REPLACE FUNCTION bump_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM data_version_bump();
  RETURN NULL;
END
$$""",
    """
CREATE OR REPLACE FUNCTION lock_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM data_version WHERE id = 1 FOR NO KEY UPDATE;
  RETURN NULL;
END
$$""",
    """
CREATE OR REPLACE FUNCTION bump_data_version_if_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM changed) THEN
    PERFORM data_version_bump();
  END IF;
  RETURN NULL;
END
$$""",
)

PREVIOUS = (
    "CREATE OR REPLACE FUNCTION bump_data_version() RETURNS trigger LANGUAGE plpgsql AS $$\n"
    f"BEGIN{BUMP}  RETURN NULL;\nEND\n$$",
    "DROP FUNCTION bump_data_version_if_changed()",
    "DROP FUNCTION lock_data_version()",
    "DROP FUNCTION data_version_bump()",
)

VERSIONED_NOW = (
    "SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE t.tgname = 'bump_data_version' AND n.nspname = current_schema() ORDER BY 1"
)


def _versioned_tables() -> list[str]:
    return [row[0] for row in op.get_bind().exec_driver_sql(VERSIONED_NOW)]


def upgrade() -> None:
    for statement in FUNCTIONS:
        op.execute(statement)
    for table in _versioned_tables():
        op.execute(f"DROP TRIGGER bump_data_version ON {table}")
        op.execute(
            f"CREATE TRIGGER bump_data_version BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version()"
        )
        op.execute(
            f"CREATE TRIGGER bump_data_version_lock BEFORE INSERT OR UPDATE OR DELETE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION lock_data_version()"
        )
        for event, transition in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
            op.execute(
                f"CREATE TRIGGER bump_data_version_{event.lower()} AFTER {event} ON {table} "
                f"REFERENCING {transition} TABLE AS changed "
                "FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version_if_changed()"
            )


def downgrade() -> None:
    for table in _versioned_tables():
        for name in ("lock", "insert", "update", "delete"):
            op.execute(f"DROP TRIGGER bump_data_version_{name} ON {table}")
        op.execute(f"DROP TRIGGER bump_data_version ON {table}")
        op.execute(
            f"CREATE TRIGGER bump_data_version BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version()"
        )
    for statement in PREVIOUS:
        op.execute(statement)
