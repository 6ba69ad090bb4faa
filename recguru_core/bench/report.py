"""The benchmark's report: the paired bootstrap of RecGURU minus the best baseline, and the
paper-style Markdown tables (Table 2 per overlap, Table 3 across overlaps, fit seconds) built
from the rows of results.json. Pure functions of those rows (and the per-user rank files)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import numpy as np

from ..common.errors import RecGuruError
from ..data.protocol import overlap_label, protocol_line
from ..metrics.ranking import METRIC_NAMES, N_BOOT, metric_contributions, paired_bootstrap
from ..metrics.significance import ALPHA, TEST_METRICS, significant
from .registry import DISPLAY_NAMES, MODEL_NAMES

FAMILIES = ("sampled", "full")
DOMAIN_KEYS = ("A", "B")
RECGURU = "recguru"
BOOT_SEED = 0


# --- validation ----------------------------------------------------------------------------


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _row_problem(row) -> str | None:
    """What is wrong with one `results` row, in words (None: nothing)."""
    if not isinstance(row, dict):
        return f"is a {type(row).__name__}, expected an object"
    if not isinstance(row.get("model"), str) or not row["model"]:
        return "has no 'model' name"
    if row.get("domain") not in DOMAIN_KEYS:
        return f"'domain' is {row.get('domain')!r}, expected A or B"
    overlap = row.get("overlap")
    if overlap is not None and not (_number(overlap) and 0 <= overlap <= 1):
        return f"'overlap' is {overlap!r}, expected null or a number in [0, 1]"
    seed = row.get("seed")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        return f"'seed' is {seed!r}, expected a whole number >= 0"
    if not _number(row.get("seconds")):
        return f"'seconds' is {row.get('seconds')!r}, expected a number"
    for family in FAMILIES:
        values = row.get(family)
        if not isinstance(values, dict):
            return f"'{family}' is {type(values).__name__}, expected an object of metrics"
        bad = [k for k, v in values.items() if not isinstance(k, str) or not _number(v)]
        if bad:
            return f"'{family}' metric {bad[0]!r} is {values[bad[0]]!r}, expected a number"
    return None


def _bootstrap_problem(entry) -> str | None:
    if not isinstance(entry, dict):
        return f"is a {type(entry).__name__}, expected an object"
    if (
        entry.get("family") not in FAMILIES
        or entry.get("domain") not in DOMAIN_KEYS
        or not isinstance(entry.get("metric"), str)
    ):
        return "lacks a valid family, domain or metric"
    for key in ("diff", "low", "high"):
        if entry.get(key) is not None and not _number(entry.get(key)):
            return f"{key!r} is {entry.get(key)!r}, expected a number or null"
    if entry.get("diff") is not None and not isinstance(entry.get("baseline"), str):
        return "has a difference but no 'baseline' name"
    return None


def _test_problem(entry) -> str | None:
    if not isinstance(entry, dict):
        return f"is a {type(entry).__name__}, expected an object"
    if entry.get("family") not in FAMILIES or entry.get("domain") not in DOMAIN_KEYS:
        return "lacks a valid family or domain"
    if not all(isinstance(entry.get(k), str) for k in ("baseline", "metric", "test")):
        return "lacks a 'baseline', 'metric' or 'test' name"
    for key in ("p", "p_holm", "diff", "statistic"):
        if entry.get(key) is not None and not _number(entry.get(key)):
            return f"{key!r} is {entry.get(key)!r}, expected a number or null"
    return None


def check_results(payload: dict, name: str) -> dict:
    """Every row of a loaded results file, checked before anything reads it: raises one
    RecGuruError line naming the file, the list and the row (1-based) at fault."""
    for key, problem in (
        ("results", _row_problem),
        ("bootstrap", _bootstrap_problem),
        ("tests", _test_problem),
    ):
        rows = payload.get(key, [])
        if not isinstance(rows, list):
            raise RecGuruError(f"{name}: '{key}' is a {type(rows).__name__}, expected a list")
        for i, row in enumerate(rows, 1):
            why = problem(row)
            if why:
                raise RecGuruError(
                    f"{name}: {key} row {i} {why}; fix or remove that row (or use another --out)"
                )
    for key in ("settings", "domains"):
        if payload.get(key) is not None and not isinstance(payload[key], dict):
            raise RecGuruError(f"{name}: '{key}' is a {type(payload[key]).__name__}, expected an object")
    if payload.get("negatives") is not None and not isinstance(payload["negatives"], int):
        raise RecGuruError(f"{name}: 'negatives' is {payload['negatives']!r}, expected a whole number")
    return payload


# --- statistics ----------------------------------------------------------------------------


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


def compute_bootstrap(
    rows: list[dict],
    models: list[str],
    overlaps: list,
    seeds: list[int],
    ranks: RanksLookup,
    n_boot: int = N_BOOT,
    seed: int = BOOT_SEED,
) -> list[dict]:
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
                best = {
                    m: best_baseline(index, models, overlap, seeds, family, domain, m) for m in METRIC_NAMES
                }
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
                    parts.append(
                        np.stack(
                            [c_rec[:, j] - c_base[best[m]][:, j] for j, m in enumerate(METRIC_NAMES)], axis=1
                        )
                    )
                diff = np.concatenate(parts) if parts else np.zeros((0, len(METRIC_NAMES)))
                mean, low, high = paired_bootstrap(diff, n_boot=n_boot, seed=seed)
                for j, m in enumerate(METRIC_NAMES):
                    if parts:
                        d, lo, hi = float(mean[j]), float(low[j]), float(high[j])
                    else:  # no per-user ranks: the difference of means only, no interval
                        d = index.mean(RECGURU, overlap, seeds, family, domain, m) - index.mean(
                            best[m], overlap, seeds, family, domain, m
                        )
                        lo = hi = None
                    out.append(
                        {
                            "family": family,
                            "overlap": overlap,
                            "domain": domain,
                            "metric": m,
                            "baseline": best[m],
                            "diff": d,
                            "low": lo,
                            "high": hi,
                            "n": int(len(diff)),
                        }
                    )
    return out


# --- Markdown ------------------------------------------------------------------------------

FAMILY_TITLES = {
    "sampled": "Sampled ranking (1 true item + {neg} sampled negatives)",
    "full": "Full ranking (all items, the user's known items excluded)",
}


def _display(name: str) -> str:
    return DISPLAY_NAMES.get(name, name)


def _cell(values: list[float]) -> str:
    values = [v for v in values if math.isfinite(v)]
    if not values:
        return "–"
    mean = 100.0 * float(np.mean(values))
    if len(values) == 1:
        return f"{mean:.2f}"
    return f"{mean:.2f} ± {100.0 * float(np.std(values, ddof=1)):.2f}"


def _row_cells(index: _Index, models, overlap, seeds, family, domain, metric, marks=None) -> list[str]:
    """marks: {model: +1/-1} from the paired tests (RecGURU significantly better / worse than
    that model), drawn as ▲ / ▼ after the model's cell."""
    means = [index.mean(m, overlap, seeds, family, domain, metric) for m in models]
    finite = [x for x in means if math.isfinite(x)]
    top = max(finite) if finite else None
    cells = []
    for m, mean in zip(models, means):
        text = _cell(index.values(m, overlap, seeds, family, domain, metric))
        if top is not None and math.isfinite(mean) and math.isclose(mean, top, rel_tol=0, abs_tol=1e-12):
            text = f"**{text}**"
        mark = (marks or {}).get(m, 0)
        cells.append(text + (" ▲" if mark > 0 else " ▼" if mark < 0 else ""))
    return cells


