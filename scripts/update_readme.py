"""Regenerate the README's settings table from the settings definitions.

    python scripts/update_readme.py          # rewrite README.md in place
    python scripts/update_readme.py --check  # exit 1 if the README is out of date
"""

from __future__ import annotations

import sys
from pathlib import Path

from voxmem import settings_table

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- settings-table:start -->", "<!-- settings-table:end -->"


def render() -> str:
    rows = ["| setting | default | environment | meaning |", "|---|---|---|---|"]
    for row in settings_table():
        default = row["default"]
        shown = f"`{default!r}`" if default not in ("", None) else "(empty)"
        rows.append(f"| `{row['name']}` | {shown} | `{row['env']}` | "
                    f"{row['help'].replace('|', '/')} |")
    return "\n".join(rows)


def updated(text: str) -> str:
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{render()}\n{END}{tail}"


def main() -> int:
    text = README.read_text()
    new = updated(text)
    if "--check" in sys.argv:
        if new != text:
            print("README settings table is out of date: run scripts/update_readme.py")
            return 1
        return 0
    README.write_text(new)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
