"""GAN-health statistics and verdicts (recguru_core/train/health.py) and `evaluate --health`."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from recguru_core.train import health


def _history(w, **series):
    rows = [{"phase": "pretrain", "rec_A": 1.0, "rec_B": 1.0}] * 5
    for i, value in enumerate(w):
        rows.append(
            {
                "phase": "adversarial",
                "phase_step": i + 1,
                "wasserstein": value,
                "rec_A": 1.0,
                "rec_B": 1.0,
                **{k: v[i] for k, v in series.items()},
            }
        )
    return rows


def _by_check(rows):
    return {r["check"].split(" (")[0]: r for r in rows}


def test_statistics_on_known_inputs():
    assert health.critic_accuracy(torch.tensor([2.0, 3.0]), torch.tensor([0.0, 1.0])) == 1.0
    assert health.critic_accuracy(torch.tensor([0.0, 3.0]), torch.tensor([0.0, 3.0])) == 0.5
    assert float(health.penalty_share(torch.tensor(-3.0), torch.tensor(0.1), 10.0)) == pytest.approx(0.25)
    h = torch.randn(500, 4)
    h[:, 3] *= 0.01
    assert float(health.relative_min_variance(h)) < 0.001
    lin = torch.nn.Linear(3, 1)
    lin(torch.ones(2, 3)).sum().backward()
    expected = torch.cat([p.grad.flatten() for p in lin.parameters()]).norm()
    assert float(health.grad_norm(lin.parameters())) == pytest.approx(float(expected))


def test_rise_then_fall_is_healthy_and_endless_rise_is_the_critic_winning():
    rise_fall = list(np.r_[np.linspace(0.1, 5, 20), np.linspace(5, 0.5, 40)])
    assert _by_check(health.diagnose(_history(rise_fall)))["Wasserstein trend"]["status"] == "ok"
    rising = list(np.linspace(0.1, 5, 60))
    row = _by_check(health.diagnose(_history(rising)))["Wasserstein trend"]
    assert row["status"] == "bad" and "w_adv" in row["advice"]
    assert _by_check(health.diagnose(_history([1.0, 2.0])))["Wasserstein trend"]["status"] == "n/a"


def test_accuracy_collapse_penalty_and_reconstruction_verdicts():
    n = 40
    rows = _by_check(
        health.diagnose(
            _history(
                [1.0] * n,
                critic_acc=[0.97] * n,
                gur_min_var=[0.001] * n,
                gp_share=[0.95] * n,
                critic_grad=list(np.geomspace(1, 100, n)),
            )
        )
    )
    assert rows["Critic accuracy"]["status"] == "bad"
    assert rows["GUR variance per dimension"]["status"] == "bad"
    assert rows["Gradient-penalty share of the critic loss"]["status"] == "warn"
    assert rows["Critic gradient norm"]["status"] == "warn"
    calm = _by_check(
        health.diagnose(
            _history(
                [1.0] * n,
                critic_acc=[0.55] * n,
                gur_min_var=[0.3] * n,
                gp_share=[0.2] * n,
                critic_grad=[2.0] * n,
            )
        )
    )
    assert {
        calm[k]["status"] for k in ("Critic accuracy", "GUR variance per dimension", "Critic gradient norm")
    } == {"ok"}
    costly = _history([1.0] * n)
    for r in costly:
        if r["phase"] == "adversarial":
            r["rec_A"] = 3.0
    assert _by_check(health.diagnose(costly))["Reconstruction cost of alignment"]["status"] == "bad"


def test_trainer_records_the_statistics_and_the_cli_reports_them(tiny, capsys):
    from recguru_core import cli
    from recguru_core.train.checkpoints import load_checkpoint

    steps = [
        r for r in load_checkpoint(tiny)["history"] if r.get("phase") == "adversarial" and "event" not in r
    ]
    assert steps and all(
        0 <= r["critic_acc"] <= 1
        and 0 <= r["gp_share"] <= 1
        and r["critic_grad"] >= 0
        and r["gur_min_var"] >= 0
        for r in steps
    )
    assert cli.main(["evaluate", str(tiny), "--health", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["check"].split(" (")[0] for r in rows} >= {"Wasserstein trend", "Critic accuracy"}


def test_slim_keeps_every_result_and_shrinks_the_file(tiny, tmp_path, capsys):
    import shutil

    from recguru_core import cli

    copy = tmp_path / "run.pt"
    shutil.copy(tiny, copy)
    outputs = []
    for _ in range(2):
        assert cli.main(["evaluate", str(copy), "--json", "--full-ranking"]) == 0
        outputs.append(capsys.readouterr().out)
        before = copy.stat().st_size
        assert cli.main(["slim", str(copy)]) == 0
        capsys.readouterr()
    assert outputs[0] == outputs[1]
    snaps = torch.load(copy, weights_only=True)["snapshots"]
    halves = [
        v
        for s in (snaps["before"], snaps["after"], *snaps["during"])
        for v in s.values()
        if isinstance(v, torch.Tensor) and v.is_floating_point()
    ]
    assert halves and all(v.dtype == torch.float16 for v in halves)
    assert copy.stat().st_size <= before
