"""The core's house rules (issue 20): recguru_core is built in wings on floors, and an import
(module-level or function-local) only ever goes down or sideways within its wing. The UI may
import the ground floor directly; it never imports the benchmark wing or the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from helpers.imports import imports as _imports
from helpers.imports import modules as _modules

ROOT = Path(__file__).resolve().parents[2]
# wing -> floor; an import from a wing may reach its own floor or lower ones
FLOORS = {
    "common": 0,
    "data": 1,
    "nn": 2,
    "metrics": 3,
    "train": 4,
    "analysis": 5,
    "bench": 6,
    "cli": 7,
    "__main__": 7,
}


def _wing(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "recguru_core" and len(parts) > 1 else None


def test_every_module_sits_in_a_wing():
    loose = [m for m in _modules("recguru_core") if m != "recguru_core" and _wing(m) not in FLOORS]
    assert not loose, f"modules outside the wings {sorted(FLOORS)}: {loose}"


def test_imports_only_go_down():
    upward = []
    for module, path in _modules("recguru_core").items():
        here = _wing(module)
        if here is None:
            continue
        for name in _imports(path, module):
            there = _wing(name)
            if there in FLOORS and FLOORS[there] > FLOORS[here]:
                upward.append(f"{module} -> {name}")
    assert not upward, "imports that go up a floor:\n" + "\n".join(sorted(set(upward)))


def test_the_ui_never_imports_the_benchmark_wing_or_the_cli():
    for package in ("ui", "pages"):
        for module, path in _modules(package).items():
            bad = {n for n in _imports(path, module) if _wing(n) in ("bench", "cli", "__main__")}
            assert not bad, (module, bad)


def test_the_ground_floor_imports_no_heavy_library():
    names = sorted(m for m in _modules("recguru_core") if _wing(m) == "common")
    code = (
        "import importlib, sys; "
        f"[importlib.import_module(n) for n in {names!r}]; "
        "heavy = sorted({'torch', 'numpy', 'pandas', 'streamlit'} & set(sys.modules)); "
        "assert not heavy, heavy; print('ok')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr[-2000:]
