"""The benchmark harness: every model trained and evaluated per domain, the paper's Table 2 and
Table 3 as Markdown, and a results file others can script against.

    python -m recguru_core benchmark SOURCE --models pop,bprmf,...,recguru [--overlap 0.1,0.3]
                                     [--seeds 3] [--preset quick] [--device auto] --out results.json

For every overlap ratio r (the data layer's overlap control, `overlap=r` appended to the source
spec; none given: the data's natural overlap), every seed 0..N-1 (the model's seed; the data
split is fixed by the source) and every model, `fit` on the training histories, then per-user
ranks on split 'test' of both metric families: `sampled` (1 true item + the data's fixed
negatives) and `full` (all items, the user's known items excluded).

Outputs, for `--out DIR/results.json`:

    DIR/results.json   {"format", "version", "settings": {"source", "preset", "overrides"},
                        "domains": {"A": name, "B": name}, "negatives": n,
                        "results": [{"model", "domain", "overlap", "seed", "seconds",
                                     "sampled": {HR@5..MRR}, "full": {...}}],
                        "bootstrap": [{"family", "overlap", "domain", "metric", "baseline",
                                       "diff", "low", "high", "n"}]}
                       (`overlap` null = natural overlap; `seconds` = wall time of fit)
    DIR/results.md     the tables (also printed to stdout at the end)
    DIR/results.d/ranks/{model}_o{overlap}_s{seed}.npz   per-user ranks (sampled_A, sampled_B,
                       full_A, full_B), so a resumed run can still compute the bootstrap
    DIR/results.d/recguru_o{overlap}_s{seed}.pt          the RecGURU checkpoint of that run,
                       with a `baselines` key holding the other models' test metrics
    DIR/results.d/recguru_noadv_o{overlap}_s{seed}.pt    the w_adv=0 control's checkpoint

Resuming: results.json is rewritten atomically after every finished (model, overlap, seed); a
restart with the same --out skips what is there, and refuses (one-line RecGuruError) when the
stored settings (source, preset, overrides) differ. The tables cover the models, overlaps and
seeds of the current command (rows of other models stay in the file).

Paired bootstrap: per user, the metric contribution (HR@k = [rank <= k], NDCG@k = 1/log2(rank+1)
if rank <= k, MRR = 1/rank) of recguru minus that of the best baseline (highest mean over seeds
among the other models of the run; recguru_noadv counts as a baseline), on the same users and
seed; the paired differences are pooled over seeds and resampled 1000 times (fixed rng seed);
the interval is the 2.5 / 97.5 percentiles of the resampled means.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..common.atomic import atomic_write
from ..common.errors import RecGuruError
from ..metrics.ranking import METRIC_NAMES, metric_contributions, paired_bootstrap
from ..train.checkpoints import load_checkpoint, save_checkpoint
from .paired import compute_tests, tests_by_split
from .recommender import model_ranks
from .registry import MODEL_NAMES, build_model
from .report import (
    DOMAIN_KEYS,
    FAMILIES,
    RECGURU,
    _display,
    _Index,
    compute_bootstrap,
    format_markdown,
    overlap_label,
)

FORMAT = "recguru-benchmark"
MAX_SEEDS = 1000  # each seed is a full fit of every model: more is a typo, not a plan
VERSION = 1
CHECKPOINTED = ("recguru", "recguru_noadv")


# --- argument parsing (pure; RecGuruError with one line) -------------------------------------


def parse_overlaps(text: str | None) -> list[float] | None:
    """'0.1,0.3' -> [0.1, 0.3]; None -> None (natural overlap). Each ratio must be in [0, 1]."""
    if text is None:
        return None
    tokens = [t.strip() for t in str(text).split(",") if t.strip()]
    if not tokens:
        raise RecGuruError(
            f"--overlap {text!r}: expected a comma-separated list of ratios in [0, 1], e.g. 0.1,0.3,0.5,0.75"
        )
    out: list[float] = []
    for token in tokens:
        try:
            value = float(token)
        except ValueError:
            raise RecGuruError(f"--overlap: {token!r} is not a number; expected ratios in [0, 1]") from None
        if not (0.0 <= value <= 1.0):  # also rejects nan
            raise RecGuruError(f"--overlap: {token!r} is outside [0, 1]")
        if value not in out:
            out.append(value)
    return out


def parse_seeds(value) -> list[int]:
    """'3' (or 3) -> [0, 1, 2]."""
    try:
        n = int(str(value).strip())
    except ValueError:
        raise RecGuruError(f"--seeds {value!r}: expected a whole number >= 1") from None
    if not 1 <= n <= MAX_SEEDS:
        raise RecGuruError(f"--seeds {value!r}: expected a whole number from 1 to {MAX_SEEDS}")
    return list(range(n))


def source_with_overlap(source: str, overlap: float | None) -> str:
    """Append `overlap=r` to the spec's options (a later key wins over an earlier one)."""
    source = source.strip()
    if overlap is None:
        return source
    if ":" not in source:
        return f"{source}:overlap={overlap:g}"
    return f"{source.rstrip(',')},overlap={overlap:g}"


