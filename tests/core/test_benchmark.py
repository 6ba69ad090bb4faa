"""The benchmark harness with fake deterministic models (no training): the results schema, the
Markdown tables, resume, refused settings, the paired bootstrap, and the CLI's bad input."""

import json

import numpy as np
import pytest
import torch

from recguru_core.bench import harness as bm
from recguru_core.bench import report as report
from recguru_core.cli import main
from recguru_core.common.errors import RecGuruError
from recguru_core.metrics.ranking import METRIC_NAMES
from recguru_core.train.checkpoints import FORMAT as CKPT_FORMAT
from recguru_core.train.checkpoints import load_checkpoint, save_checkpoint

pytestmark = pytest.mark.usefixtures("one_thread")

SOURCE = "synthetic:users=200,k_core=1"
ROW_KEYS = {"model", "domain", "overlap", "seed", "seconds", "sampled", "full"}


class FakeModel:
    """Scores = popularity (strength) + seeded noise; recguru writes a minimal checkpoint."""

    def __init__(self, name, out=None, calls=None, fail_on=None):
        self.name, self.out, self.calls, self.fail_on = name, out, calls, fail_on
        self.strength = {"pop": 1.0, "sasrec": 0.3, "recguru": 2.0}.get(name, 0.5)

    def fit(self, data, *, device, seed, progress=None):
        assert isinstance(device, torch.device)
        if self.fail_on is not None and len(self.calls) == self.fail_on:
            raise KeyboardInterrupt  # a killed benchmark
        self.calls.append((self.name, seed))
        self.data, self.seed = data, seed
        for step in range(3):
            if progress is not None:
                progress(step + 1, 3, f"step {step}")
        if self.out is not None:
            from recguru_core.data.domains import data_to_state

            items = {"n_items_a": data.a.n_items, "n_items_b": data.b.n_items}
            save_checkpoint(
                self.out,
                {
                    "format": CKPT_FORMAT,
                    "version": 1,
                    "model": {},
                    "data": data_to_state(data),
                    "config": {"model": items, "train": {}, "data": {}},
                    "metrics": {"test": {}},
                },
            )

    def score(self, domain, rows, split, candidates):
        dom = self.data.domain(domain)
        gen = torch.Generator().manual_seed(1000 * self.seed + domain + len(self.name))
        pop = torch.log1p(torch.as_tensor(dom.popularity, dtype=torch.float32))
        full = torch.full((len(rows), dom.n_items + 2), -torch.inf)
        full[:, 1:-1] = self.strength * pop + torch.rand(len(rows), dom.n_items, generator=gen)
        if candidates is None:
            return full
        return full.gather(1, candidates)


def fake_factory(calls, fail_on=None):
    def factory(name, *, preset, overrides, out):
        return FakeModel(name, out=out, calls=calls, fail_on=fail_on)

    return factory


def run(tmp_path, models=("pop", "sasrec", "recguru"), calls=None, **kw):
    calls = [] if calls is None else calls
    kw.setdefault("seeds", 2)
    result = bm.run_benchmark(
        SOURCE,
        list(models),
        out=tmp_path / "results.json",
        factory=fake_factory(calls, kw.pop("fail_on", None)),
        quiet=True,
        **kw,
    )
    return result, calls