def _p_cell(entry: dict | None) -> str:
    if not entry or entry.get("p") is None:
        return "–"
    star = " *" if significant(entry) else ""
    return f"{entry['p']:.2g} ({entry['p_holm']:.2g}){star}"


def _tests_block(tests: list[dict], family: str, overlap, models: list[str]) -> list[str]:
    """One row per baseline, domain and metric: Δ, Wilcoxon and paired-t p (Holm-adjusted)."""
    by = {
        (e["baseline"], e["domain"], e["metric"], e["test"]): e
        for e in tests
        if e["family"] == family and e["overlap"] == overlap
    }
    if not by:
        return []
    body = []
    for baseline in [m for m in models if m != RECGURU]:
        for d in DOMAIN_KEYS:
            for metric in TEST_METRICS:
                w, t = by.get((baseline, d, metric, "wilcoxon")), by.get((baseline, d, metric, "paired_t"))
                if w is None and t is None:
                    continue
                e = w or t
                diff = f"{100 * e['diff']:+.2f}" if e.get("diff") is not None else "–"
                body.append(
                    [
                        _display(baseline),
                        d,
                        metric,
                        diff,
                        _p_cell(w),
                        _p_cell(t),
                        str(e["n_users"]),
                        str(e["seeds"]),
                    ]
                )
    if not body:
        return []
    header = [
        "Baseline",
        "Domain",
        "Metric",
        f"Δ {_display(RECGURU)} − baseline",
        "Wilcoxon p (Holm)",
        "paired t p (Holm)",
        "users",
        "seeds",
    ]
    return (
        [
            f"Paired tests, {_display(RECGURU)} vs each model (per-user values averaged over "
            f"seeds; Holm over the {len(by) // 2} comparisons of this table per test; "
            f"* = p_holm < {ALPHA}):",
            "",
        ]
        + _table(header, body, left=3)
        + [""]
    )


