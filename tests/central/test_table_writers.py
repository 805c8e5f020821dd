"""One writer per table, read from the source: every statement in `dashboard/` that
inserts, updates or deletes rows names its table, as does every `BulkInsert` (the data
layer renders those), and each table of the schema is named so by exactly one module.
Schema changes live only in the migrations."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import dashboard
from dashboard.storage.migrations import MIGRATIONS, PerDialect, open_database

SOURCE = Path(dashboard.__file__).parent

WRITE = re.compile(r"\b(?:INSERT\s+INTO|DELETE\s+FROM)\s+(\w+)|\bUPDATE\s+(\w+)\s+SET\b")
NAMED_AT_RUN_TIME = re.compile(r"\b(?:INSERT\s+INTO|DELETE\s+FROM|UPDATE)\s+\{\}")
SCHEMA_CHANGE = re.compile(r"\b(?:CREATE|ALTER|DROP)\s+(?:TABLE|INDEX)\b")

MAX_CLASS_LINES = 400

MIGRATION_SCRIPTS = {
    script
    for migration in MIGRATIONS
    for script in (
        (migration.sqlite, migration.postgresql)
        if isinstance(migration, PerDialect)
        else (migration,)
    )
}

DATA_LAYER = "dashboard.storage.db"
"""Renders the statements of `BulkInsert`s, each of which names its table where it is
made; it writes no table of its own."""


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(SOURCE.parent).with_suffix("").parts)


def sql_of(path: Path) -> list[str]:
    """The text of every string in a module; an f-string's values read as `{}`. The
    migrations' own scripts are left out: they write tables once, as they make them."""
    texts: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value not in MIGRATION_SCRIPTS:
                texts.append(node.value)
        elif isinstance(node, ast.JoinedStr):
            texts.append(
                "".join(
                    str(part.value) if isinstance(part, ast.Constant) else "{}"
                    for part in node.values
                )
            )
    return texts


def sources() -> list[Path]:
    return sorted(SOURCE.rglob("*.py"))


def bulk_tables(path: Path) -> list[str | None]:
    """The table of every `BulkInsert(...)` made in a module; None where it is not a
    string literal."""
    tables: list[str | None] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "BulkInsert":
            named = node.args[0] if node.args else None
            for keyword in node.keywords:
                if keyword.arg == "table":
                    named = keyword.value
            literal = isinstance(named, ast.Constant) and isinstance(named.value, str)
            tables.append(named.value if literal else None)  # type: ignore[union-attr]
    return tables


def writers_by_table() -> dict[str, set[str]]:
    writers: dict[str, set[str]] = defaultdict(set)
    for path in sources():
        for text in sql_of(path):
            for insert_or_delete, update in WRITE.findall(text):
                writers[insert_or_delete or update].add(module_name(path))
        for table in bulk_tables(path):
            if table is not None:
                writers[table].add(module_name(path))
    return dict(writers)


def schema_tables(tmp_path: Path) -> set[str]:
    database = open_database(f"sqlite:///{tmp_path / 'fresh.db'}")
    with database.connection() as db:
        rows = db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
    database.close()
    return {r[0] for r in rows}


def test_every_table_has_exactly_one_writing_module(tmp_path: Path) -> None:
    tables = schema_tables(tmp_path)
    writers = writers_by_table()
    assert set(writers) - tables == set(), "writes to tables the schema does not have"
    assert {t for t in tables if t not in writers} == set(), "tables nobody writes"
    shared = {table: sorted(modules) for table, modules in writers.items() if len(modules) > 1}
    assert shared == {}, "tables written by more than one module"
    assert writers["alerts"] == {"dashboard.storage.alerts"}
    assert writers["schema_version"] == {"dashboard.storage.migrations"}


def test_no_statement_names_the_table_it_writes_at_run_time() -> None:
    dynamic = [
        module_name(path)
        for path in sources()
        if module_name(path) != DATA_LAYER
        and (
            any(NAMED_AT_RUN_TIME.search(text) for text in sql_of(path))
            or None in bulk_tables(path)
        )
    ]
    assert dynamic == [], "a write whose table is named at run time cannot be checked"
    assert bulk_tables(SOURCE / "storage" / "db.py") == [], "the data layer writes no table"


def test_schema_changes_only_in_the_migrations() -> None:
    changing = {
        module_name(path)
        for path in sources()
        if any(SCHEMA_CHANGE.search(text) for text in sql_of(path))
    }
    assert changing == {"dashboard.storage.migrations"}


def test_no_store_class_is_over_four_hundred_lines() -> None:
    long = {}
    for path in sorted((SOURCE / "storage").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_CLASS_LINES:
                    long[f"{module_name(path)}.{node.name}"] = lines
    assert long == {}