@dataclass
class BenchmarkPaths:
    json: Path
    md: Path
    dir: Path

    @property
    def ranks_dir(self) -> Path:
        return self.dir / "ranks"

    def ranks(self, model: str, overlap: float | None, seed: int) -> Path:
        return self.ranks_dir / f"{model}_o{overlap_label(overlap)}_s{seed}.npz"

    def checkpoint(self, overlap: float | None, seed: int, model: str = RECGURU) -> Path:
        return self.dir / f"{model}_o{overlap_label(overlap)}_s{seed}.pt"


def prepare_output(out: str | os.PathLike) -> BenchmarkPaths:
    """Check that --out can be written (creating its directory) and name the outputs."""
    path = Path(out)
    if str(out).strip() == "":
        raise RecGuruError("--out: expected a file path such as results.json")
    if path.is_dir():
        raise RecGuruError(f"--out {out}: is a directory; give a file such as {path / 'results.json'}")
    if path.suffix.lower() in (".md", ".d"):
        raise RecGuruError(
            f"--out {out}: the results file must not end in {path.suffix} "
            "(that name is used for the tables / side files); use results.json"
        )
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test.", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise RecGuruError(
            f"--out {out}: cannot write to directory {parent} ({exc.strerror or type(exc).__name__})"
        ) from None
    stem = path.with_suffix("") if path.suffix else path
    return BenchmarkPaths(
        json=path, md=stem.with_name(stem.name + ".md"), dir=stem.with_name(stem.name + ".d")
    )


# --- atomic files --------------------------------------------------------------------------


def write_json_atomic(path: Path, payload: dict) -> None:
    text = json.dumps(payload, indent=1)
    atomic_write(Path(path), lambda f: f.write(text.encode()))


def write_text_atomic(path: Path, text: str) -> None:
    atomic_write(Path(path), lambda f: f.write(text.encode()))


def save_ranks(path: Path, ranks: dict[str, dict[str, np.ndarray]]) -> None:
    arrays = {
        f"{fam}_{d}": np.asarray(ranks[fam][d], dtype=np.int64) for fam in FAMILIES for d in DOMAIN_KEYS
    }
    atomic_write(Path(path), lambda f: np.savez(f, **arrays))


def load_ranks(path: Path) -> dict[str, dict[str, np.ndarray]] | None:
    """The sidecar of one (model, overlap, seed), or None when it is missing or unreadable."""
    try:
        with np.load(path) as z:
            return {fam: {d: z[f"{fam}_{d}"] for d in DOMAIN_KEYS} for fam in FAMILIES}
    except (OSError, KeyError, ValueError):
        return None


