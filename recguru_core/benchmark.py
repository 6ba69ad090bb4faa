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
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .atomic import atomic_write
from .errors import RecGuruError
from .evaluation import METRIC_NAMES, metric_contributions

FORMAT = "recguru-benchmark"
VERSION = 1
FAMILIES = ("sampled", "full")
CHECKPOINTED = ("recguru", "recguru_noadv")
DOMAIN_KEYS = ("A", "B")
RECGURU = "recguru"
N_BOOT = 1000
BOOT_SEED = 0


# --- argument parsing (pure; RecGuruError with one line) -------------------------------------

def parse_overlaps(text: str | None) -> list[float] | None:
    """'0.1,0.3' -> [0.1, 0.3]; None -> None (natural overlap). Each ratio must be in [0, 1]."""
    if text is None:
        return None
    tokens = [t.strip() for t in str(text).split(",") if t.strip()]
    if not tokens:
        raise RecGuruError(f"--overlap {text!r}: expected a comma-separated list of ratios in [0, 1], "
                           "e.g. 0.1,0.3,0.5,0.75")
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
    if n < 1:
        raise RecGuruError(f"--seeds {value!r}: expected a whole number >= 1")
    return list(range(n))


def overlap_label(overlap: float | None) -> str:
    return "natural" if overlap is None else f"{overlap:g}"


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
        raise RecGuruError(f"--out {out}: the results file must not end in {path.suffix} "
                           "(that name is used for the tables / side files); use results.json")
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test.", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise RecGuruError(f"--out {out}: cannot write to directory {parent} "
                           f"({exc.strerror or type(exc).__name__})") from None
    stem = path.with_suffix("") if path.suffix else path
    return BenchmarkPaths(json=path, md=stem.with_name(stem.name + ".md"),
                          dir=stem.with_name(stem.name + ".d"))


# --- atomic files --------------------------------------------------------------------------

def write_json_atomic(path: Path, payload: dict) -> None:
    text = json.dumps(payload, indent=1)
    atomic_write(Path(path), lambda f: f.write(text.encode()))


def write_text_atomic(path: Path, text: str) -> None:
    atomic_write(Path(path), lambda f: f.write(text.encode()))


def save_ranks(path: Path, ranks: dict[str, dict[str, np.ndarray]]) -> None:
    arrays = {f"{fam}_{d}": np.asarray(ranks[fam][d], dtype=np.int64)
              for fam in FAMILIES for d in DOMAIN_KEYS}
    atomic_write(Path(path), lambda f: np.savez(f, **arrays))


def load_ranks(path: Path) -> dict[str, dict[str, np.ndarray]] | None:
    """The sidecar of one (model, overlap, seed), or None when it is missing or unreadable."""
    try:
        with np.load(path) as z:
            return {fam: {d: z[f"{fam}_{d}"] for d in DOMAIN_KEYS} for fam in FAMILIES}
    except (OSError, KeyError, ValueError):
        return None


def settings_dict(source: str, preset: str, overrides: dict | None) -> dict:
    return {"source": source.strip(), "preset": str(preset),
            "overrides": {str(k): str(v) for k, v in (overrides or {}).items()}}


