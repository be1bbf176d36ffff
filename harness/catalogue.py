"""The catalogue: the scenarios of this repository's ``scenarios/`` folder, played against
its reference agents (``agents/``). Both live in a checkout, not in the installed package,
so that installing the harness adds no top-level ``scenarios`` or ``agents`` package (the
OpenAI Agents SDK imports as ``agents``). The folder is loaded by path under a private
name, so a ``scenarios/`` folder in the user's working directory changes nothing."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from harness.env.binaries import PROJECT_ROOT
from harness.errors import HarnessError

PACKAGE = "_restate_resilience_catalogue"


def catalogue_module(name: str = "", *, root: Path = PROJECT_ROOT) -> ModuleType:
    """``scenarios/__init__.py`` (or its submodule ``name``), loaded once per process."""
    if PACKAGE not in sys.modules:
        init = root / "scenarios" / "__init__.py"
        if not init.is_file():
            raise HarnessError(
                "the scenario catalogue runs from a checkout of restate-resilience-harness (no scenarios/ next to the "
                "installed harness); for your own agents use `restate-resilience validate` or `run --scenarios FILE`"
            )
        spec = importlib.util.spec_from_file_location(PACKAGE, init, submodule_search_locations=[str(init.parent)])
        assert spec is not None and spec.loader is not None
        package = importlib.util.module_from_spec(spec)
        sys.modules[PACKAGE] = package
        try:
            spec.loader.exec_module(package)
        except BaseException:
            del sys.modules[PACKAGE]
            raise
    return importlib.import_module(f"{PACKAGE}.{name}" if name else PACKAGE)