def rewrite_report(out) -> tuple[BenchmarkPaths, str]:
    """`benchmark --report`: the .md rewritten from every row of the results file (all models,
    overlaps and seeds it holds; a run writes tables of its own command only). Trains nothing;
    a file that is not a results file, or a corrupt row, is one RecGuruError line."""
    from .report import check_results, format_markdown

    paths = prepare_output(out)
    try:
        payload = json.loads(paths.json.read_text())
        if not isinstance(payload.get("results"), list):
            raise ValueError("no 'results' list")
    except (OSError, ValueError, AttributeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RecGuruError(f"{paths.json}: not a benchmark results file ({reason})") from None
    check_results(payload, str(paths.json))
    # the paired tests need the per-user ranks: recomputed where the run's rank files are here
    tests = compute_tests(payload["results"], lambda m, o, s: load_ranks(paths.ranks(m, o, s)))
    if tests and tests != payload.get("tests"):
        payload["tests"] = tests
        write_json_atomic(paths.json, payload)
    markdown = format_markdown(payload)
    write_text_atomic(paths.md, markdown)
    return paths, markdown


def settings_dict(source: str, preset: str, overrides: dict | None) -> dict:
    return {
        "source": source.strip(),
        "preset": str(preset),
        "overrides": {str(k): str(v) for k, v in (overrides or {}).items()},
    }


def load_or_start(paths: BenchmarkPaths, settings: dict) -> dict:
    """The stored payload of --out (refusing other settings), or a fresh one."""
    fresh = {
        "format": FORMAT,
        "version": VERSION,
        "settings": settings,
        "domains": {},
        "negatives": None,
        "results": [],
        "bootstrap": [],
    }
    if not paths.json.exists():
        return fresh
    try:
        payload = json.loads(paths.json.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecGuruError(
            f"{paths.json}: exists but is not a readable benchmark results file "
            f"({type(exc).__name__}); use another --out or delete it"
        ) from None
    if (
        not isinstance(payload, dict)
        or payload.get("format") != FORMAT
        or not isinstance(payload.get("results"), list)
    ):
        raise RecGuruError(
            f"{paths.json}: exists but is not a benchmark results file "
            f"(missing format {FORMAT!r}); use another --out or delete it"
        )
    from .report import check_results

    check_results(payload, str(paths.json))
    stored = payload.get("settings") or {}
    for key in ("source", "preset", "overrides"):
        if stored.get(key) != settings[key]:
            raise RecGuruError(
                f"{paths.json} holds a benchmark with other settings ({key}: stored "
                f"{stored.get(key)!r}, now {settings[key]!r}); use another --out or delete it"
            )
    for key, value in fresh.items():
        payload.setdefault(key, value)
    return payload


def _key(row: dict) -> tuple:
    return row["model"], row["overlap"], int(row["seed"])


def finished_runs(rows: Iterable[dict]) -> set[tuple]:
    """(model, overlap, seed) with rows for both domains."""
    seen: dict[tuple, set] = {}
    for row in rows:
        seen.setdefault(_key(row), set()).add(row["domain"])
    return {k for k, doms in seen.items() if doms >= set(DOMAIN_KEYS)}


# --- the run -------------------------------------------------------------------------------


class _Progress:
    """fit's progress callback -> one tqdm bar on stderr, created on the first call."""

    def __init__(self, desc: str, quiet: bool):
        self.desc, self.quiet, self.bar = desc, quiet, None

    def __call__(self, done: int, total: int, message: str = "") -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(
                total=total,
                desc=self.desc,
                file=sys.stderr,
                disable=self.quiet,
                dynamic_ncols=True,
                leave=False,
            )
        if total is not None and total != self.bar.total:
            self.bar.total = total
        self.bar.n = done
        if message:
            self.bar.set_postfix_str(str(message), refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


PAIRED_METRICS = ("HR@10", "NDCG@10")


def paired_intervals(mine: dict | None, theirs: dict | None) -> dict:
    """RecGURU minus one model, per user on the same users: {"test"|"test_full": {"A"|"B":
    {metric: [mean, low, high]}}} (fractions; paired bootstrap 95 %, the harness's resamples
    and rng seed) from two rank dicts of `load_ranks`; {} where they cannot be paired."""
    out: dict = {}
    if not mine or not theirs:
        return out
    cols = [METRIC_NAMES.index(m) for m in PAIRED_METRICS]
    for family, split in (("sampled", "test"), ("full", "test_full")):
        for domain in ("A", "B"):
            r_me = (mine.get(family) or {}).get(domain)
            r_other = (theirs.get(family) or {}).get(domain)
            if r_me is None or r_other is None or len(r_me) != len(r_other):
                continue
            c_me, c_other = metric_contributions(r_me), metric_contributions(r_other)
            mean, low, high = paired_bootstrap(c_me[:, cols] - c_other[:, cols])
            out.setdefault(split, {})[domain] = {
                m: [float(mean[j]), float(low[j]), float(high[j])] for j, m in enumerate(PAIRED_METRICS)
            }
    return out


def attach_baselines(
    path: Path, rows: list[dict], models: list[str], overlap, seed: int, ranks: Callable | None = None
) -> bool:
    """Store the other models' test metrics of (overlap, seed) in the RecGURU checkpoint under
    `baselines` (the shape of its `metrics`: {"test"|"test_full": {"A", "B"}}), each with
    `paired`: RecGURU minus that model with its paired 95 % interval (`paired_intervals`;
    ranks(model, overlap, seed) -> rank dict). False if the checkpoint does not exist."""
    if not path.is_file():
        return False
    index = _Index(rows)
    baselines = {}
    mine = ranks(RECGURU, overlap, seed) if ranks is not None else None
    tests = (
        compute_tests([r for r in rows if r["overlap"] == overlap and r["model"] in models], ranks)
        if ranks is not None
        else []
    )
    for m in models:
        if m == RECGURU:
            continue
        a, b = index.rows.get((m, overlap, seed, "A")), index.rows.get((m, overlap, seed, "B"))
        if a is None or b is None:
            continue
        baselines[_display(m)] = {
            "test": {"A": dict(a["sampled"]), "B": dict(b["sampled"])},
            "test_full": {"A": dict(a["full"]), "B": dict(b["full"])},
        }
        paired = paired_intervals(mine, ranks(m, overlap, seed)) if ranks is not None else {}
        if paired:
            baselines[_display(m)]["paired"] = paired
        carried = tests_by_split([e for e in tests if e["baseline"] == m])
        if carried:
            baselines[_display(m)]["tests"] = carried
    ckpt = load_checkpoint(path)
    merged = {**(ckpt.get("baselines") or {}), **baselines}
    if ckpt.get("baselines") != merged:
        ckpt["baselines"] = merged
        save_checkpoint(path, ckpt)
    return True


def bootstrap_all(rows: list[dict], paths: BenchmarkPaths) -> list[dict]:
    """The bootstrap of every overlap in the file against every model that has rows there (not
    only this command's models): a later command with a subset of the models, e.g. the overlap
    ablation of the RecGURU family, must not narrow the comparison an earlier run made."""
    out = []
    for overlap in sorted({r["overlap"] for r in rows}, key=lambda o: (o is not None, o or 0.0)):
        here = {r["model"] for r in rows if r["overlap"] == overlap}
        models = [m for m in MODEL_NAMES if m in here]
        seeds = sorted({int(r["seed"]) for r in rows if r["overlap"] == overlap})
        out += compute_bootstrap(
            rows, models, [overlap], seeds, lambda m, o, s: load_ranks(paths.ranks(m, o, s))
        )
    return out


@dataclass
class BenchmarkResult:
    payload: dict
    markdown: str
    paths: BenchmarkPaths
    fitted: list[tuple] = field(default_factory=list)  # (model, overlap, seed) fitted this time


def run_benchmark(
    source: str,
    models: list[str],
    *,
    out,
    overlaps: list[float] | None = None,
    seeds: int | list[int] = 1,
    preset: str = "quick",
    overrides: dict | None = None,
    device=None,
    factory: Callable | None = None,
    loader: Callable | None = None,
    quiet: bool = False,
    log=None,
) -> BenchmarkResult:
    """Train and evaluate `models` for every overlap and seed (see the module docstring).

    factory(name, *, preset, overrides, out) -> Recommender (default `models.build_model`);
    loader(source_spec) -> CrossDomainData (default `sources.load_source`)."""
    import torch

    factory = factory or build_model
    if loader is None:
        from ..data.sources import load_source as loader
    log = log or sys.stderr
    device = device if device is not None else torch.device("cpu")
    seeds = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    overlap_list = [None] if overlaps is None else list(overlaps)
    models = list(models)
    if not models:
        raise RecGuruError("--models: no models given")
    paths = prepare_output(out)
    settings = settings_dict(source, preset, overrides)
    payload = load_or_start(paths, settings)
    done = finished_runs(payload["results"])
    fitted: list[tuple] = []
    missing_ckpt = []

    for overlap in overlap_list:
        data = None
        for seed in seeds:
            for name in models:
                key = (name, overlap, seed)
                if key in done:
                    continue
                if data is None:
                    data = loader(source_with_overlap(source, overlap))
                    payload["domains"] = {"A": data.a.name, "B": data.b.name}
                    payload["negatives"] = int(data.a.cfg.n_negatives)
                tag = f"{_display(name)} overlap={overlap_label(overlap)} seed={seed}"
                # RecGURU's checkpoint carries the baselines; the w_adv=0 control's is kept too, so
                # its alignment and validation metrics can be set beside RecGURU's.
                ckpt = str(paths.checkpoint(overlap, seed, name)) if name in CHECKPOINTED else None
                if ckpt is not None:
                    paths.dir.mkdir(parents=True, exist_ok=True)
                model = factory(name, preset=preset, overrides=overrides, out=ckpt)
                bar = _Progress(tag, quiet)
                t0 = time.perf_counter()
                try:
                    model.fit(data, device=device, seed=seed, progress=bar)
                finally:
                    bar.close()
                fit_s = time.perf_counter() - t0
                t1 = time.perf_counter()
                with torch.no_grad():
                    ranks = {
                        fam: {
                            d: model_ranks(model, data, i, "test", full_ranking=fam == "full")
                            for i, d in enumerate(DOMAIN_KEYS)
                        }
                        for fam in FAMILIES
                    }
                eval_s = time.perf_counter() - t1
                from ..metrics.ranking import metrics_from_ranks

                save_ranks(paths.ranks(name, overlap, seed), ranks)
                new_rows = [
                    {
                        "model": name,
                        "domain": d,
                        "overlap": overlap,
                        "seed": seed,
                        "seconds": round(fit_s, 3),
                        "sampled": metrics_from_ranks(ranks["sampled"][d]),
                        "full": metrics_from_ranks(ranks["full"][d]),
                    }
                    for d in DOMAIN_KEYS
                ]
                payload["results"] = [r for r in payload["results"] if _key(r) != key] + new_rows
                write_json_atomic(paths.json, payload)
                done.add(key)
                fitted.append(key)
                parts = getattr(model, "phase_seconds", dict)()  # the RecGURU family's phases
                split = " (" + ", ".join(f"{k} {v:.1f}" for k, v in parts.items() if v) + ")" if parts else ""
                print(
                    f"{tag}: fit {fit_s:.1f} s{split}, eval {eval_s:.1f} s; sampled NDCG@10 "
                    f"A {new_rows[0]['sampled']['NDCG@10']:.4f} B {new_rows[1]['sampled']['NDCG@10']:.4f}",
                    file=log,
                    flush=True,
                )
                del model
                gc.collect()
                if device.type == "cuda":
                    torch.cuda.empty_cache()
            if RECGURU in models and all((m, overlap, seed) in done for m in models):
                ckpt_path = paths.checkpoint(overlap, seed)
                if not attach_baselines(
                    ckpt_path,
                    payload["results"],
                    models,
                    overlap,
                    seed,
                    lambda m, o, s: load_ranks(paths.ranks(m, o, s)),
                ):
                    missing_ckpt.append(str(ckpt_path))
        del data
    if missing_ckpt:
        print(f"note: no RecGURU checkpoint at {', '.join(missing_ckpt)}; baselines not attached", file=log)

    payload["bootstrap"] = bootstrap_all(payload["results"], paths)
    payload["tests"] = compute_tests(payload["results"], lambda m, o, s: load_ranks(paths.ranks(m, o, s)))
    write_json_atomic(paths.json, payload)
    markdown = format_markdown(payload, models=models, overlaps=overlap_list, seeds=seeds)
    write_text_atomic(paths.md, markdown)
    return BenchmarkResult(payload, markdown, paths, fitted)
