"""ui/figures/curves.py: step records -> frames -> the curves dashboard."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd

from ui.figures import curves, style

ROOT = Path(__file__).resolve().parents[2]


def _history() -> list[dict]:
    recs = []
    step = 0
    for phase, n, keys in (
        ("pretrain", 5, ("rec_A", "rec_B")),
        ("adversarial", 4, ("rec_A", "rec_B", "critic", "gp", "wasserstein", "gen_adv", "l2")),
        ("finetune", 3, ("bpr_A", "bpr_B")),
    ):
        for i in range(n):
            step += 1
            recs.append(
                {
                    "phase": phase,
                    "step": step,
                    "phase_step": i + 1,
                    "seconds": 0.5,
                    **{k: 1.0 / (step + 1) - (0.5 if k == "wasserstein" else 0) for k in keys},
                }
            )
        if phase == "finetune":
            recs.append(
                {
                    "phase": phase,
                    "step": step,
                    "event": "eval",
                    "valid_NDCG@10_A": 0.1,
                    "valid_NDCG@10_B": 0.2,
                    "valid_HR@10_A": 0.3,
                }
            )
    return recs


def test_history_frame_and_contiguous_phase_spans():
    frame = curves.history_frame(_history())
    assert list(frame["step"]) == sorted(frame["step"])
    spans = curves.phase_spans(frame)
    assert [s[0] for s in spans] == ["pretrain", "adversarial", "finetune"]
    for (_, _, end), (_, start, _) in itertools.pairwise(spans):
        assert end == start  # no gaps between shaded phases
    assert curves.history_frame([]).empty and curves.phase_spans(curves.history_frame([])) == []


def test_ema_smooths_only_present_values():
    s = pd.Series([1.0, np.nan, 3.0, 5.0])
    assert curves.ema(s, 0.0).equals(s)
    out = curves.ema(s, 0.5)
    assert np.isnan(out[1]) and out[0] == 1.0 and 1.0 < out[2] < 3.0


def test_curves_dashboard_one_frame_shading_colours_and_log_fallback():
    frame = curves.history_frame(_history())
    fig = curves.curves_dashboard(frame, smoothing=0.5)
    n = len(curves.CURVE_GROUPS)
    titles = [a.text for a in fig.layout.annotations][: n + 1]
    assert titles[:n] == [g[0] for g in curves.CURVE_GROUPS] and titles[n].startswith("Validation")
    assert len(fig.layout.shapes) == 3 * (n + 1)  # three phases shaded in every panel
    xaxes = [k for k in fig.layout if k.startswith("xaxis")]
    assert {tuple(fig.layout[k].range) for k in xaxes} == {(0.5, 12.5)}  # one step axis
    named = {t.name: t for t in fig.data if t.showlegend is not False}
    assert named["reconstruction A"].line.color == style.DOMAIN_COLORS["A"]
    assert named["reconstruction B"].line.color == style.DOMAIN_COLORS["B"]
    assert named["valid A"].line.color == style.DOMAIN_COLORS["A"]
    assert any(t.opacity == 0.25 for t in fig.data)  # raw values behind the EMA
    logged = curves.curves_dashboard(frame, log_y=True)
    rec = titles.index("Reconstruction")
    assert logged.layout[f"yaxis{rec + 1}"].type == "log"
    assert logged.layout["yaxis"].type == "linear"  # the Wasserstein estimate has values <= 0
    assert "linear" in logged.layout.annotations[0].text
    no_eval = curves.curves_dashboard(curves.history_frame([r for r in _history() if "event" not in r]))
    assert not [a for a in no_eval.layout.annotations if "Validation" in (a.text or "")]
    sparse = curves.curves_dashboard(curves.history_frame([{"phase": "pretrain", "step": 1, "rec_A": 1.0}]))
    assert any(a.text == "not logged in this run" for a in sparse.layout.annotations)


def test_snapshot_steps_are_marked_on_the_adversarial_panels():
    frame = curves.history_frame(_history())
    marks = [("before", 5, "Before · step 5"), ("during_0", 7, "Step 7"), ("after", 9, "After")]
    plain = curves.curves_dashboard(frame)
    fig = curves.curves_dashboard(frame, marks=marks, selected="during_0")
    lines = [s for s in fig.layout.shapes if s.type == "line"]
    # Wasserstein, critic and generator panels, three snapshots each
    assert len(lines) == 3 * 3 and len(fig.layout.shapes) == len(plain.layout.shapes) + 9
    assert {s.x0 for s in lines} == {5.0, 7.0, 9.0}
    solid = [s for s in lines if s.line.dash == "solid"]
    assert {s.x0 for s in solid} == {7.0} and len(solid) == 3
    assert {s.xref for s in lines} == {"x", "x2", "x3"}
    assert sum(a.text == "Step 7" for a in fig.layout.annotations) == 3
    shapes, labels = curves.snapshot_marks([("x", -1, "unknown step")], None)
    assert shapes == [] and labels == []


def test_eval_frame_picks_evaluation_records():
    ev = curves.eval_frame(curves.history_frame(_history()))
    assert list(ev.columns) == ["step", "valid_NDCG@10_A", "valid_NDCG@10_B", "valid_HR@10_A"]
    assert len(ev) == 1
    assert curves.eval_frame(curves.history_frame([{"phase": "pretrain", "step": 1}])).empty


def test_live_curves_figure():
    fig = curves.live_curves_figure(_history() + [{"phase": "done", "step": 12, "event": "done"}])
    assert {"reconstruction A", "Wasserstein", "BPR B"} <= {t.name for t in fig.data}
    many = [{"phase": "pretrain", "step": i, "phase_step": i, "rec_A": 1.0} for i in range(1, 6001)]
    fig = curves.live_curves_figure(many, max_points=1000)
    assert len(fig.data[0].x) <= 1001 and fig.data[0].x[-1] == 6000  # light, and up to date
