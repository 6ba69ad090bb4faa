"""ui.py without a browser: figure builders, frames, validators, the training runner's maths."""

from __future__ import annotations

import ast
import itertools
import datetime as dt
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

import ui

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- house rules


def test_import_has_no_side_effects(tmp_path):
    """Importing ui defines things only: no torch, no umap, no files, no Streamlit output."""
    code = (
        f"import sys, os; sys.path.insert(0, {str(ROOT)!r}); before = set(os.listdir('.')); "
        "import ui; assert 'torch' not in sys.modules, 'torch imported'; "
        "assert 'umap' not in sys.modules and 'numba' not in sys.modules; "
        "assert set(os.listdir('.')) == before; print('ok')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    "script", ["app.py", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "pages").glob("*.py"))]
)
def test_pages_do_not_import_torch_or_core_internals(script):
    tree = ast.parse((ROOT / script).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert "torch" not in imported and "umap" not in imported
    assert not any(n.startswith("st.navigation") for n in (ROOT / script).read_text().split())


def test_core_never_imports_streamlit():
    for path in (ROOT / "recguru_core").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not any(n.split(".")[0] == "streamlit" for n in names), path.name


# --------------------------------------------------------------------------- alignment figure


def _meta(n_per_domain: int = 50, clusters: bool = True) -> pd.DataFrame:
    users = [str(i) for i in range(n_per_domain)] + [
        str(i) for i in range(n_per_domain // 2, n_per_domain // 2 + n_per_domain)
    ]
    domain = ["A"] * n_per_domain + ["B"] * n_per_domain
    shared = set(users[:n_per_domain]) & set(users[n_per_domain:])
    return pd.DataFrame(
        {
            "row": np.arange(2 * n_per_domain),
            "user": users,
            "domain": domain,
            "overlap": [u in shared for u in users],
            "cluster": (np.arange(2 * n_per_domain) % 4) if clusters else -1,
        }
    )


def _xy(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 2)).astype(np.float32)


def _points(fig) -> list:
    return [t for t in fig.data if t.name == "users"]


def _legend(fig) -> dict:
    return {
        t.name: t.marker.color for t in fig.data if t.showlegend is not False and t.x == (None,)
    }


def test_alignment_figure_domain_colours_and_one_frame():
    meta = _meta()
    fig = ui.alignment_figure(
        meta,
        [("Before", _xy(100)), ("After", _xy(100, 1) * 3)],
        names={"A": "Books", "B": "Movies"},
    )
    assert isinstance(fig, go.Figure)
    points = _points(fig)
    assert len(points) == 2 and all(isinstance(t, go.Scattergl) for t in points)
    assert _legend(fig) == {"A · Books": "#E8590C", "B · Movies": "#1C7ED6"}
    for t in points:  # every point coloured by its own domain, A and B interleaved
        by_position = {int(c[0]): colour for c, colour in zip(t.customdata, t.marker.color)}
        assert all(by_position[p] == ui.DOMAIN_COLORS[meta.at[p, "domain"]] for p in by_position)
        domains = [meta.at[int(c[0]), "domain"] for c in t.customdata]
        assert domains != sorted(domains)  # drawn in a mixed order, not A then B
    # Both panels share one frame: identical explicit ranges and linked axes.
    assert fig.layout.xaxis.range == fig.layout.xaxis2.range
    assert fig.layout.yaxis.range == fig.layout.yaxis2.range
    assert fig.layout.xaxis2.matches == "x" and fig.layout.yaxis2.matches == "y"
    # Every marker carries its sample position, in both panels, at that position's point.
    for t, xy in zip(points, (_xy(100), _xy(100, 1) * 3)):
        assert sorted(int(c[0]) for c in t.customdata) == list(range(100))
        first = int(t.customdata[0][0])
        assert (t.x[0], t.y[0]) == pytest.approx(tuple(xy[first]))


@pytest.mark.parametrize("mode", ["overlap", "cluster"])
def test_alignment_figure_other_colour_modes_keep_domain_as_symbol(mode):
    fig = ui.alignment_figure(_meta(), [("Before", _xy(100)), ("After", _xy(100))], color_by=mode)
    points = _points(fig)
    assert {s for t in points for s in t.marker.symbol} == {"circle", "diamond"}
    if mode == "overlap":
        assert set(_legend(fig).values()) == set(ui.OVERLAP_COLORS.values())
    else:
        assert len(_legend(fig)) == 4


def test_cluster_mode_without_clusters_falls_back_to_domain():
    fig = ui.alignment_figure(_meta(clusters=False), [("Only", _xy(100))], color_by="cluster")
    assert set(_legend(fig).values()) == set(ui.DOMAIN_COLORS.values())


def test_alignment_links_and_selection_overlay():
    meta = _meta()
    pairs = ui.link_pairs(meta)
    assert len(pairs) == 25  # users 25..49 are in both domains
    assert all(meta.at[a, "user"] == meta.at[b, "user"] for a, b in pairs)
    assert all(meta.at[a, "domain"] == "A" and meta.at[b, "domain"] == "B" for a, b in pairs)
    fig = ui.alignment_figure(
        meta, [("Before", _xy(100)), ("After", _xy(100))], links=True, selected=[3, 60, 999]
    )
    lines = [t for t in fig.data if t.mode == "lines"]
    assert len(lines) == 2 and len(lines[0].x) == 3 * 25
    overlay = [t for t in fig.data if t.name == "selected"]
    assert len(overlay) == 2 and [int(c[0]) for c in overlay[0].customdata] == [3, 60]
    assert len(ui.link_pairs(meta, max_links=5)) == 5


def test_selected_positions_from_event_shapes():
    fig = ui.alignment_figure(_meta(), [("Before", _xy(100))])
    event = {
        "selection": {
            "points": [
                {"customdata": [7, "u", "d", "o"], "curve_number": 0},
                {"curve_number": 0, "point_index": 5},
            ],
            "point_indices": [],
            "box": [],
            "lasso": [],
        }
    }
    positions = ui.selected_positions(event, fig)
    assert 7 in positions and int(fig.data[0].customdata[5][0]) in positions

    class Obj:  # the attribute-style object st.plotly_chart returns
        selection = type("S", (), {"points": [{"customdata": [5]}]})()

    assert ui.selected_positions(Obj()) == [5]
    assert ui.selected_positions(None) == []
    assert ui.selected_positions({"selection": {"points": []}}) == []


def test_alignment_view_from_projection_and_snapshots():
    n = 40
    snap = {
        "gur": np.zeros((n, 4)),
        "domain": np.array([0] * 20 + [1] * 20),
        "user": [str(i % 25) for i in range(n)],
        "overlap": np.ones(n, bool),
        "cluster": np.arange(n) % 3,
        "step": 10,
    }
    snapshots = {"before": snap, "during": [{**snap, "step": 15}], "after": {**snap, "step": 20}}
    rows = np.arange(0, n, 2)
    projection = {
        "method": "pca",
        "rows": rows,
        "before": _xy(len(rows)),
        "after": _xy(len(rows), 1),
        "during": [_xy(len(rows), 2)],
        "during_steps": [15],
        "seed": 0,
        "seconds": 0.1,
    }
    view = ui.alignment_view(snapshots, projection, {"A": "Books", "B": "Movies"})
    assert list(view.layouts) == ["before", "during_0", "after"]
    assert view.steps == {"before": 10, "during_0": 15, "after": 20}
    assert view.meta["user"].tolist() == [str(int(r) % 25) for r in rows]
    assert view.has_cluster
    assert "step 20" in ui.snapshot_title("after", view.steps)
    with pytest.raises(Exception, match="does not match"):
        ui.alignment_view(snapshots, {**projection, "rows": np.array([0, 999])})
    with pytest.raises(Exception, match="no GUR snapshots"):
        ui.alignment_view({}, projection)


def test_metrics_comparison_frame():
    m = {
        "auc": {"value": 0.9, "null": 0.5},
        "proxy_a_distance": {"value": 1.6, "null": 0.0},
        "knn_entropy": {"value": 0.2, "null": 0.95, "max": 1.0},
        "pair_distance": {"value": 2.0, "null": 4.0, "ratio": 0.5, "n_pairs": 10},
        "n": 100,
    }
    after = {**m, "auc": {"value": 0.55, "null": 0.5}, "pair_distance": None}
    frame = ui.metrics_comparison_frame({"before": m, "after": after})
    assert frame.loc["Domain-classifier AUC", "Before"] == 0.9
    assert frame.loc["Domain-classifier AUC", "After"] == 0.55
    assert frame.loc["Domain-classifier AUC", "After null"] == 0.5
    assert pd.isna(frame.loc["Overlapped pair distance", "After"])


# --------------------------------------------------------------------------- curves


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
    frame = ui.history_frame(_history())
    assert list(frame["step"]) == sorted(frame["step"])
    spans = ui.phase_spans(frame)
    assert [s[0] for s in spans] == ["pretrain", "adversarial", "finetune"]
    for (_, _, end), (_, start, _) in itertools.pairwise(spans):
        assert end == start  # no gaps between shaded phases
    assert ui.history_frame([]).empty and ui.phase_spans(ui.history_frame([])) == []


def test_ema_smooths_only_present_values():
    s = pd.Series([1.0, np.nan, 3.0, 5.0])
    assert ui.ema(s, 0.0).equals(s)
    out = ui.ema(s, 0.5)
    assert np.isnan(out[1]) and out[0] == 1.0 and 1.0 < out[2] < 3.0


def test_curves_dashboard_one_frame_shading_colours_and_log_fallback():
    frame = ui.history_frame(_history())
    fig = ui.curves_dashboard(frame, smoothing=0.5)
    titles = [a.text for a in fig.layout.annotations][:7]
    assert titles[:6] == [g[0] for g in ui.CURVE_GROUPS] and titles[6].startswith("Validation")
    assert len(fig.layout.shapes) == 3 * 7  # three phases shaded in every panel
    xaxes = [k for k in fig.layout if k.startswith("xaxis")]
    assert {tuple(fig.layout[k].range) for k in xaxes} == {(0.5, 12.5)}  # one step axis
    named = {t.name: t for t in fig.data if t.showlegend is not False}
    assert named["reconstruction A"].line.color == ui.DOMAIN_COLORS["A"]
    assert named["reconstruction B"].line.color == ui.DOMAIN_COLORS["B"]
    assert named["valid A"].line.color == ui.DOMAIN_COLORS["A"]
    assert any(t.opacity == 0.25 for t in fig.data)  # raw values behind the EMA
    logged = ui.curves_dashboard(frame, log_y=True)
    rec = titles.index("Reconstruction")
    assert logged.layout[f"yaxis{rec + 1}"].type == "log"
    assert logged.layout["yaxis"].type == "linear"  # the Wasserstein estimate has values <= 0
    assert "linear" in logged.layout.annotations[0].text
    no_eval = ui.curves_dashboard(ui.history_frame([r for r in _history() if "event" not in r]))
    assert not [a for a in no_eval.layout.annotations if "Validation" in (a.text or "")]
    sparse = ui.curves_dashboard(ui.history_frame([{"phase": "pretrain", "step": 1, "rec_A": 1.0}]))
    assert any(a.text == "not logged in this run" for a in sparse.layout.annotations)


def test_eval_frame_picks_evaluation_records():
    ev = ui.eval_frame(ui.history_frame(_history()))
    assert list(ev.columns) == ["step", "valid_NDCG@10_A", "valid_NDCG@10_B", "valid_HR@10_A"]
    assert len(ev) == 1
    assert ui.eval_frame(ui.history_frame([{"phase": "pretrain", "step": 1}])).empty


def test_live_curves_figure():
    fig = ui.live_curves_figure(_history() + [{"phase": "done", "step": 12, "event": "done"}])
    assert {"reconstruction A", "Wasserstein", "BPR B"} <= {t.name for t in fig.data}
    many = [{"phase": "pretrain", "step": i, "phase_step": i, "rec_A": 1.0} for i in range(1, 6001)]
    fig = ui.live_curves_figure(many, max_points=1000)
    assert len(fig.data[0].x) <= 1001 and fig.data[0].x[-1] == 6000  # light, and up to date


# --------------------------------------------------------------------------- tables

METRICS = {
    "test": {"A": {k: 0.1 for k in ui.METRIC_KEYS}, "B": {k: 0.2 for k in ui.METRIC_KEYS}},
    "test_full": {"A": {k: 0.01 for k in ui.METRIC_KEYS}, "B": {k: 0.02 for k in ui.METRIC_KEYS}},
}


def test_table2_layout_with_baselines_first():
    baselines = {"POP": {"test": {"A": {"HR@10": 0.05}, "B": {"HR@10": 0.06}}}}
    frame = ui.table2_frame(METRICS, baselines, names={"A": "Books", "B": "Movies"})
    assert list(frame.index) == list(ui.METRIC_KEYS)
    assert list(frame.columns) == [
        ("A · Books", "POP"),
        ("A · Books", "RecGURU"),
        ("B · Movies", "POP"),
        ("B · Movies", "RecGURU"),
    ]
    assert frame.loc["HR@10", ("A · Books", "RecGURU")] == pytest.approx(10.0)
    assert frame.loc["HR@10", ("B · Movies", "POP")] == pytest.approx(6.0)
    assert np.isnan(frame.loc["HR@5", ("A · Books", "POP")])
    full = ui.table2_frame(METRICS, baselines, split="test_full")
    assert [m for _, m in full.columns] == ["RecGURU", "RecGURU"]  # POP has no full ranking
    html = ui.style_table2(frame).to_html()
    assert "font-weight: 700" in html
    assert ui.table2_frame({}, None).empty
    assert ui.metrics_bar_figure(frame.loc[["HR@10"]]).data


def test_headline_metrics_and_stats_frame():
    head = ui.headline_metrics(METRICS, {"A": "Books", "B": "Movies"})
    assert [h["label"] for h in head] == [
        "HR@10 · A · Books",
        "NDCG@10 · A · Books",
        "HR@10 · B · Movies",
        "NDCG@10 · B · Movies",
    ]
    assert head[0]["value"] == "10.00%"
    assert ui.headline_metrics({}) == []
    stats = {
        "A": {"users": 10, "items": 5, "interactions": 40, "avg_len": 4.0},
        "B": {"users": 8, "items": 4, "interactions": 20, "avg_len": 2.5},
        "overlap_users": 3,
        "names": {"A": "Books", "B": "Movies"},
    }
    frame = ui.stats_frame(stats)
    assert list(frame.index) == ["A · Books", "B · Movies"]
    assert frame.loc["B · Movies", "#Users"] == 8 and frame.loc["A · Books", "#Overlap"] == 3


def test_recommendation_frames_and_figures():
    rec = {
        "items": [
            {"rank": 1, "item_id": "x", "title": "X", "genre": "g", "score": 2.0},
            {"rank": 2, "item_id": "y", "title": "Y", "genre": "g", "score": 1.0},
        ],
        "test_item": {"item_id": "y", "title": "Y", "genre": "g", "rank": 2, "score": 1.0},
        "uses_other_domain": True,
    }
    table = ui.recommendation_table(rec)
    assert table["held-out"].tolist() == [False, True]
    fig = ui.scores_figure(rec, "B")
    assert list(fig.data[0].marker.color) == [ui.DOMAIN_COLORS["B"], "#2F9E44"]
    influence = [
        {"position": 0, "item_id": "a", "title": "A", "delta_score": 0.2, "delta_rank": 3},
        {"position": 1, "item_id": "b", "title": "B", "delta_score": -0.1, "delta_rank": -1},
    ]
    fig = ui.influence_figure(influence)
    assert list(fig.data[0].marker.color) == ["#2F9E44", "#C92A2A"]
    assert ui.influence_table(influence)["Δrank"].tolist() == [3, -1]
    assert ui.attention_figure([{"position": 0, "title": "A", "weight": 0.7}], "A").data[0].x == (
        0.7,
    )
    neighbours = ui.neighbours_table([{"user": "u", "distance": 1.5, "titles": ["a", "b"]}])
    assert neighbours.iloc[0]["recent titles"] == "a, b"
    history = ui.history_table(
        [{"item_id": "1", "title": "T", "genre": "G", "timestamp": 0, "split": "test"}]
    )
    assert history.iloc[0]["when"] == "1970-01-01" and history.iloc[0]["split"] == "test"
    assert ui.recommendation_table({"items": []}).empty and ui.history_table([]).empty


# --------------------------------------------------------------------------- training runner maths


def test_progress_rows_eta_and_states():
    records = [{"phase": "pretrain", "step": 0, "event": "phase_start", "total": 10}]
    records += [
        {"phase": "pretrain", "step": i, "phase_step": i, "seconds": 2.0} for i in range(1, 5)
    ]
    rows = ui.progress_rows(records, {1: 10, 2: 6, 3: 8})
    assert [r["state"] for r in rows] == ["running", "waiting", "waiting"]
    assert rows[0]["fraction"] == pytest.approx(0.4) and rows[0]["eta_s"] == pytest.approx(12.0)
    records.append({"phase": "adversarial", "step": 5, "phase_step": 1, "seconds": 1.0})
    rows = ui.progress_rows(records, {1: 10, 2: 6, 3: 8})
    assert [r["state"] for r in rows] == ["done", "running", "waiting"]
    assert rows[0]["fraction"] == 1.0  # a phase ended early still shows complete
    records.append({"phase": "done", "step": 5, "event": "done"})
    assert all(r["state"] == "done" for r in ui.progress_rows(records, {1: 10, 2: 6, 3: 8}))
    assert ui.progress_rows([], {})[0]["fraction"] == 0.0


def test_format_seconds_and_checkpoint_names():
    assert ui.format_seconds(None) == "–" and ui.format_seconds(5) == "5s"
    assert ui.format_seconds(125) == "2m 05s" and ui.format_seconds(3725) == "1h 02m"
    when = dt.datetime(2026, 1, 2, 3, 4, 5)
    assert (
        ui.checkpoint_name_for("synthetic:users=5000,overlap=0.5", when)
        == "20260102-030405-synthetic-users5000-overlap0.5"
    )
    assert (
        ui.checkpoint_name_for("csv:/d/Books.csv,/d/Movies.csv,k_core=3", when)
        == "20260102-030405-csv-Books-Movies"
    )
    assert "," not in ui.checkpoint_name_for("csv:/a b/x,y.csv,/c/d.csv", when)
    assert ui.synthetic_spec(3000, 0.5, 1) == "synthetic:users=3000,overlap=0.5,seed=1"


# --------------------------------------------------------------------------- validators


def test_uploaded_checkpoint_is_validated_before_it_is_stored(tmp_path, monkeypatch):
    from recguru_core.errors import CheckpointError

    monkeypatch.setenv("RECGURU_CHECKPOINT_DIR", str(tmp_path))
    with pytest.raises(CheckpointError, match="garbage.pt: not a loadable RecGURU checkpoint"):
        ui.save_uploaded_checkpoint("garbage.pt", b"\x00\x01 not a zip")
    with pytest.raises(CheckpointError, match="expected a .pt"):
        ui.save_uploaded_checkpoint("notes.txt", b"hello")
    with pytest.raises(CheckpointError, match="empty"):
        ui.save_uploaded_checkpoint("empty.pt", b"")
    import torch

    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(CheckpointError, match="not a RecGURU Explorer checkpoint"):
        ui.save_uploaded_checkpoint("foreign.pt", foreign.read_bytes())
    uploads = tmp_path / "uploads"
    assert not list(uploads.glob("*")), "nothing is left behind by refused uploads"


def test_valid_upload_is_stored_once(tmp_path, monkeypatch, tmp_path_factory):
    from test_app import tiny_checkpoint_file

    data = tiny_checkpoint_file(tmp_path_factory).read_bytes()
    monkeypatch.setenv("RECGURU_CHECKPOINT_DIR", str(tmp_path))
    first = ui.save_uploaded_checkpoint("my run,1.pt", data)
    assert first.parent == tmp_path / "uploads" and first.suffix == ".pt" and "," not in first.name
    assert ui.save_uploaded_checkpoint("my run,1.pt", data) == first  # same bytes: reused
    assert [e.kind for e in ui.available_checkpoints()] == ["uploaded"]
    assert not list((tmp_path / "uploads").glob("*.tmp"))


def test_check_source_reports_bad_csv_in_one_line(tmp_path):
    from recguru_core.errors import RecGuruError

    bad = tmp_path / "Books.csv"
    bad.write_text("foo,bar\n1,2\n")
    with pytest.raises(RecGuruError, match="missing column") as info:
        ui.check_source(f"csv:{bad},{bad}")
    assert "\n" not in str(info.value)
    with pytest.raises(RecGuruError, match="file not found"):
        ui.check_source("csv:/nonexistent/a.csv,/nonexistent/b.csv")
    with pytest.raises(RecGuruError, match="enter a source spec"):
        ui.check_source("   ")
    with pytest.raises(RecGuruError, match="unknown source"):
        ui.check_source("bogus:x")


def test_save_uploaded_tables_keeps_names_for_domains(tmp_path, monkeypatch):
    monkeypatch.setenv("RECGURU_RUNS_DIR", str(tmp_path))
    spec = ui.save_uploaded_tables(
        ("Books.csv", b"user_id,item_id,timestamp\n"),
        ("Movies, new.csv", b"user_id,item_id,timestamp\n"),
        token="t1",
    )
    kind, _, paths = spec.partition(":")
    a, b = paths.split(",")
    assert kind == "csv" and Path(a).name == "Books.csv" and Path(b).name == "Movies-new.csv"
    assert Path(a).is_file() and Path(b).is_file()
    from recguru_core.errors import DataError

    with pytest.raises(DataError, match="empty"):
        ui.save_uploaded_tables(("a.csv", b""), ("b.csv", b"x"))


def test_checkpoint_listing_order(tmp_path, monkeypatch):
    monkeypatch.setenv("RECGURU_CHECKPOINT_DIR", str(tmp_path))
    assert ui.available_checkpoints() == [] and ui.default_checkpoint() is None
    (tmp_path / "uploads").mkdir()
    for name in ("uploads/u.pt", "old.pt", "new.pt", "demo.pt", "partial.pt.tmp"):
        (tmp_path / name).write_bytes(b"x")
    import os
    import time

    now = time.time()
    os.utime(tmp_path / "old.pt", (now - 100, now - 100))
    entries = ui.available_checkpoints()
    assert [e.kind for e in entries] == ["demo", "trained", "trained", "uploaded"]
    assert [Path(e.path).name for e in entries] == ["demo.pt", "new.pt", "old.pt", "u.pt"]
    assert ui.default_checkpoint().endswith("demo.pt")


def test_markdown_escaping_of_data_text():
    assert ui.md("Price $9.99 *now*") == r"Price \$9\.99 \*now\*"
    assert ui.md(":material/home: [x](y)") == r"\:material/home\: \[x\]\(y\)"
    assert ui.md(42) == "42"
