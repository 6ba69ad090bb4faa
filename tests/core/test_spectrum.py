"""Collapse measures (recguru_core/metrics/spectrum.py), their place in the alignment metrics, and the
health verdict that reads them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recguru_core.analysis.alignment import alignment_metrics
from recguru_core.metrics import spectrum
from recguru_core.train import health


def _clouds(n=1500, d=64, seed=0):
    rng = np.random.default_rng(seed)
    iso = rng.normal(size=(n, d))
    rank3 = rng.normal(size=(n, 3)) @ rng.normal(size=(3, d)) + 0.01 * rng.normal(size=(n, d))
    return iso, rank3


def test_a_rank3_cloud_is_flagged_and_an_isotropic_one_is_not():
    iso, rank3 = _clouds()
    s_iso, s_low = spectrum.spectrum(iso), spectrum.spectrum(rank3)
    assert s_iso["effective_rank"] > 55 and s_iso["top3_share"] < 0.1
    assert s_low["effective_rank"] < 4 and s_low["top3_share"] > 0.99
    assert len(s_low["scree"]) == spectrum.SCREE_K and s_low["scree"] == sorted(s_low["scree"], reverse=True)
    assert s_low["participation_ratio"] < 3.1 < s_iso["participation_ratio"]
    # rotation- and scale-invariant: a rotated, rescaled cloud has the same spectrum
    q, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(64, 64)))
    moved = spectrum.spectrum(7.0 * rank3 @ q)
    assert moved["effective_rank"] == pytest.approx(s_low["effective_rank"], rel=1e-6)
    # a collapsed cloud crowds on the sphere: uniformity higher (worse) than an isotropic one
    assert spectrum.uniformity(rank3) > spectrum.uniformity(iso) + 1.0


def test_the_training_time_spectrum_matches_the_offline_one():
    _, rank3 = _clouds(n=512)
    rank, top3 = spectrum.spectrum_torch(torch.tensor(rank3, dtype=torch.float32))
    offline = spectrum.spectrum(rank3)
    assert float(rank) == pytest.approx(offline["effective_rank"], rel=1e-3)
    assert float(top3) == pytest.approx(offline["top3_share"], abs=1e-4)


def test_mmd_permutation_test_separates_shifted_from_same():
    p_same = []
    for seed in range(20):  # under the null the p-value is ~uniform: few fall below 0.05
        rng = np.random.default_rng(seed)
        a, b = rng.normal(size=(150, 8)), rng.normal(size=(150, 8))
        p_same.append(spectrum.mmd_test(a, b, permutations=100)["p_value"])
    assert np.mean(np.array(p_same) < 0.05) <= 0.25 and np.median(p_same) > 0.2
    same = spectrum.mmd_test(a, b, permutations=100)
    shifted = spectrum.mmd_test(a, b + 0.5, permutations=100)
    assert shifted["p_value"] < 0.02 and shifted["value"] > 10 * abs(same["value"])
    assert spectrum.mmd_test(a, b, permutations=100) == same  # seeded


def test_alignment_metrics_carry_the_collapse_measures():
    iso, _ = _clouds(n=600, d=16)
    domain = np.r_[np.zeros(300), np.ones(300)].astype(np.int64)
    m = alignment_metrics(iso.astype(np.float32), domain, seed=0)
    assert m["spectrum"]["effective_rank"] > 12
    assert m["mmd"]["p_value"] > 0.05  # one isotropic cloud split at random
    assert np.isfinite(m["uniformity"]["value"])


def _history(erank, top3):
    rows = [{"phase": "pretrain", "rec_A": 1.0, "rec_B": 1.0}]
    for i, (r, t) in enumerate(zip(erank, top3)):
        rows.append(
            {
                "phase": "adversarial",
                "phase_step": i + 1,
                "wasserstein": 1.0,
                "rec_A": 1.0,
                "rec_B": 1.0,
                "gur_erank": r,
                "gur_top3": t,
            }
        )
    return rows


def _rank_row(rows):
    return next(r for r in rows if r["check"].startswith("GUR rank kept"))


def test_health_fails_a_collapsing_history_and_passes_a_rank_keeping_one():
    n = 50
    collapsing = _history(np.linspace(10.7, 4.7, n), np.linspace(0.55, 0.99, n))
    row = _rank_row(health.diagnose(collapsing))
    assert row["status"] == "bad" and "collapsed" in row["verdict"]
    only_top3 = _history([10.0] * n, np.linspace(0.5, 0.7, n))  # rank held, variance piled up
    assert _rank_row(health.diagnose(only_top3))["status"] == "bad"
    kept = _history(np.linspace(10.7, 10.2, n), np.linspace(0.55, 0.57, n))
    assert _rank_row(health.diagnose(kept))["status"] == "ok"


def test_health_judges_older_runs_from_their_snapshots():
    iso, rank3 = _clouds(n=800, d=32)
    history = [{"phase": "adversarial", "phase_step": 1, "wasserstein": 1.0}]  # no spectrum
    collapsed = {
        "before": {"gur": torch.tensor(iso, dtype=torch.float32)},
        "after": {"gur": torch.tensor(rank3, dtype=torch.float32)},
    }
    row = _rank_row(health.diagnose(history, collapsed))
    assert row["status"] == "bad" and "snapshots" in row["value"]
    kept = {
        "before": collapsed["before"],
        "after": {"gur": torch.tensor(iso[::-1].copy(), dtype=torch.float32)},
    }
    assert _rank_row(health.diagnose(history, kept))["status"] == "ok"
    assert _rank_row(health.diagnose(history))["status"] == "n/a"


def test_the_rank_keeping_losses_agree_with_the_measures_and_have_gradients():
    from recguru_core.nn import losses

    iso, rank3 = _clouds(n=300, d=16)
    for cloud in (iso, rank3):
        x = torch.tensor(cloud, dtype=torch.float32, requires_grad=True)
        unif = losses.uniformity(x)
        assert float(unif) == pytest.approx(spectrum.uniformity(cloud), abs=1e-4)
        (unif + losses.decorrelation(x)).backward()
        assert torch.isfinite(x.grad).all()
    assert float(losses.decorrelation(torch.tensor(iso, dtype=torch.float32))) < 0.2
    assert float(losses.decorrelation(torch.tensor(rank3, dtype=torch.float32))) > 3.0
    # keep_trace: the normalised batch has total variance d whatever the spectrum
    a, b = torch.tensor(rank3[:150], dtype=torch.float32), torch.tensor(rank3[150:], dtype=torch.float32)
    z_a, z_b = losses.joint_normalize(a, b, "zca", shrinkage=0.6, keep_trace=True)
    z = torch.cat([z_a, z_b])
    assert float(z.pow(2).mean(dim=0).sum()) == pytest.approx(16.0, rel=1e-3)
    plain = torch.cat(losses.joint_normalize(a, b, "zca", shrinkage=0.6))
    assert float(plain.pow(2).mean(dim=0).sum()) < 8.0  # the loophole keep_trace closes


def test_evaluate_alignment_prints_collapse_beside_auc(capsys):
    from pathlib import Path

    from recguru_core import cli

    demo = Path(__file__).resolve().parents[2] / "checkpoints" / "control_no_adv.pt"
    assert cli.main(["evaluate", str(demo), "--alignment", "--json"]) == 0
    import json

    rows = json.loads(capsys.readouterr().out)
    assert [r["snapshot"] for r in rows][0] == "before" and rows[-1]["snapshot"] == "after"
    assert all(r["effective_rank"] > 1 and 0 < r["top3_share"] <= 1 and 0 <= r["mmd_p"] <= 1 for r in rows)
    assert cli.main(["evaluate", str(demo), "--alignment"]) == 0
    assert "eff.rank" in capsys.readouterr().out


def test_health_warns_when_the_pretrained_gur_is_already_flat():
    iso, rank3 = _clouds(n=600, d=32)
    line = np.outer(np.random.default_rng(3).normal(size=600), np.ones(32)) + 1e-3 * iso
    history = [{"phase": "adversarial", "phase_step": 1, "wasserstein": 1.0}]
    rows = {
        r["check"]: r
        for r in health.diagnose(
            history,
            {
                "before": {"gur": torch.tensor(line, dtype=torch.float32)},
                "after": {"gur": torch.tensor(line, dtype=torch.float32)},
            },
        )
    }
    assert rows["GUR dimensions after pre-training"]["status"] == "warn"
    rows = {
        r["check"]: r
        for r in health.diagnose(
            history,
            {
                "before": {"gur": torch.tensor(iso, dtype=torch.float32)},
                "after": {"gur": torch.tensor(iso, dtype=torch.float32)},
            },
        )
    }
    assert rows["GUR dimensions after pre-training"]["status"] == "ok"