def test_run_writes_schema_tables_sidecars_and_checkpoint_baselines(tmp_path):
    result, calls = run(tmp_path)
    assert len(calls) == 6  # 3 models x 2 seeds
    payload = json.loads((tmp_path / "results.json").read_text())
    rows = payload["results"]
    assert len(rows) == 12
    for row in rows:
        assert set(row) == ROW_KEYS
        assert row["domain"] in ("A", "B") and row["overlap"] is None and row["seed"] in (0, 1)
        assert set(row["sampled"]) == set(METRIC_NAMES) == set(row["full"])
        assert 0.0 <= row["full"]["HR@10"] <= 1.0 and row["seconds"] >= 0
    assert payload["settings"] == {"source": SOURCE, "preset": "quick", "overrides": {}}
    # sidecar ranks reproduce the row metrics
    ranks = bm.load_ranks(tmp_path / "results.d" / "ranks" / "pop_onatural_s1.npz")
    from recguru_core.metrics.ranking import metrics_from_ranks

    row = next(r for r in rows if (r["model"], r["seed"], r["domain"]) == ("pop", 1, "B"))
    assert metrics_from_ranks(ranks["full"]["B"]) == pytest.approx(row["full"])
    # bootstrap entries for both families, both domains, every metric
    assert len(payload["bootstrap"]) == 2 * 2 * len(METRIC_NAMES)
    assert all(b["low"] <= b["diff"] <= b["high"] for b in payload["bootstrap"])
    # the RecGURU checkpoint of each seed carries the baselines in the app's metrics shape
    for seed in (0, 1):
        ckpt = load_checkpoint(tmp_path / "results.d" / f"recguru_onatural_s{seed}.pt")
        assert set(ckpt["baselines"]) == {"POP", "SASRec"}
        pop_a = next(r for r in rows if (r["model"], r["seed"], r["domain"]) == ("pop", seed, "A"))
        assert ckpt["baselines"]["POP"]["test"]["A"] == pop_a["sampled"]
        assert ckpt["baselines"]["POP"]["test_full"]["A"] == pop_a["full"]
        assert set(ckpt["baselines"]["SASRec"]["test_full"]) == {"A", "B"}
        # and RecGURU minus each, paired per user: the interval matches the sidecar ranks
        paired = ckpt["baselines"]["POP"]["paired"]
        mean, low, high = paired["test_full"]["B"]["NDCG@10"]
        rec_b = next(r for r in rows if (r["model"], r["seed"], r["domain"]) == ("recguru", seed, "B"))
        pop_b = next(r for r in rows if (r["model"], r["seed"], r["domain"]) == ("pop", seed, "B"))
        assert mean == pytest.approx(rec_b["full"]["NDCG@10"] - pop_b["full"]["NDCG@10"])
        assert low <= mean <= high and set(paired) == {"test", "test_full"}
    md = (tmp_path / "results.md").read_text()
    assert md == result.markdown
    assert "## Sampled ranking (1 true item + 199 sampled negatives)" in md
    assert "## Full ranking" in md and "### Overlap natural" in md
    assert "| Domain | Metric | POP | SASRec | +GURU | Δ +GURU − best (95 % CI) |" in md
    assert "| A (Books) | HR@5 |" in md and "| B (Movies) | MRR |" in md
    assert "Table 3" not in md  # one overlap only
    assert "## Fit seconds" in md


def test_resume_skips_finished_and_refuses_other_settings(tmp_path):
    calls = []
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, calls=calls, fail_on=4)  # killed during the 5th fit
    assert len(calls) == 4
    rows = json.loads((tmp_path / "results.json").read_text())["results"]
    assert len(rows) == 8  # 4 finished (model, seed), two domains each
    result, calls2 = run(tmp_path)
    assert calls2 == [("sasrec", 1), ("recguru", 1)]
    assert len(result.payload["results"]) == 12
    _, calls3 = run(tmp_path)
    assert calls3 == []  # all done: nothing refitted, tables rewritten
    with pytest.raises(RecGuruError, match="other settings.*preset"):
        run(tmp_path, preset="paper")
    with pytest.raises(RecGuruError, match="other settings.*overrides"):
        run(tmp_path, overrides={"d_model": "32"})


def test_overlap_ablation_appends_overlap_and_writes_table3(tmp_path):
    seen = []

    def loader(spec):
        from recguru_core.data.sources import load_source

        seen.append(spec)
        return load_source(spec)

    result, calls = run(tmp_path, models=("pop", "recguru"), seeds=1, overlaps=[0.3, 0.75], loader=loader)
    assert seen == [SOURCE + ",overlap=0.3", SOURCE + ",overlap=0.75"]
    assert {r["overlap"] for r in result.payload["results"]} == {0.3, 0.75}
    assert (tmp_path / "results.d" / "recguru_o0.75_s0.pt").is_file()
    md = result.markdown
    assert "### Overlap 0.3" in md and "### Overlap 0.75" in md
    assert "Overlap ablation (Table 3 style)" in md
    assert "| Domain | Metric | 0.3 · POP | 0.3 · +GURU | 0.75 · POP | 0.75 · +GURU |" in md


