"""No SQL statement is written twice in ``src/voxmem/store``.

Statements both dialects run live once in ``store/_sql.py`` (SQLite's spelling,
translated for psycopg); this test reads every string literal of the store package,
normalises the differences the translation covers (placeholders, ``rowid``/``seq``,
whitespace) and fails on a statement that appears twice. Statements that only look
alike are listed in ``ALLOWED`` with the reason they differ.
"""

from __future__ import annotations

import ast
import collections
import importlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import voxmem.store
from voxmem.store import _sql as sql
from voxmem.store._entities_sql import ENTITY_SQL

STORE = Path(voxmem.store.__file__).parent

_STATEMENT = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\s", re.IGNORECASE)

#: Normalised statement -> why it may appear more than once. Empty: every statement that
#: differs between the dialects differs in its text too, so none needs an exception.
ALLOWED: dict[str, str] = {}


def _literal(node: ast.AST, names: dict[str, Any]) -> str | None:
    """The text of a string literal; an f-string's fragments are filled in from the
    module's names (``{sql.CALLER}``, ``{_CALLER}``) where they are module constants."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if not isinstance(node, ast.JoinedStr):
        return None
    parts = []
    for value in node.values:
        if isinstance(value, ast.Constant):
            parts.append(str(value.value))
        elif isinstance(value, ast.FormattedValue):
            parts.append(_resolve(value.value, names))
    return "".join(parts)


def _resolve(node: ast.expr, names: dict[str, Any]) -> str:
    value: Any = None
    if isinstance(node, ast.Name):
        value = names.get(node.id)
    elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        value = getattr(names.get(node.value.id), node.attr, None)
    return value if isinstance(value, str) else "{" + ast.unparse(node) + "}"


def normalise(text: str) -> str:
    """A statement with the differences ``_sql.for_postgres`` translates removed."""
    text = text.replace("%%", "%").replace("%s", "?")
    text = re.sub(r"\bseq\b", "rowid", text)
    return re.sub(r"\s+", " ", text).strip()


def _shared_statements() -> Iterator[tuple[str, str]]:
    """(name, SQLite text) of every statement in ``_sql`` and ``ENTITY_SQL``, as built."""
    for name, value in vars(sql).items():
        items = value.items() if isinstance(value, dict) else [(None, value)]
        for key, statement in items:
            if isinstance(statement, sql.Statement):
                yield f"_sql.{name}" + ("" if key is None else f"[{key!r}]"), statement.sqlite
    for name, entry in ENTITY_SQL.items():
        variants = {"": entry} if isinstance(entry, str) else entry
        for dialect, text in variants.items():
            yield f"ENTITY_SQL[{name!r}]{dialect and ' ' + dialect}", text


def statements() -> dict[str, list[str]]:
    """Normalised statement -> where it is written."""
    found: dict[str, list[str]] = collections.defaultdict(list)

    def add(text: str, where: str) -> None:
        if _STATEMENT.match(text) and len(text.split()) > 3:
            found[normalise(text)].append(where)

    seen: set[int] = set()
    for where, built in _shared_statements():
        if id(built) not in seen:  # the same object reused by name is written once
            seen.add(id(built))
            add(built, where)
    for path in sorted(STORE.glob("*.py")):
        if path.name in {"_sql.py", "_entities_sql.py"}:
            continue  # read above, as built
        names = vars(importlib.import_module(f"voxmem.store.{path.stem}"))
        tree = ast.parse(path.read_text(encoding="utf-8"))
        inside_fstring = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr)
                          for v in n.values}
        for node in ast.walk(tree):
            if id(node) in inside_fstring:
                continue
            literal = _literal(node, names)
            if literal is not None:
                add(literal, f"{path.name}:{getattr(node, 'lineno', 0)}")
    return found


def test_no_statement_is_written_twice() -> None:
    found = statements()
    assert len(found) > 100, "the scan found too few statements: is it reading the store?"
    repeated = {text: where for text, where in found.items()
                if len(where) > 1 and text not in ALLOWED}
    assert not repeated, "SQL written more than once (move it to store/_sql.py):\n" + "\n".join(
        f"{where}: {text[:120]}" for text, where in repeated.items())


def test_the_scan_sees_a_repeated_statement() -> None:
    """The check itself works: the same statement in two spellings is one statement."""
    a = normalise("SELECT id FROM items WHERE tenant_id = ? ORDER BY rowid")
    b = normalise("SELECT id FROM items\n  WHERE tenant_id = %s ORDER BY seq")
    assert a == b


def test_translation_for_postgres() -> None:
    statement = sql.shared("SELECT id FROM items WHERE text LIKE '%x' AND a = ? ORDER BY rowid")
    assert statement.postgres == (
        "SELECT id FROM items WHERE text LIKE '%%x' AND a = %s ORDER BY seq")
    filled = sql.LIST_CALLS.format(where=sql.calls_where(user=True, space=False))
    assert "s.user_id = ?" in filled.sqlite and "s.user_id = %s" in filled.postgres
    assert "?" not in filled.postgres