def load_or_start(paths: BenchmarkPaths, settings: dict) -> dict:
    """The stored payload of --out (refusing other settings), or a fresh one."""
    fresh = {"format": FORMAT, "version": VERSION, "settings": settings, "domains": {},
             "negatives": None, "results": [], "bootstrap": []}
    if not paths.json.exists():
        return fresh
    try:
        payload = json.loads(paths.json.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecGuruError(f"{paths.json}: exists but is not a readable benchmark results file "
                           f"({type(exc).__name__}); use another --out or delete it") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT \
            or not isinstance(payload.get("results"), list):
        raise RecGuruError(f"{paths.json}: exists but is not a benchmark results file "
                           f"(missing format {FORMAT!r}); use another --out or delete it")
    stored = payload.get("settings") or {}
    for key in ("source", "preset", "overrides"):
        if stored.get(key) != settings[key]:
            raise RecGuruError(
                f"{paths.json} holds a benchmark with other settings ({key}: stored "
                f"{stored.get(key)!r}, now {settings[key]!r}); use another --out or delete it")
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


# --- statistics ----------------------------------------------------------------------------

def paired_bootstrap(diff: np.ndarray, n_boot: int = N_BOOT, seed: int = BOOT_SEED):
    """Paired differences (n,) or (n, m) -> (mean, 2.5 %, 97.5 %) of the resampled means."""
    diff = np.asarray(diff, dtype=np.float64)
    n = len(diff)
    if n == 0:
        nan = np.full(diff.shape[1:], np.nan)
        return nan, nan, nan
    rng = np.random.default_rng(seed)
    means = np.empty((n_boot,) + diff.shape[1:])
    for b in range(n_boot):
        counts = np.bincount(rng.integers(0, n, size=n), minlength=n)
        means[b] = counts @ diff / n
    low, high = np.percentile(means, [2.5, 97.5], axis=0)
    return diff.mean(axis=0), low, high


class _Index:
    """Rows by (model, overlap, seed, domain)."""

    def __init__(self, rows: Iterable[dict]):
        self.rows = {(r["model"], r["overlap"], int(r["seed"]), r["domain"]): r for r in rows}

    def values(self, model, overlap, seeds, family, domain, metric) -> list[float]:
        out = []
        for s in seeds:
            row = self.rows.get((model, overlap, s, domain))
            if row is not None and metric in row.get(family, {}):
                out.append(float(row[family][metric]))
        return out

    def mean(self, *args) -> float:
        v = [x for x in self.values(*args) if math.isfinite(x)]
        return float(np.mean(v)) if v else float("nan")


def best_baseline(index: _Index, models, overlap, seeds, family, domain, metric) -> str | None:
    best, best_mean = None, -math.inf
    for m in models:
        if m == RECGURU:
            continue
        mean = index.mean(m, overlap, seeds, family, domain, metric)
        if math.isfinite(mean) and mean > best_mean:
            best, best_mean = m, mean
    return best


RanksLookup = Callable[[str, "float | None", int], "dict | None"]


def compute_bootstrap(rows: list[dict], models: list[str], overlaps: list, seeds: list[int],
                      ranks: RanksLookup, n_boot: int = N_BOOT, seed: int = BOOT_SEED) -> list[dict]:
    """One entry per (family, overlap, domain, metric): recguru minus the best baseline."""
    if RECGURU not in models or len(models) < 2:
        return []
    index = _Index(rows)
    cache: dict[tuple, dict | None] = {}

    def get(model, overlap, s):
        key = (model, overlap, s)
        if key not in cache:
            cache[key] = ranks(model, overlap, s)
        return cache[key]

    out = []
    for family in FAMILIES:
        for overlap in overlaps:
            for domain in DOMAIN_KEYS:
                best = {m: best_baseline(index, models, overlap, seeds, family, domain, m)
                        for m in METRIC_NAMES}
                if any(b is None for b in best.values()):
                    continue
                chosen = sorted(set(best.values()))
                parts = []
                for s in seeds:
                    rec = get(RECGURU, overlap, s)
                    bases = {b: get(b, overlap, s) for b in chosen}
                    if rec is None or any(v is None for v in bases.values()):
                        continue
                    r_rec = rec[family][domain]
                    if any(len(v[family][domain]) != len(r_rec) for v in bases.values()):
                        continue  # not the same users: cannot pair
                    c_rec = metric_contributions(r_rec)
                    c_base = {b: metric_contributions(v[family][domain]) for b, v in bases.items()}
                    parts.append(np.stack([c_rec[:, j] - c_base[best[m]][:, j]
                                           for j, m in enumerate(METRIC_NAMES)], axis=1))
                diff = np.concatenate(parts) if parts else np.zeros((0, len(METRIC_NAMES)))
                mean, low, high = paired_bootstrap(diff, n_boot=n_boot, seed=seed)
                for j, m in enumerate(METRIC_NAMES):
                    if parts:
                        d, lo, hi = float(mean[j]), float(low[j]), float(high[j])
                    else:  # no per-user ranks: the difference of means only, no interval
                        d = (index.mean(RECGURU, overlap, seeds, family, domain, m)
                             - index.mean(best[m], overlap, seeds, family, domain, m))
                        lo = hi = None
                    out.append({"family": family, "overlap": overlap, "domain": domain,
                                "metric": m, "baseline": best[m], "diff": d, "low": lo,
                                "high": hi, "n": int(len(diff))})
    return out


# --- Markdown ------------------------------------------------------------------------------

FAMILY_TITLES = {
    "sampled": "Sampled ranking (1 true item + {neg} sampled negatives)",
    "full": "Full ranking (all items, the user's known items excluded)",
}


def _display(name: str) -> str:
    from .recommender import DISPLAY_NAMES

    return DISPLAY_NAMES.get(name, name)


def _cell(values: list[float]) -> str:
    values = [v for v in values if math.isfinite(v)]
    if not values:
        return "–"
    mean = 100.0 * float(np.mean(values))
    if len(values) == 1:
        return f"{mean:.2f}"
    return f"{mean:.2f} ± {100.0 * float(np.std(values, ddof=1)):.2f}"


def _row_cells(index: _Index, models, overlap, seeds, family, domain, metric) -> list[str]:
    means = [index.mean(m, overlap, seeds, family, domain, metric) for m in models]
    finite = [x for x in means if math.isfinite(x)]
    top = max(finite) if finite else None
    cells = []
    for m, mean in zip(models, means):
        text = _cell(index.values(m, overlap, seeds, family, domain, metric))
        if top is not None and math.isfinite(mean) and math.isclose(mean, top, rel_tol=0, abs_tol=1e-12):
            text = f"**{text}**"
        cells.append(text)
    return cells


def _delta_cell(entry: dict | None) -> str:
    if entry is None or entry["diff"] is None or not math.isfinite(entry["diff"]):
        return "–"
    text = f"{100 * entry['diff']:+.2f}"
    if entry["low"] is not None:
        text += f" [{100 * entry['low']:+.2f}, {100 * entry['high']:+.2f}]"
    return f"{text} vs {_display(entry['baseline'])}"


def _table(header: list[str], body: list[list[str]], left: int = 2) -> list[str]:
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join(["---"] * left + ["---:"] * (len(header) - left)) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    return lines


def format_markdown(payload: dict, *, models: list[str] | None = None,
                    overlaps: list | None = None, seeds: list[int] | None = None) -> str:
    """Table 2 per metric family and overlap (rows: domain x metric; columns: models; percent,
    mean ± sample std over seeds, best mean per row in bold; a column with recguru minus the best
    baseline and its bootstrap interval), a Table-3-style block when there are several overlaps,
    and the fit seconds. Defaults: every model / overlap / seed found in the rows."""
    from .recommender import MODEL_NAMES

    rows = payload.get("results", [])
    index = _Index(rows)
    if models is None:
        found = {r["model"] for r in rows}
        models = [m for m in MODEL_NAMES if m in found] + sorted(found - set(MODEL_NAMES))
    if overlaps is None:
        found_o = {r["overlap"] for r in rows}
        overlaps = ([None] if None in found_o else []) + sorted(o for o in found_o if o is not None)
    if seeds is None:
        seeds = sorted({int(r["seed"]) for r in rows})
    boot = {(b["family"], b["overlap"], b["domain"], b["metric"]): b
            for b in payload.get("bootstrap", [])}
    names = payload.get("domains") or {}
    settings = payload.get("settings") or {}
    neg = payload.get("negatives")
    with_delta = RECGURU in models and len(models) > 1

    def domain_label(d):
        return f"{d} ({names[d]})" if names.get(d) else d

    overrides = settings.get("overrides") or {}
    lines = ["# RecGURU benchmark", "",
             f"Source `{settings.get('source', '?')}`, preset `{settings.get('preset', '?')}`, "
             f"overrides {' '.join(f'`{k}={v}`' for k, v in overrides.items()) or 'none'}; "
             f"split test; seeds {', '.join(map(str, seeds))}.",
             "",
             "Values in %: mean ± sample std over seeds (one seed: the value); bold: best mean in "
             "the row."]
    if with_delta:
        lines.append(
            f"Δ: {_display(RECGURU)} minus the best baseline (highest mean among the other models "
            f"of the run; {_display('recguru_noadv')} counts as a baseline), in percentage "
            "points, with a paired bootstrap 95 % interval (per-user differences on the same "
            f"users and seed, pooled over seeds, {N_BOOT} resamples).")
    lines.append("")
    for family in FAMILIES:
        title = FAMILY_TITLES[family].format(neg=neg if neg is not None else "the data's fixed")
        lines += [f"## {title}", ""]
        for overlap in overlaps:
            lines += [f"### Overlap {overlap_label(overlap)}", ""]
            header = ["Domain", "Metric"] + [_display(m) for m in models]
            if with_delta:
                header.append(f"Δ {_display(RECGURU)} − best (95 % CI)")
            body = []
            for d in DOMAIN_KEYS:
                for metric in METRIC_NAMES:
                    cells = [domain_label(d), metric] + _row_cells(index, models, overlap, seeds,
                                                                    family, d, metric)
                    if with_delta:
                        cells.append(_delta_cell(boot.get((family, overlap, d, metric))))
                    body.append(cells)
            lines += _table(header, body) + [""]
        if len(overlaps) > 1:
            lines += [f"### Overlap ablation (Table 3 style): {family}", ""]
            header = ["Domain", "Metric"] + [f"{overlap_label(o)} · {_display(m)}"
                                             for o in overlaps for m in models]
            body = []
            for d in DOMAIN_KEYS:
                for metric in METRIC_NAMES:
                    cells = [domain_label(d), metric]
                    for o in overlaps:
                        cells += _row_cells(index, models, o, seeds, family, d, metric)
                    body.append(cells)
            lines += _table(header, body) + [""]
    lines += ["## Fit seconds (mean over seeds)", ""]
    header = ["Model"] + [f"overlap {overlap_label(o)}" for o in overlaps]
    body = []
    for m in models:
        cells = [_display(m)]
        for o in overlaps:
            secs = [float(r["seconds"]) for s in seeds
                    if (r := index.rows.get((m, o, s, "A"))) is not None]
            cells.append(f"{np.mean(secs):.1f}" if secs else "–")
        body.append(cells)
    lines += _table(header, body, left=1)
    return "\n".join(lines) + "\n"


# --- the run -------------------------------------------------------------------------------

class _Progress:
    """fit's progress callback -> one tqdm bar on stderr, created on the first call."""

    def __init__(self, desc: str, quiet: bool):
        self.desc, self.quiet, self.bar = desc, quiet, None

    def __call__(self, done: int, total: int, message: str = "") -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.desc, file=sys.stderr, disable=self.quiet,
                            dynamic_ncols=True, leave=False)
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


