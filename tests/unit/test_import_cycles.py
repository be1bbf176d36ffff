"""scripts/check_import_cycles: the project has no import cycle, counting the imports inside
functions and ``TYPE_CHECKING`` blocks; and the script does find one when there is."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "check_import_cycles"


def check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60)


def test_the_harness_and_the_scenarios_have_no_import_cycle() -> None:
    done = check()
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("no import cycle:") and "modules of harness, scenarios" in done.stdout


def test_a_cycle_through_a_function_level_and_a_type_checking_import_is_found(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.sub import b\n")
    (package / "sub" / "b.py").write_text("def later():\n    from .. import c\n")  # relative, in a function
    (package / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.a\n")
    (package / "d.py").write_text("import pkg.a\n")  # imports into the cycle, not part of it
    done = check(str(tmp_path), "pkg")
    assert done.returncode == 1, done.stdout
    assert "import cycle among 3 modules: pkg.a, pkg.c, pkg.sub.b" in done.stdout
    assert "pkg.a -> pkg.sub.b -> pkg.c -> pkg.a" in done.stdout
    assert "pkg.d" not in done.stdout


def test_a_package_init_importing_its_own_modules_is_no_cycle(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("from pkg.a import x\n")
    (package / "a.py").write_text("x = 1\n")
    done = check(str(tmp_path), "pkg")
    assert done.returncode == 0, done.stdout
    assert done.stdout.startswith("no import cycle: 2 modules of pkg, 1 imports")
