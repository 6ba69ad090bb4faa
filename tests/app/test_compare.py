"""Compare runs: the data fingerprint, the shared layout frame, and the Compare page on two
real tiny runs of the same data (the session's tiny run and a `w_adv=0` control made by the
CLI), an incompatible pair refused with one line, and the difference table's values; the
CLI's `compare` on the shipped pair (text, --json, its one-line refusals)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers.app import (
    ROOT,
    TINY_OVERRIDES,
    TINY_SOURCE,
    add_projection,
    checkpoint_variant,
    open_page,
    page_ok,
    point_app_at,
    visible_text,
)

PAGE = "pages/6_Compare.py"


@pytest.fixture(scope="session")
def tiny_control(tmp_path_factory) -> Path:
    """The tiny run's recipe with w_adv=0, trained by the CLI (a real second run), with a PCA
    layout added as for the tiny run."""
    folder = tmp_path_factory.mktemp("tiny-control")
    raw, target = folder / "control-raw.pt", folder / "control.pt"
    overrides = {**TINY_OVERRIDES, "w_adv": 0}
    cmd = [
        sys.executable,
        "-m",
        "recguru_core",
        "train",
        TINY_SOURCE,
        "--out",
        str(raw),
        "--preset",
        "quick",
        "--seed",
        "0",
        "--threads",
        "1",
        "--quiet",
        *[f"{k}={v}" for k, v in overrides.items()],
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    add_projection(raw, target)
    return target


@pytest.fixture
def compare_app(monkeypatch, tmp_path, tiny, tiny_control) -> Path:
    folder = point_app_at(monkeypatch, tmp_path, tiny)
    (folder / "control_no_adv.pt").symlink_to(tiny_control)
    return folder


def _wait_for(at, predicate, what: str, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while not predicate(at):
        assert time.monotonic() < deadline, f"{what} never appeared"
        time.sleep(1)
        at.run()
    return at


def _frame(at, column: str):
    return next((d.value for d in at.dataframe if column in getattr(d.value, "columns", [])), None)


# --------------------------------------------------------------------------- core


def test_data_fingerprint_same_data_same_print(tiny, tiny_control, tmp_path):
    from recguru_core.analysis.compare import data_fingerprint
    from recguru_core.train.checkpoints import load_checkpoint

    a, b = load_checkpoint(tiny), load_checkpoint(tiny_control)
    assert data_fingerprint(a) == data_fingerprint(b) == data_fingerprint(a["data"])
    assert len(data_fingerprint(a)) == 16

    def renamed_user(ckpt):
        ckpt["data"]["B"]["user_raw"][0] = "someone-else"

    def other_item(ckpt):
        items = ckpt["data"]["A"]["items"]
        items[0] = items[0] % len(ckpt["data"]["A"]["item_raw"]) + 1

    def other_negatives(ckpt):
        ckpt["data"]["A"]["negatives"] = ckpt["data"]["A"]["negatives"].flip(0)

    for edit, same in ((renamed_user, False), (other_item, False), (other_negatives, True)):
        changed = load_checkpoint(checkpoint_variant(tiny, tmp_path, edit.__name__, edit))
        assert (data_fingerprint(changed) == data_fingerprint(a)) is same, edit.__name__


@pytest.mark.parametrize("method", ["pca", "stored"])
def test_comparison_layouts_share_users_and_frame(tiny, tiny_control, method):
    from recguru_core.analysis.compare import comparison_layouts
    from recguru_core.train.checkpoints import load_checkpoint

    a, b = load_checkpoint(tiny), load_checkpoint(tiny_control)
    snaps, projs = [a["snapshots"], b["snapshots"]], [a["projections"], b["projections"]]
    result = comparison_layouts(snaps, projs, method=method, n_users=150, seed=3)
    m = len(result["user"])
    assert 0 < m <= 150 and all(xy.shape == (m, 2) for xy in result["layouts"])
    assert result["domain"].shape == (m,) and result["residual"][0] == 0.0
    again = comparison_layouts(snaps, projs, method=method, n_users=150, seed=3)
    assert again["user"] == result["user"]  # same seed, same users
    np.testing.assert_allclose(again["layouts"][1], result["layouts"][1])
    # a run against itself: the same picture after turning
    itself = comparison_layouts(
        [snaps[0], snaps[0]], [projs[0], projs[0]], method=method, n_users=150, seed=3
    )
    assert itself["residual"][1] < 1e-4


def test_comparison_layouts_refuse_a_single_run(tiny):
    from recguru_core.analysis.compare import comparison_layouts
    from recguru_core.common.errors import RecGuruError
    from recguru_core.train.checkpoints import load_checkpoint

    with pytest.raises(RecGuruError, match="at least two"):
        comparison_layouts([load_checkpoint(tiny)["snapshots"]])


# --------------------------------------------------------------------------- the page


def test_compare_page_on_two_tiny_runs(compare_app, tiny, tiny_control):
    from recguru_core.train.checkpoints import load_checkpoint

    at = open_page(PAGE)
    assert not at.error, visible_text(at.error)
    picked = at.multiselect(key="compare.runs").value
    assert [Path(p).name for p in picked] == ["demo.pt", "control_no_adv.pt"]  # demo vs control

    # the difference table: control − demo, equal to the runs' own metric differences
    table = _frame(at, "control_no_adv − demo")
    assert table is not None, "no difference table"
    ma, mb = load_checkpoint(tiny)["metrics"], load_checkpoint(tiny_control)["metrics"]
    assert set(table["Ranking"]) == {"sampled", "full ranking"}
    for _, row in table.iterrows():
        split = "test" if row["Ranking"] == "sampled" else "test_full"
        domain = row["Domain"].split(" ")[0]
        expected = 100 * (mb[split][domain][row["Metric"]] - ma[split][domain][row["Metric"]])
        assert math.isclose(row["control_no_adv − demo"], expected, abs_tol=1e-9)
        assert math.isclose(row["demo"], 100 * ma[split][domain][row["Metric"]], abs_tol=1e-9)
    assert len(table) == 2 * 2 * 6  # rankings x domains x HR/NDCG@5/10/20
    assert at.get("download_button"), "no CSV export"

    # alignment side by side (computed in the background for the tiny runs)
    _wait_for(at, lambda a: _frame(a, "control_no_adv null") is not None, "the alignment table")
    page_ok(at, "alignment")
    align = _frame(at, "control_no_adv null")
    assert {"demo", "control_no_adv", "control_no_adv − demo"} <= set(align.columns)
    # the shared layout and the overlaid curves
    _wait_for(at, lambda a: len(a.get("plotly_chart")) >= 2, "the layout and curve charts")
    assert not at.error, visible_text(at.error)
    for layout in ("pca", "stored"):
        at.segmented_control(key="compare.layout").set_value(layout).run()
        _wait_for(at, lambda a: len(a.get("plotly_chart")) >= 2, f"the {layout} layout")
        page_ok(at, layout)
    for mode in ("overlap", "cluster", "domain"):
        at.segmented_control(key="compare.color").set_value(mode).run()
        page_ok(at, f"colour by {mode}")
    at.number_input(key="compare.seed").set_value(1).run()
    _wait_for(at, lambda a: len(a.get("plotly_chart")) >= 2, "the layout with seed 1")
    at.slider(key="compare.smoothing").set_value(0.0).run()
    page_ok(at, "smoothing")
    assert not at.error, visible_text(at.error)


def test_compare_page_refuses_runs_of_other_data(monkeypatch, tmp_path, tiny):
    def renamed_user(ckpt):
        ckpt["data"]["A"]["user_raw"][0] = "a-stranger"

    folder = point_app_at(monkeypatch, tmp_path, tiny)
    other = checkpoint_variant(tiny, tmp_path, "other-data", renamed_user)
    (folder / "control_no_adv.pt").symlink_to(other)
    at = open_page(PAGE)
    assert len(at.error) == 1, visible_text(at.error)
    assert "other data than demo" in visible_text(at.error)
    assert not at.get("plotly_chart") and _frame(at, "Ranking") is None


def test_compare_page_with_one_run_asks_for_another(monkeypatch, tmp_path, tiny):
    point_app_at(monkeypatch, tmp_path, tiny)
    at = open_page(PAGE)
    assert not at.error
    assert "at least two runs" in visible_text(at.info)


def test_control_run_is_listed_but_never_the_default(compare_app):
    from ui import state

    at = open_page("app.py")
    box = at.selectbox(key="home.checkpoint")
    assert box.options[:2] == ["Demo run (shipped)", "Control run: no adversarial term (shipped)"]
    assert Path(at.session_state[state.K_CHECKPOINT]).name == "demo.pt"
    assert Path(box.value).name == "demo.pt"


def test_the_control_run_is_listed_second_even_when_newest(tmp_path, monkeypatch):
    import time

    from ui import state

    monkeypatch.setenv("RECGURU_CHECKPOINT_DIR", str(tmp_path))
    for name in ("trained.pt", "demo.pt", "control_no_adv.pt"):
        (tmp_path / name).write_bytes(b"x")
        time.sleep(0.01)
    entries = state.available_checkpoints()
    assert [e.kind for e in entries] == ["demo", "control", "trained"]
    assert Path(state.default_checkpoint()).name == "demo.pt"


# --------------------------------------------------------------------------- the CLI
# On the shipped pair (demo vs the same recipe with w_adv=0): loading two slim checkpoints is
# about a second, and both carry their alignment, so nothing is trained or measured here.

SHIPPED = ROOT / "checkpoints"
DEMO_PT, CONTROL_PT = SHIPPED / "demo.pt", SHIPPED / "control_no_adv.pt"
shipped = pytest.mark.skipif(
    not (DEMO_PT.is_file() and CONTROL_PT.is_file()), reason="the shipped checkpoint pair is not there"
)


def _compare(capsys, *argv) -> tuple[int, str, str]:
    from recguru_core import cli

    rc = cli.main(["compare", *map(str, argv)])
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.fixture(scope="module")
def pair():
    from recguru_core.train.checkpoints import load_checkpoint

    return load_checkpoint(DEMO_PT), load_checkpoint(CONTROL_PT)


@shipped
def test_cli_compare_prints_the_shipped_pair_side_by_side(capsys, pair):
    rc, out, err = _compare(capsys, DEMO_PT, CONTROL_PT)
    assert rc == 0 and not err.strip(), err
    demo, control = pair
    for heading in ("Evaluation, test split", "Alignment after the adversarial phase", "Training"):
        assert heading in out
    assert "control_no_adv - demo" in out and "fingerprint" in out
    lines = out.splitlines()

    def row(*start):
        hits = [line.split() for line in lines if line.split()[: len(start)] == list(start)]
        assert len(hits) == 1, (start, hits)
        return hits[0]

    for ranking, split in ((["sampled"], "test"), (["full", "ranking"], "test_full")):
        for d, name in (("A", "(Books)"), ("B", "(Movies)")):
            for metric in ("HR@10", "NDCG@10", "MRR"):
                cells = row(*ranking, d, name, metric)
                a, b = demo["metrics"][split][d][metric], control["metrics"][split][d][metric]
                assert cells[-3:] == [f"{a:.4f}", f"{b:.4f}", f"{b - a:+.4f}"], cells
    auc = [a["after"]["auc"]["value"] for a in (demo["alignment"], control["alignment"])]
    cells = row("Domain-classifier", "AUC")
    assert f"{auc[0]:.3f}" in cells and f"{auc[1]:.3f}" in cells and f"{auc[1] - auc[0]:+.3f}" in cells
    assert row("Last", "Wasserstein", "estimate") and row("Seconds,", "total")


@shipped
def test_cli_compare_json_structure(capsys, pair):
    rc, out, _ = _compare(capsys, DEMO_PT, CONTROL_PT, "--json")
    assert rc == 0
    result = json.loads(out)
    demo, control = pair
    assert result["labels"] == ["demo", "control_no_adv"] and result["reference"] == "demo"
    assert result["domains"] == {"A": "Books", "B": "Movies"}
    assert [r["label"] for r in result["runs"]] == result["labels"]
    assert all(r["status"] == "complete" and r["alignment_from"] == "stored" for r in result["runs"])

    # every metric the checkpoints carry, per ranking and domain; differences later − first
    carried = set(demo["metrics"]["test"]["A"])
    assert {"HR@10", "NDCG@10", "MRR"} <= carried
    assert len(result["metrics"]) == 2 * 2 * len(carried)
    for r in result["metrics"]:
        a = demo["metrics"][r["split"]][r["domain"]][r["metric"]]
        b = control["metrics"][r["split"]][r["domain"]][r["metric"]]
        assert r["values"] == {"demo": a, "control_no_adv": b}
        assert math.isclose(r["diff"]["control_no_adv"], b - a, abs_tol=1e-12)
    assert {r["ranking"] for r in result["metrics"]} == {"sampled", "full ranking"}

    # alignment: the stored 'after' numbers, each beside its null
    rows = {r["metric"]: r for r in result["alignment"]}
    assert {
        "auc",
        "auc_length_matched",
        "proxy_a_distance",
        "knn_entropy",
        "pair_distance",
        "mmd",
        "effective_rank",
        "top3_share",
        "uniformity",
    } == set(rows)
    for label, ckpt in (("demo", demo), ("control_no_adv", control)):
        after = ckpt["alignment"]["after"]
        assert rows["auc"]["values"][label] == after["auc"]["value"]
        assert rows["auc"]["null"][label] == after["auc"]["null"]
        assert rows["pair_distance"]["values"][label] == after["pair_distance"]["ratio"]
        assert rows["effective_rank"]["values"][label] == after["spectrum"]["effective_rank"]
        assert rows["effective_rank"]["null"][label] is None  # label-free: no null
    assert math.isclose(
        rows["auc"]["diff"]["control_no_adv"],
        rows["auc"]["values"]["control_no_adv"] - rows["auc"]["values"]["demo"],
    )

    # training: the last Wasserstein estimate and the seconds per phase, from the history
    training = {r["metric"]: r for r in result["training"]}
    for label, ckpt in (("demo", demo), ("control_no_adv", control)):
        last = [rec for rec in ckpt["history"] if "wasserstein" in rec][-1]
        assert training["wasserstein"]["values"][label] == last["wasserstein"]
        total = sum(rec.get("seconds", 0.0) for rec in ckpt["history"])
        assert math.isclose(training["seconds_total"]["values"][label], total)
        assert set(training) >= {"seconds_pretrain", "seconds_adversarial", "seconds_finetune"}


@shipped
def test_cli_compare_three_runs_one_of_them_twice(capsys):
    rc, out, _ = _compare(capsys, DEMO_PT, CONTROL_PT, DEMO_PT, "--json")
    assert rc == 0
    result = json.loads(out)
    assert result["labels"] == ["demo", "control_no_adv", "demo (2)"]
    for r in result["metrics"] + result["alignment"] + result["training"]:
        assert set(r["diff"]) == {"control_no_adv", "demo (2)"}
        assert r["diff"]["demo (2)"] == 0.0  # a run against itself


@shipped
def test_cli_compare_measures_alignment_a_checkpoint_does_not_store(capsys, tmp_path, pair):
    import torch

    ckpt = torch.load(CONTROL_PT, map_location="cpu", weights_only=True)
    del ckpt["alignment"]
    bare = tmp_path / "bare.pt"
    torch.save(ckpt, bare)
    rc, out, _ = _compare(capsys, DEMO_PT, bare, "--json")
    assert rc == 0
    result = json.loads(out)
    assert [r["alignment_from"] for r in result["runs"]] == ["stored", "measured"]
    auc = next(r for r in result["alignment"] if r["metric"] == "auc")
    # the app's seed and sample size: the stored value again, up to float16 snapshots
    assert math.isclose(auc["values"]["bare"], pair[1]["alignment"]["after"]["auc"]["value"], abs_tol=1e-3)


def _other_data(tmp_path: Path) -> Path:
    import torch

    ckpt = torch.load(CONTROL_PT, map_location="cpu", weights_only=True)
    ckpt["data"]["B"]["user_raw"][0] = "a-stranger"
    path = tmp_path / "other.pt"
    torch.save(ckpt, path)
    return path


def _truncated(tmp_path: Path) -> Path:
    path = tmp_path / "truncated.pt"
    path.write_bytes(DEMO_PT.read_bytes()[:5000])
    return path


def _foreign(tmp_path: Path) -> Path:
    path = tmp_path / "table.pt"
    path.write_text("user_id,item_id,timestamp\n1,2,3\n")
    return path


REFUSALS = {
    "one run": (lambda tmp: [DEMO_PT], "at least two"),
    "no runs": (lambda tmp: [], "required"),
    "missing file": (lambda tmp: [DEMO_PT, tmp / "missing.pt"], "missing.pt: no such checkpoint"),
    "foreign file": (lambda tmp: [DEMO_PT, _foreign(tmp)], "table.pt: not a"),
    "corrupted file": (lambda tmp: [_truncated(tmp), CONTROL_PT], "truncated.pt"),
    "other data": (
        lambda tmp: [DEMO_PT, CONTROL_PT, _other_data(tmp)],
        "other was trained on other data than demo (domain B's user ids differ)",
    ),
}


@shipped
@pytest.mark.parametrize("name", list(REFUSALS))
def test_cli_compare_refusals_are_one_line(name, tmp_path, capsys):
    from helpers.cli import assert_one_error

    make, contains = REFUSALS[name]
    assert_one_error(["compare", *make(tmp_path)], capsys, contains=contains)
    assert_one_error(["compare", *make(tmp_path), "--json"], capsys, contains=contains)


@shipped
def test_data_difference_names_the_part(pair):
    from recguru_core.analysis.compare import check_same_data, data_difference, data_fingerprint
    from recguru_core.common.errors import RecGuruError

    demo, control = pair
    assert data_difference(demo, control) is None
    assert check_same_data(["demo", "control"], [demo, control]) == data_fingerprint(demo)
    other = {"A": dict(demo["data"]["A"]), "B": dict(demo["data"]["B"])}
    other["A"]["name"] = "Music"
    assert data_difference(demo, other) == "domain A's name differs"
    with pytest.raises(RecGuruError, match="x was trained on other data than demo"):
        check_same_data(["demo", "control", "x"], [demo, control, other])


@shipped
def test_the_app_and_the_cli_share_the_rows(capsys):
    """The Compare page's tables come from the same core function as the CLI's numbers."""
    from ui import store

    _, out, _ = _compare(capsys, DEMO_PT, CONTROL_PT, "--json")
    cli_result = json.loads(out)
    paths, labels = [str(DEMO_PT), str(CONTROL_PT)], ["demo", "control_no_adv"]
    alignments = [store.load_run(p).alignment() for p in paths]
    app = store.comparison_tables(paths, labels, alignments=alignments)
    assert app["metrics"] == cli_result["metrics"]
    assert app["alignment"] == cli_result["alignment"]
    assert app["fingerprint"] == cli_result["fingerprint"]