def attach_baselines(path: Path, rows: list[dict], models: list[str], overlap, seed: int) -> bool:
    """Store the other models' test metrics of (overlap, seed) in the RecGURU checkpoint under
    `baselines` (the shape of its `metrics`: {"test"|"test_full": {"A", "B"}}). False if the
    checkpoint does not exist."""
    from .checkpoints import load_checkpoint, save_checkpoint

    if not path.is_file():
        return False
    index = _Index(rows)
    baselines = {}
    for m in models:
        if m == RECGURU:
            continue
        a, b = index.rows.get((m, overlap, seed, "A")), index.rows.get((m, overlap, seed, "B"))
        if a is None or b is None:
            continue
        baselines[_display(m)] = {"test": {"A": dict(a["sampled"]), "B": dict(b["sampled"])},
                                  "test_full": {"A": dict(a["full"]), "B": dict(b["full"])}}
    ckpt = load_checkpoint(path)
    merged = {**(ckpt.get("baselines") or {}), **baselines}
    if ckpt.get("baselines") != merged:
        ckpt["baselines"] = merged
        save_checkpoint(path, ckpt)
    return True


@dataclass
class BenchmarkResult:
    payload: dict
    markdown: str
    paths: BenchmarkPaths
    fitted: list[tuple] = field(default_factory=list)  # (model, overlap, seed) fitted this time