def _delta_cell(entry: dict | None) -> str:
    if entry is None or entry["diff"] is None or not math.isfinite(entry["diff"]):
        return "–"
    text = f"{100 * entry['diff']:+.2f}"
    if entry["low"] is not None:
        text += f" [{100 * entry['low']:+.2f}, {100 * entry['high']:+.2f}]"
    return f"{text} vs {_display(entry['baseline'])}"


def _table(header: list[str], body: list[list[str]], left: int = 2) -> list[str]:
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] * left + ["---:"] * (len(header) - left)) + "|",
    ]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    return lines


def format_markdown(
    payload: dict,
    *,
    models: list[str] | None = None,
    overlaps: list | None = None,
    seeds: list[int] | None = None,
) -> str:
    """Table 2 per metric family and overlap (rows: domain x metric; columns: models; percent,
    mean ± sample std over seeds, best mean per row in bold; a column with recguru minus the best
    baseline and its bootstrap interval), a Table-3-style block when there are several overlaps,
    and the fit seconds. Defaults: every model / overlap / seed found in the rows."""
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
    boot = {(b["family"], b["overlap"], b["domain"], b["metric"]): b for b in payload.get("bootstrap", [])}
    tests = payload.get("tests") or []
    marks: dict[tuple, dict] = {}  # (family, overlap, domain, metric) -> {baseline: +1/-1}
    for e in tests:
        if e["test"] == "wilcoxon" and significant(e):
            key = (e["family"], e["overlap"], e["domain"], e["metric"])
            marks.setdefault(key, {})[e["baseline"]] = significant(e)
    names = payload.get("domains") or {}
    settings = payload.get("settings") or {}
    neg = payload.get("negatives")
    with_delta = RECGURU in models and len(models) > 1

    def domain_label(d):
        return f"{d} ({names[d]})" if names.get(d) else d

    overrides = settings.get("overrides") or {}
    lines = [
        "# RecGURU benchmark",
        "",
        f"Source `{settings.get('source', '?')}`, preset `{settings.get('preset', '?')}`, "
        f"overrides {' '.join(f'`{k}={v}`' for k, v in overrides.items()) or 'none'}; "
        f"split test; seeds {', '.join(map(str, seeds))}.",
        "",
        "Values in %: mean ± sample std over seeds (one seed: the value); bold: best mean in the row.",
    ]
    if with_delta:
        lines.append(
            f"Δ: {_display(RECGURU)} minus the best baseline (highest mean among the other models "
            f"of the run; {_display('recguru_noadv')} counts as a baseline), in percentage "
            "points, with a paired bootstrap 95 % interval (per-user differences on the same "
            f"users and seed, pooled over seeds, {N_BOOT} resamples)."
        )
    if tests:
        lines.append(
            f"▲ / ▼ after a model's HR@10 or NDCG@10: {_display(RECGURU)} is significantly better / "
            f"worse than that model (Wilcoxon signed-rank on per-user values, Holm-corrected, "
            f"p < {ALPHA}); the paired tests follow each table."
        )
    lines.append("")
    for family in FAMILIES:
        title = FAMILY_TITLES[family].format(neg=neg if neg is not None else "the data's fixed")
        lines += [f"## {title}", ""]
        for overlap in overlaps:
            lines += [
                f"### Overlap {overlap_label(overlap)}",
                "",
                protocol_line(settings.get("source", ""), neg, overlap, seeds),
                "",
            ]
            header = ["Domain", "Metric"] + [_display(m) for m in models]
            if with_delta:
                header.append(f"Δ {_display(RECGURU)} − best (95 % CI)")
            body = []
            for d in DOMAIN_KEYS:
                for metric in METRIC_NAMES:
                    cells = [domain_label(d), metric] + _row_cells(
                        index,
                        models,
                        overlap,
                        seeds,
                        family,
                        d,
                        metric,
                        marks.get((family, overlap, d, metric)),
                    )
                    if with_delta:
                        cells.append(_delta_cell(boot.get((family, overlap, d, metric))))
                    body.append(cells)
            lines += _table(header, body) + [""]
            lines += _tests_block(tests, family, overlap, models)
        if len(overlaps) > 1:
            lines += [
                f"### Overlap ablation (Table 3 style): {family}",
                "",
                protocol_line(settings.get("source", ""), neg, list(overlaps), seeds),
                "",
            ]
            header = ["Domain", "Metric"] + [
                f"{overlap_label(o)} · {_display(m)}" for o in overlaps for m in models
            ]
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
            secs = [float(r["seconds"]) for s in seeds if (r := index.rows.get((m, o, s, "A"))) is not None]
            cells.append(f"{np.mean(secs):.1f}" if secs else "–")
        body.append(cells)
    lines += _table(header, body, left=1)
    return "\n".join(lines) + "\n"
