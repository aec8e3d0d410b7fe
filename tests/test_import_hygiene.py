"""Only ``kitetui.tui`` may import textual: every headless module must load without it.

Each module outside ``kitetui.tui`` (found on disk at test time, so new modules are
covered as they appear), plus the top-level ``engines`` and ``strategies`` packages, is
imported in a fresh interpreter that then reports whether ``textual`` was loaded. A
module that fails to import for any other reason fails here with its traceback.
"""

from __future__ import annotations

import importlib.util
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

HEADLESS_ROOTS = ("kitetui", "engines", "strategies")
UI_PACKAGE = "kitetui.tui"
ALWAYS_CHECKED = ("kitetui.domain", "kitetui.views", "kitetui.commands", "kitetui.control.link")

PROBE = """
import importlib, sys
importlib.import_module(sys.argv[1])
loaded = sorted(m for m in sys.modules if m == "textual" or m.startswith("textual."))
print(loaded[0] if loaded else "")
"""


def _walk(package: str, paths: list[str]) -> list[str]:
    """Module names under ``package`` found on disk, without importing any of them."""
    names = []
    for info in pkgutil.iter_modules(paths):
        name = f"{package}.{info.name}"
        if name == UI_PACKAGE or name.startswith(UI_PACKAGE + ".") or info.name == "__main__":
            continue
        names.append(name)
        if info.ispkg:
            names.extend(_walk(name, [str(Path(p) / info.name) for p in paths]))
    return names


def headless_modules() -> list[str]:
    names: list[str] = list(ALWAYS_CHECKED)
    for root in HEADLESS_ROOTS:
        spec = importlib.util.find_spec(root)
        if spec is None:
            continue
        names.append(root)
        if spec.submodule_search_locations:
            names.extend(_walk(root, list(spec.submodule_search_locations)))
    return sorted(set(names))


@pytest.mark.parametrize("module", headless_modules())
def test_headless_module_imports_without_textual(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, module],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"importing {module} failed:\n{result.stderr}"
    loaded = result.stdout.strip()
    assert not loaded, f"importing {module} loaded {loaded}; only {UI_PACKAGE} may import textual"


def test_ui_package_is_excluded_and_core_modules_are_checked() -> None:
    modules = headless_modules()
    assert not any(m == UI_PACKAGE or m.startswith(UI_PACKAGE + ".") for m in modules)
    assert set(ALWAYS_CHECKED) <= set(modules)
    assert {"engines", "strategies"} <= set(modules)
