"""Every SQL string of the storage runs on both back ends: found by walking the source, translated
for PostgreSQL (placeholders outside comments and literals), and planned by the real database
(``EXPLAIN``, which checks syntax, tables and columns without running the statement).

Runs on SQLite and again on PostgreSQL (the module name starts with ``test_server_``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from sync_server.storage import open_storage
from sync_server.storage.postgres import translate_sql
from tests.support import BACKEND, server_db_location

ROOT = Path(__file__).resolve().parent.parent
STORAGE = ROOT / "sync_server" / "storage"
DML = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\s")
# The shared SQL, and the statements of this pass's own back end.
SOURCES = sorted((STORAGE / "sql").glob("*.py")) + [STORAGE / ("postgres.py" if BACKEND == "postgres" else "sqlite.py")]


def sql_constants() -> list[tuple[str, str]]:
    """``(where, text)`` of every whole string constant of the SQL modules that is a DML statement
    (parts of f-strings are left out: they are not statements on their own)."""
    out = []
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        inside_f = {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for part in node.values}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in inside_f
                    and DML.match(node.value)):
                out.append((f"{path.relative_to(ROOT)}:{node.lineno}", node.value))
    return out


def _placeholders(sql: str) -> int:
    """``?`` outside quoted text and comments (an independent count, by regular expressions)."""
    stripped = re.sub(r"'[^']*'|\"[^\"]*\"|--[^\n]*|/\*.*?\*/", "", sql, flags=re.DOTALL)
    return stripped.count("?")


def test_the_walk_finds_the_storage_sql():
    found = sql_constants()
    assert len(found) > 40, len(found)
    assert any("FROM responses" in text for _, text in found)


def test_translation_leaves_comments_and_literals_alone():
    sql = ("SELECT '?' AS q, 'it''s 100%' AS p -- don't? 5%\n"
           "FROM units /* a 'quoted' ? */ WHERE code = ? AND name LIKE '%?%' AND level = ?")
    out = translate_sql(sql)
    assert out.count("%s") == 2
    assert "-- don't? 5%%\n" in out and "/* a 'quoted' ? */" in out and "'%%?%%'" in out
    assert translate_sql("SELECT CAST(n AS REAL) FROM t", placeholders=False) == "SELECT CAST(n AS DOUBLE PRECISION) FROM t"
    assert translate_sql("SELECT '%' FROM t", placeholders=False) == "SELECT '%' FROM t"  # sent as is: no doubling


@pytest.fixture(scope="module")
def storage(tmp_path_factory):
    opened = open_storage(server_db_location(tmp_path_factory.mktemp("sql")))
    yield opened
    opened.close()


@pytest.mark.parametrize("where,sql", sql_constants(), ids=lambda v: v if ":" in str(v) else "")
def test_every_storage_statement_is_planned_by_the_database(storage, where, sql):
    n = _placeholders(sql)
    assert translate_sql(sql).count("%s") == n, where
    conn = storage._conn()
    conn.execute("EXPLAIN " + sql, [None] * n) if n else conn.execute("EXPLAIN " + sql)


@pytest.mark.skipif(BACKEND != "postgres", reason="the PostgreSQL pass runs this")
def test_the_pg_pass_really_uses_postgres(tmp_path):
    storage = open_storage(server_db_location(tmp_path))
    try:
        assert type(storage).__name__ == "PostgresStorage"
    finally:
        storage.close()
