"""The benchmark scripts that read finished runs (benchmarks/alignment_report.py)."""

import importlib.util
import math
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]


def _load_script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_alignment_report_trajectory_has_one_auc_per_phase2_snapshot(tiny, one_thread):
    report = _load_script("alignment_report").report
    during = torch.load(tiny, weights_only=True)["snapshots"]["during"]
    assert during, "the tiny run must take snapshots during phase 2 for this test to mean anything"

    plain = report(str(tiny))
    row = report(str(tiny), trajectory=True)
    steps = [k for k in row if k.startswith("auc_step")]
    assert steps == [f"auc_step{int(s['step'])}" for s in during]
    assert all(0.0 <= row[k] <= 1.0 and not math.isnan(row[k]) for k in steps)
    assert not any(k.startswith("auc_step") for k in plain)
    assert row["auc_before"] == plain["auc_before"] and row["auc_after"] == plain["auc_after"]


def test_no_benchmark_touches_a_private_name_of_the_trainer():
    """Benchmarks time the Trainer's public steps (pretrain_step, critic_steps, generator_step,
    finetune_step), never a re-implemented or private one."""
    import re

    for script in sorted((ROOT / "benchmarks").glob("*.py")):
        text = script.read_text()
        private = re.findall(
            r"\btrainer\._\w+|\._(?:pretrain_unit|finetune_unit|bpr_loss|ft_rows|gur_cache)\b", text
        )
        assert not private, (script.name, private)


def test_the_phases_read_the_training_state_through_public_names_only():
    """phases.py and adversarial.py work on the Trainer as an explicit state object: its public
    attributes and helpers, never a private name (the old mixin read seven by convention)."""
    import re

    for name in ("phases.py", "adversarial.py"):
        text = (ROOT / "recguru_core" / "train" / name).read_text()
        private = re.findall(r"\b(?:t|self|trainer)\._\w+", text)
        assert not private, (name, private)
        assert "class AdversarialPhase" not in text
