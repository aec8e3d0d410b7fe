"""Only ``kitetui.tui`` may import textual: every headless module must load without it.

Each module outside ``kitetui.tui`` (found on disk at test time, so new modules are
covered as they appear), plus the top-level ``engines`` and ``strategies`` packages, is
imported with nothing of kitetui loaded before it, and then reports whether ``textual``
was loaded. A module that fails to import for any other reason fails here with its
traceback.

One fresh interpreter loads the third-party libraries kitetui builds on (checking that
they bring no textual) and forks a child per module: the child imports the module as a
fresh interpreter would, minus the seconds of loading numpy, pydantic and aiohttp again.
A preloaded library cannot hide textual: had it loaded textual, the parent says so.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

HEADLESS_ROOTS = ("kitetui", "engines", "strategies")
UI_PACKAGE = "kitetui.tui"
ALWAYS_CHECKED = ("kitetui.domain", "kitetui.views", "kitetui.commands", "kitetui.control.link")

# Libraries the headless modules import (none of them imports textual), loaded once in
# the parent instead of in each of the ~200 children. Besides the packages, the parts
# of them loaded on first use (pydantic's models and types, rich's console, plotly's
# figures) and the standard modules that only some children reach: together they were
# ~4 s of the children's ~20 s of CPU (2026-12-07).
PRELOADED = (
    "numpy",
    "pydantic",
    "pydantic.main",
    "pydantic.types",
    "pydantic.json_schema",
    "annotated_types",
    "yaml",
    "aiosqlite",
    "aiohttp",
    "websockets",
    "kiteconnect",
    "narwhals",
    "rich.console",
    "plotly.graph_objects",
    "multiprocessing",
    "concurrent.futures",
    "gzip",
    "secrets",
    "mmap",
    "colorsys",
)

PROBE = """
import importlib, json, os, sys, traceback

def textual_loaded():
    return sorted(m for m in sys.modules if m == "textual" or m.startswith("textual."))

for name in sys.argv[2].split(","):
    importlib.import_module(name)
assert not [m for m in sys.modules if m.startswith(("kitetui", "engines", "strategies"))]
if textual_loaded():
    sys.exit("a preloaded library loaded " + textual_loaded()[0])
for module in sys.argv[1].split(","):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: import one module, say what it loaded, leave at once
        os.close(read)
        try:
            importlib.import_module(module)
            answer = {"error": "", "textual": (textual_loaded() or [""])[0]}
        except BaseException:
            answer = {"error": traceback.format_exc(), "textual": ""}
        os.write(write, json.dumps(answer).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    answer = json.loads(data) if data else {"error": "the child died", "textual": ""}
    print(json.dumps({module: answer}))
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


@pytest.fixture(scope="module")
def probed() -> dict[str, dict[str, str]]:
    """Each headless module's import, probed in a child of one fresh interpreter."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, ",".join(headless_modules()), ",".join(PRELOADED)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"the probe failed:\n{result.stderr}"
    answers: dict[str, dict[str, str]] = {}
    for line in result.stdout.splitlines():
        answers.update(json.loads(line))
    return answers


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the probe forks a child per module")
@pytest.mark.parametrize("module", headless_modules())
def test_headless_module_imports_without_textual(
    probed: dict[str, dict[str, str]], module: str
) -> None:
    answer = probed[module]
    assert not answer["error"], f"importing {module} failed:\n{answer['error']}"
    loaded = answer["textual"]
    assert not loaded, f"importing {module} loaded {loaded}; only {UI_PACKAGE} may import textual"


def test_ui_package_is_excluded_and_core_modules_are_checked() -> None:
    modules = headless_modules()
    assert not any(m == UI_PACKAGE or m.startswith(UI_PACKAGE + ".") for m in modules)
    assert set(ALWAYS_CHECKED) <= set(modules)
    assert {"engines", "strategies"} <= set(modules)