def test_source_with_overlap():
    assert bm.source_with_overlap("synthetic", 0.5) == "synthetic:overlap=0.5"
    assert bm.source_with_overlap("movielens:/d,k_core=3", 0.1) == "movielens:/d,k_core=3,overlap=0.1"
    assert bm.source_with_overlap("csv:a,b", None) == "csv:a,b"


def _rows(values):
    """values: {(model, seed): HR@5} -> rows with every metric = that value (domain A and B)."""
    rows = []
    for (model, seed), v in values.items():
        for d in ("A", "B"):
            m = {name: v for name in METRIC_NAMES}
            rows.append(
                {
                    "model": model,
                    "domain": d,
                    "overlap": None,
                    "seed": seed,
                    "seconds": 1.5,
                    "sampled": m,
                    "full": dict(m),
                }
            )
    return rows


def test_table_mean_std_bold_best():
    rows = _rows({("pop", 0): 0.10, ("pop", 1): 0.12, ("sasrec", 0): 0.20, ("sasrec", 1): 0.30})
    md = report.format_markdown(
        {
            "results": rows,
            "domains": {"A": "Books", "B": "Movies"},
            "negatives": 99,
            "settings": {"source": "s", "preset": "quick"},
        }
    )
    assert "1 true item + 99 sampled negatives" in md
    assert "| A (Books) | HR@10 | 11.00 ± 1.41 | **25.00 ± 7.07** |" in md
    assert "Δ" not in md  # no recguru in the run


def _ranks(value_by_model, n=400, seed=0):
    rng = np.random.default_rng(seed)
    out = {}
    for model, low in value_by_model.items():
        r = rng.integers(low, low + 5, size=n)
        out[model] = {fam: {"A": r, "B": r} for fam in report.FAMILIES}
    return out


@pytest.mark.parametrize("better", [True, False])
def test_bootstrap_interval_sign(better):
    # recguru ranks ~1..5 (or ~30..35); the baselines ~10..15 and ~60..65
    ranks = _ranks({"recguru": 1 if better else 30, "pop": 10, "recguru_noadv": 60})
    models = ["pop", "recguru_noadv", "recguru"]
    rows = []
    from recguru_core.metrics.ranking import metrics_from_ranks

    for m in models:
        for d in ("A", "B"):
            met = metrics_from_ranks(ranks[m]["sampled"][d])
            rows.append(
                {
                    "model": m,
                    "domain": d,
                    "overlap": None,
                    "seed": 0,
                    "seconds": 0.1,
                    "sampled": met,
                    "full": met,
                }
            )
    boot = report.compute_bootstrap(rows, models, [None], [0], lambda m, o, s: ranks[m])
    mrr = [b for b in boot if b["metric"] == "MRR"]
    assert len(mrr) == 4 and all(b["baseline"] == "pop" for b in mrr)
    for b in mrr:
        if better:
            assert 0 < b["low"] < b["diff"] < b["high"]
        else:
            assert b["low"] < b["diff"] < b["high"] < 0
    # fixed rng: the same interval again
    assert report.compute_bootstrap(rows, models, [None], [0], lambda m, o, s: ranks[m]) == boot
    md = report.format_markdown({"results": rows, "bootstrap": boot}, models=models)
    line = next(ln for ln in md.splitlines() if ln.startswith("| A | MRR |"))
    delta = line.split("|")[-2].strip()
    assert delta.startswith("+" if better else "-") and delta.endswith("vs POP")
    assert "counts as a baseline" in md


def test_paired_bootstrap_constant_difference():
    mean, low, high = report.paired_bootstrap(np.full(50, 0.25))
    assert mean == low == high == pytest.approx(0.25)


