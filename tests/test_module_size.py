"""No module in ``src/voxmem`` grows past 500 lines without a stated reason.

A module that long mixes concerns more often than not; splitting it by concern into
private modules shows the design (issue 10). Each exception is listed in ``ALLOWED``
with why it is there, and the list cannot go stale: an entry for a module that is back
under the limit, or gone, fails too, so whoever fixes the module removes the entry.
"""

from __future__ import annotations

from pathlib import Path

import voxmem

PACKAGE = Path(voxmem.__file__).resolve().parent
MAX_LINES = 500

#: Module (relative to the package) -> why it may be longer than MAX_LINES for now.
#: Empty: every module is within the limit (engine/_index.py was the last exception,
#: until its split by concern landed).
ALLOWED: dict[str, str] = {}


def line_count(path: Path) -> int:
    """Lines of ``path`` as ``wc -l`` counts them (a last line without a newline counts)."""
    return len(path.read_text(encoding="utf-8").splitlines())


def oversized(root: Path, limit: int = MAX_LINES) -> dict[str, int]:
    """Every Python module under ``root`` longer than ``limit`` lines, by relative path."""
    return {path.relative_to(root).as_posix(): count
            for path in sorted(root.rglob("*.py"))
            if (count := line_count(path)) > limit}


def test_no_module_is_over_the_limit_without_a_reason() -> None:
    assert len(list(PACKAGE.rglob("*.py"))) > 100, "is the scan reading the package?"
    unexplained = {name: count for name, count in oversized(PACKAGE).items()
                   if name not in ALLOWED}
    assert not unexplained, (
        f"modules over {MAX_LINES} lines (split them by concern into private modules, or "
        "add them to ALLOWED with the reason): "
        + ", ".join(f"{name} ({count})" for name, count in unexplained.items()))


def test_every_exception_is_still_needed() -> None:
    over = oversized(PACKAGE)
    stale = [name for name in ALLOWED if name not in over]
    assert not stale, f"back under {MAX_LINES} lines or gone; remove from ALLOWED: {stale}"


def test_the_scan_finds_a_long_module(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "short.py").write_text("x = 1\n" * MAX_LINES, encoding="utf-8")
    (tmp_path / "pkg" / "long.py").write_text("x = 1\n" * MAX_LINES + "y = 2",
                                              encoding="utf-8")
    assert oversized(tmp_path) == {"pkg/long.py": MAX_LINES + 1}
