"""The house rules: no side effects at import, no torch or recguru_core in pages, no streamlit in
the core or in ui/figures, recguru_core imported by ui/store only
(the torch-free ground floor, recguru_core.common, excepted), no import cycles, small
modules. Every rule walks the packages recursively, so a new subpackage cannot escape it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.imports import imports as _imports
from helpers.imports import modules as _modules

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("recguru_core", "ui")
MAX_MODULE_LINES = 600


def _all_modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        out.update(_modules(package))
    return out


def test_importing_every_ui_module_has_no_side_effects(tmp_path):
    """Importing ui and all its modules defines things only: no torch, no umap, no recguru_core,
    no files, no Streamlit output."""
    names = sorted(_modules("ui"))
    code = (
        "import sys, os, importlib; "
        "before = set(os.listdir('.')); "
        f"[importlib.import_module(n) for n in {names!r}]; "
        "assert 'torch' not in sys.modules, 'torch imported'; "
        "core = [m for m in sys.modules if m.startswith('recguru_core.') "
        "and not m.startswith('recguru_core.common')]; assert not core, core; "
        "assert 'umap' not in sys.modules and 'numba' not in sys.modules; "
        "assert set(os.listdir('.')) == before; print('ok')"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # ui/ is the project's, not installed
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    "script", ["app.py", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "pages").glob("*.py"))]
)
def test_pages_import_only_ui_and_streamlit(script):
    imported = {n.split(".")[0] for n in _imports(ROOT / script, "page")}
    assert imported <= {"ui", "streamlit", "__future__", "time", "pathlib"}, imported
    assert not any(n.startswith("st.navigation") for n in (ROOT / script).read_text().split())


@pytest.mark.parametrize("package", ["recguru_core", "ui.figures"])
def test_no_streamlit_in_the_core_or_in_figures(package):
    for module, path in _modules(package.replace(".", "/")).items():
        imported = {n.split(".")[0] for n in _imports(path, module)}
        assert "streamlit" not in imported, module


def test_only_the_store_imports_the_core():
    """ui/store.py is the one door from the app into recguru_core (and so into torch)."""
    for module, path in _modules("ui").items():
        imported = {n.split(".")[0] for n in _imports(path, module)}
        if module != "ui.store" and not module.startswith("ui.store."):
            assert not imported & {"torch", "umap"}, module
            core = {n for n in _imports(path, module) if n.split(".")[0] == "recguru_core"}
            # the torch-free ground floor (recguru_core.common) is the one exception
            assert all(n.startswith("recguru_core.common") for n in core), (module, core)


def test_figures_import_nothing_of_the_app_but_text_style_and_density():
    """Figures are siblings: each reads only the shared text and style (and the alignment figure
    its pure-numpy density helper), never another figure or the rest of the app."""
    for module, path in _modules("ui/figures").items():
        inside = {n for n in _imports(path, module) if n.startswith("ui.")}
        allowed = {"ui.text", "ui.figures", "ui.figures.style", "ui.figures.density"}
        assert all(
            n in allowed or n.startswith(tuple(a + "." for a in allowed - {"ui.figures"})) for n in inside
        ), (
            module,
            inside,
        )


def test_import_graph_has_no_cycle():
    """Module-level AND function-local imports count: a local import that dodges a cycle is
    still a cycle in the design."""
    modules = _all_modules()
    graph = {}
    for module, path in modules.items():
        deps = set()
        for name in _imports(path, module):
            while name and name not in modules:  # `pkg.mod.attr` -> `pkg.mod`
                name = name.rpartition(".")[0]
            if name and name != module and not module.startswith(name + "."):
                deps.add(name)
        graph[module] = {d for d in deps if not (modules[d].name == "__init__.py" and d in module)}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycle = stack[stack.index(dep) :] + [dep]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_no_module_is_a_monolith():
    too_long = {
        m: n for m, p in _all_modules().items() if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not too_long, f"modules over {MAX_MODULE_LINES} lines: {too_long}"