def run_benchmark(source: str, models: list[str], *, out, overlaps: list[float] | None = None,
                  seeds: int | list[int] = 1, preset: str = "quick", overrides: dict | None = None,
                  device=None, factory: Callable | None = None, loader: Callable | None = None,
                  quiet: bool = False, log=None) -> BenchmarkResult:
    """Train and evaluate `models` for every overlap and seed (see the module docstring).

    factory(name, *, preset, overrides, out) -> Recommender (default `recommender.build_model`);
    loader(source_spec) -> CrossDomainData (default `sources.load_source`)."""
    import torch

    from .recommender import build_model, model_ranks

    factory = factory or build_model
    if loader is None:
        from .sources import load_source as loader
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
                    ranks = {fam: {d: model_ranks(model, data, i, "test", full_ranking=fam == "full")
                                   for i, d in enumerate(DOMAIN_KEYS)} for fam in FAMILIES}
                eval_s = time.perf_counter() - t1
                from .evaluation import metrics_from_ranks

                save_ranks(paths.ranks(name, overlap, seed), ranks)
                new_rows = [{"model": name, "domain": d, "overlap": overlap, "seed": seed,
                             "seconds": round(fit_s, 3),
                             "sampled": metrics_from_ranks(ranks["sampled"][d]),
                             "full": metrics_from_ranks(ranks["full"][d])} for d in DOMAIN_KEYS]
                payload["results"] = [r for r in payload["results"] if _key(r) != key] + new_rows
                write_json_atomic(paths.json, payload)
                done.add(key)
                fitted.append(key)
                print(f"{tag}: fit {fit_s:.1f} s, eval {eval_s:.1f} s; sampled NDCG@10 "
                      f"A {new_rows[0]['sampled']['NDCG@10']:.4f} B {new_rows[1]['sampled']['NDCG@10']:.4f}",
                      file=log, flush=True)
                del model
                gc.collect()
                if device.type == "cuda":
                    torch.cuda.empty_cache()
            if RECGURU in models and all((m, overlap, seed) in done for m in models):
                ckpt_path = paths.checkpoint(overlap, seed)
                if not attach_baselines(ckpt_path, payload["results"], models, overlap, seed):
                    missing_ckpt.append(str(ckpt_path))
        del data
    if missing_ckpt:
        print(f"note: no RecGURU checkpoint at {', '.join(missing_ckpt)}; baselines not attached",
              file=log)

    payload["bootstrap"] = compute_bootstrap(
        payload["results"], models, overlap_list, seeds,
        lambda m, o, s: load_ranks(paths.ranks(m, o, s)))
    write_json_atomic(paths.json, payload)
    markdown = format_markdown(payload, models=models, overlaps=overlap_list, seeds=seeds)
    write_text_atomic(paths.md, markdown)
    return BenchmarkResult(payload, markdown, paths, fitted)