@pytest.mark.parametrize(
    "args, match",
    [
        (["--models", "pop,nope"], "unknown model 'nope'"),
        (["--models", ""], "--models"),
        (["--overlap", "abc"], "not a number"),
        (["--overlap", "1.5"], "outside"),
        (["--overlap", ","], "--overlap"),
        (["--seeds", "0"], "--seeds"),
        (["--seeds", "two"], "--seeds"),
    ],
)
def test_cli_bad_input_one_error_line(tmp_path, capsys, args, match):
    code = main(["benchmark", SOURCE, "--out", str(tmp_path / "r.json"), *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: ") and match in err[0]
    assert not (tmp_path / "r.json").exists()


def test_cli_unwritable_out(tmp_path, capsys):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    code = main(["benchmark", SOURCE, "--models", "pop", "--out", str(blocker / "results.json")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: --out")


def test_cli_refuses_other_settings(tmp_path, capsys):
    run(tmp_path, models=("pop",), seeds=1)
    capsys.readouterr()
    code = main(
        [
            "benchmark",
            "synthetic:users=250,k_core=1",
            "--models",
            "pop",
            "--out",
            str(tmp_path / "results.json"),
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "other settings (source" in err[0]


def test_cli_end_to_end_with_pop(tmp_path, capsys):
    pytest.importorskip("recguru_core.bench.baselines")
    out = tmp_path / "res.json"
    code = main(["benchmark", SOURCE, "--models", "pop", "--device", "cpu", "--quiet", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "| A (Books) | HR@5 |" in captured.out
    assert "POP overlap=natural seed=0: fit" in captured.err
    assert len(json.loads(out.read_text())["results"]) == 2


def test_a_later_subset_command_keeps_the_earlier_comparison(tmp_path):
    """The overlap ablation reuses a results file with fewer models: the bootstrap of the
    earlier overlap must still compare RecGURU with every model that ran there."""
    first, _ = run(tmp_path, models=("pop", "sasrec", "recguru"), seeds=1, overlaps=[0.3])
    before = {
        (b["family"], b["domain"], b["metric"]): b["baseline"]
        for b in first.payload["bootstrap"]
        if b["overlap"] == 0.3
    }
    second, _ = run(tmp_path, models=("sasrec", "recguru"), seeds=1, overlaps=[0.3, 0.75])
    after = {
        (b["family"], b["domain"], b["metric"]): b["baseline"]
        for b in second.payload["bootstrap"]
        if b["overlap"] == 0.3
    }
    assert after == before and "pop" in set(before.values())
    assert {b["baseline"] for b in second.payload["bootstrap"] if b["overlap"] == 0.75} == {"sasrec"}


def test_cli_report_rewrites_the_tables_of_every_row(tmp_path, capsys):
    """A later command with fewer overlaps writes tables of its own overlaps only; --report
    writes them all again from the results file, training nothing."""
    out = tmp_path / "res.json"
    for overlap in ("0.3", "0.75"):
        assert (
            main(
                [
                    "benchmark",
                    SOURCE,
                    "--models",
                    "pop",
                    "--device",
                    "cpu",
                    "--quiet",
                    "--overlap",
                    overlap,
                    "--out",
                    str(out),
                ]
            )
            == 0
        )
    md = (tmp_path / "res.md").read_text()
    assert "### Overlap 0.75" in md and "### Overlap 0.3" not in md
    capsys.readouterr()
    assert main(["benchmark", "--out", str(out), "--report"]) == 0
    md = (tmp_path / "res.md").read_text()
    assert "### Overlap 0.3" in md and "### Overlap 0.75" in md
    assert "fit" not in capsys.readouterr().err  # nothing trained
    (tmp_path / "bad.json").write_text("{not json")
    assert main(["benchmark", "--out", str(tmp_path / "bad.json"), "--report"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.json: not a benchmark results file" in err[0]
    assert main(["benchmark", "--out", str(out)]) == 2  # no source and no --report
    assert "give a data source" in capsys.readouterr().err


def test_benchmark_writes_tests_and_the_checkpoint_carries_them(tmp_path):
    run(tmp_path)
    payload = json.loads((tmp_path / "results.json").read_text())
    assert {e["baseline"] for e in payload["tests"]} == {"pop", "sasrec"}
    assert all(e["seeds"] == 2 for e in payload["tests"])
    ckpt = load_checkpoint(tmp_path / "results.d" / "recguru_onatural_s1.pt")
    carried = ckpt["baselines"]["POP"]["tests"]["test_full"]["B"]["NDCG@10"]
    entry = next(
        e
        for e in payload["tests"]
        if (e["baseline"], e["family"], e["domain"], e["metric"], e["test"])
        == ("pop", "full", "B", "NDCG@10", "wilcoxon")
    )
    assert carried["wilcoxon"]["p_holm"] == entry["p_holm"] and carried["wilcoxon"]["seeds"] == 2
    md = (tmp_path / "results.md").read_text()
    assert "Protocol: leave-one-out split by time" in md and "1-core per domain" in md
