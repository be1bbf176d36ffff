"""The code keeps its shape: no function in ``harness/`` runs over 60 lines (a function that
long does several jobs; split it where the jobs part)."""

from __future__ import annotations

import ast
from pathlib import Path

from harness.env.binaries import PROJECT_ROOT

LIMIT = 60


def long_functions(root: Path, limit: int = LIMIT) -> list[str]:
    """``path:line name (n lines)`` for every function or method longer than ``limit``."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > limit:
                    found.append(f"{path.relative_to(root.parent)}:{node.lineno} {node.name} ({lines} lines)")
    return found


def test_no_function_in_the_harness_is_over_60_lines() -> None:
    assert long_functions(PROJECT_ROOT / "harness") == []


def test_a_long_function_is_named(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    body = "\n".join(f"    x{i} = {i}" for i in range(LIMIT))
    (package / "m.py").write_text(f"def short():\n    return 1\n\n\ndef long():\n{body}\n")
    assert long_functions(package) == [f"pkg/m.py:5 long ({LIMIT + 1} lines)"]
