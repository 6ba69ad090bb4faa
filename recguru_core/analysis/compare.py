"""Comparing runs of the same data: a data fingerprint, and one layout frame for several runs.

Two runs can only be compared number for number when they saw the same users, items and
sequences (hence the same leave-one-out split): `fingerprint.data_fingerprint` says whether
they did, `check_same_data` refuses the ones that did not.

`comparison_layouts` puts the GURs of several runs in one picture. The runs' 64-d spaces are
unrelated coordinate systems (each encoder learns its own axes), so a PCA or UMAP fitted on the
union of their vectors would place run A's users next to run B's by accident of coordinates,
not of meaning. Instead each run is laid out on its own - the same users, the same seed, the
same method - and every layout is then moved onto the first run's by the best rotation or
reflection, uniform scale and shift over the shared users (orthogonal Procrustes). A similarity
transform keeps each run's picture as it is (distances up to one scale, neighbourhoods,
mixing), it only removes the orientation that the layout algorithm chose arbitrarily, so the
panels share one frame and axis range and a user sits roughly where the same user sits in the
other run whenever the runs agree.

The side-by-side tables (`comparison_tables`: evaluation metrics, alignment after the
adversarial phase; `compare_runs` adds the training summary) are plain rows, so the app's
Compare page and `python -m recguru_core compare` show the same numbers from one function.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..common.errors import RecGuruError
from ..common.rules import ALIGNMENT_N_MAX, unique_labels  # noqa: F401  (compare_runs' callers)
from ..data.fingerprint import data_difference, data_fingerprint
from ..metrics.ranking import METRIC_NAMES
from ..train.snapshots import to_numpy
from .alignment import compare_snapshots, partner_rows, sample_rows
from .projection import procrustes_align, project_snapshots

COMPARISON_METHODS = ("stored", "pca", "umap")


def _keys(snap: dict, rows: np.ndarray | None = None) -> list[tuple[int, str]]:
    domain = to_numpy(snap["domain"], np.int64)
    users = snap.get("user")
    if users is None or len(users) != len(domain):
        raise RecGuruError("a snapshot without user ids cannot be matched across runs")
    rows = np.arange(len(domain)) if rows is None else to_numpy(rows, np.int64)
    return [(int(domain[r]), str(users[r])) for r in rows]


def _shared_order(keys_per_run: Sequence[list[tuple[int, str]]]) -> list[tuple[int, str]]:
    shared = set(keys_per_run[0])
    for keys in keys_per_run[1:]:
        shared &= set(keys)
    return sorted(shared)


def comparison_layouts(
    snapshots: Sequence[dict],
    projections: Sequence[dict | None] = (),
    *,
    method: str = "pca",
    n_users: int = 5000,
    seed: int = 0,
) -> dict:
    """2-d layouts of the 'after' GURs of several runs, for the users they share, in the first
    run's frame (see the module docstring).

    snapshots: each run's `snapshots` section; projections: each run's stored `projections`
    (used by method="stored": the layouts the runs carry, restricted to the users all of them
    laid out). method "pca" or "umap" lays out each run afresh (UMAP: a seeded single fit, tens
    of seconds). The user sample (at most n_users points, domain-stratified, an overlapped
    user's A and B points together) is drawn once from the shared users with `seed`.

    Returns plain numpy data: {"method", "seed", "user": [str], "domain": (m,) int64,
    "overlap": (m,) bool, "cluster": (m,) int64 or None, "layouts": [(m, 2) float32 per run],
    "n_shared": shared users before sampling, "residual": per run, the root-mean-square
    distance to the first run's layout after alignment, relative to that layout's spread
    (0 = the same picture up to turning; 1 = nothing in common)}."""
    if method not in COMPARISON_METHODS:
        raise RecGuruError(f"unknown layout {method!r}; choose one of {', '.join(COMPARISON_METHODS)}")
    if len(snapshots) < 2:
        raise RecGuruError("pick at least two runs to compare")
    afters = [(s or {}).get("after") for s in snapshots]
    if any(a is None for a in afters):
        raise RecGuruError("every run needs an 'after' snapshot (the end of the adversarial phase)")
    if method == "stored":
        projections = list(projections)
        if len(projections) != len(afters) or any(
            not p or p.get("after") is None or p.get("rows") is None for p in projections
        ):
            raise RecGuruError("not every run carries a stored layout of its 'after' snapshot")
        stored_rows = [to_numpy(p["rows"], np.int64) for p in projections]
        keys = [_keys(a, r) for a, r in zip(afters, stored_rows)]
    else:
        keys = [_keys(a) for a in afters]
    order = _shared_order(keys)
    if len(order) < 4:
        raise RecGuruError(f"the runs share {len(order)} snapshot users; at least 4 are needed")
    positions = [dict(zip(k, range(len(k)))) for k in keys]
    picks = [np.array([pos[key] for key in order], dtype=np.int64) for pos in positions]

    first = afters[0]
    rows0 = stored_rows[0][picks[0]] if method == "stored" else picks[0]
    domain = np.array([d for d, _ in order], dtype=np.int64)
    users = [u for _, u in order]
    overlap = to_numpy(first.get("overlap"), bool)
    overlap = overlap[rows0] if overlap is not None else np.zeros(len(order), bool)
    cluster = to_numpy(first.get("cluster"), np.int64)
    cluster = cluster[rows0] if cluster is not None else None
    sample = sample_rows(domain, int(n_users), int(seed), partner=partner_rows(domain, users, overlap))

    layouts, used = [], method
    for i, (after, pick) in enumerate(zip(afters, picks)):
        if method == "stored":
            xy = to_numpy(projections[i]["after"], np.float64)[pick][sample]
        else:  # the same rows in every run: a one-snapshot projection of the sample
            gur = to_numpy(after["gur"], np.float32)[pick][sample]
            result = project_snapshots(
                {"after": {"gur": gur, "domain": domain[sample]}},
                n_users=len(sample),
                seed=int(seed),
                method="pca" if method == "pca" else "procrustes",
            )
            used = "pca" if result["method"] == "pca" else method  # umap-learn missing
            xy = np.zeros((len(sample), 2))
            xy[to_numpy(result["rows"], np.int64)] = to_numpy(result["after"], np.float64)
        layouts.append(xy)
    reference = layouts[0]
    spread = float(np.sqrt(((reference - reference.mean(axis=0)) ** 2).sum(axis=1).mean())) or 1.0
    aligned, residual = [reference], [0.0]
    for xy in layouts[1:]:
        moved = procrustes_align(xy, reference)
        aligned.append(moved)
        residual.append(float(np.sqrt(((moved - reference) ** 2).sum(axis=1).mean())) / spread)
    return {
        "method": used,
        "seed": int(seed),
        "user": [users[i] for i in sample],
        "domain": domain[sample],
        "overlap": overlap[sample],
        "cluster": None if cluster is None else cluster[sample],
        "layouts": [np.asarray(xy, dtype=np.float32) for xy in aligned],
        "n_shared": len(order),
        "residual": residual,
    }


# ----------------------------------------------------------------------------- side by side
# Rows are plain dicts with one value per run label ("values") and each later run minus the
# first ("diff"); a value a run does not carry is None, never NaN, so the rows are JSON as they
# are. The app turns them into frames (ui/figures/compare.py), the CLI into text (cli/main.py).

RANKINGS = (("test", "sampled"), ("test_full", "full ranking"))
DOMAINS = ("A", "B")

# (key in alignment_metrics' result, the number inside it, title, how to read it)
ALIGNMENT_ROWS = (
    ("auc", "value", "Domain-classifier AUC", "0.5 = A and B indistinguishable"),
    ("auc_length_matched", "value", "Length-matched AUC", "history length cannot give it away"),
    ("proxy_a_distance", "value", "Proxy A-distance", "0 = indistinguishable, 2 = separable"),
    ("knn_entropy", "value", "kNN domain entropy (bits)", "higher = better mixed"),
    ("pair_distance", "ratio", "Pair distance ratio", "< 1: a user's A and B GURs are close"),
    ("mmd", "value", "MMD² (A vs B)", "0 = same distribution; null = label permutations"),
    ("spectrum", "effective_rank", "Effective rank", "directions the GURs use; a fall = collapse"),
    ("spectrum", "top3_share", "Top-3 variance share", "near 1 = collapsed onto 3 directions"),
    ("uniformity", "value", "Uniformity", "lower = spread more evenly (DirectAU)"),
)

# The app measures a run's alignment on this many rows with seed 0 (ui/state.py's
# ALIGNMENT_N_MAX) and `project` stores it so: a measured value equals the stored one.


def _number(value) -> float | None:
    """A finite float, or None (missing, NaN, not a number)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) else None


def _with_diffs(labels: Sequence[str], values: dict) -> dict:
    first = values[labels[0]]
    return {
        label: None if values[label] is None or first is None else values[label] - first
        for label in labels[1:]
    }


def check_same_data(
    labels: Sequence[str], data: Sequence[dict], fingerprints: Sequence[str] | None = None
) -> str:
    """The runs' shared data fingerprint. A run of other data than the first is refused with
    one line naming it and what differs. `data`: each run's checkpoint or data section;
    `fingerprints`: the same runs' fingerprints when the caller has them already (cached)."""
    prints = list(fingerprints) if fingerprints is not None else [data_fingerprint(d) for d in data]
    for label, other, fp in zip(labels[1:], data[1:], prints[1:]):
        if fp != prints[0]:
            what = data_difference(data[0], other) or "users, items or sequences differ"
            raise RecGuruError(
                f"{label} was trained on other data than {labels[0]} ({what}): "
                "only runs of the same data can be compared"
            )
    return prints[0]


def metric_names(metrics: Sequence[dict]) -> list[str]:
    """Every test metric some run carries: evaluation.METRIC_NAMES' order, then any other."""
    seen = {
        key
        for m in metrics
        for split, _ in RANKINGS
        for d in DOMAINS
        for key in (((m or {}).get(split) or {}).get(d) or {})
    }
    return [k for k in METRIC_NAMES if k in seen] + sorted(seen - set(METRIC_NAMES))


def metric_rows(
    labels: Sequence[str], metrics: Sequence[dict], keys: Sequence[str] | None = None
) -> list[dict]:
    """One row per (ranking, domain, metric) of the test split: {"ranking" ("sampled" or
    "full ranking"), "split" ("test", "test_full"), "domain", "metric", "values", "diff"},
    as fractions. `keys`: the metrics to show (default: every one a run carries); a row no
    run has a value for is left out."""
    keys = metric_names(metrics) if keys is None else list(keys)
    rows = []
    for split, ranking in RANKINGS:
        for d in DOMAINS:
            for key in keys:
                values = {
                    label: _number((((m or {}).get(split) or {}).get(d) or {}).get(key))
                    for label, m in zip(labels, metrics)
                }
                if all(v is None for v in values.values()):
                    continue
                rows.append(
                    {
                        "ranking": ranking,
                        "split": split,
                        "domain": d,
                        "metric": key,
                        "values": values,
                        "diff": _with_diffs(labels, values),
                    }
                )
    return rows


def alignment_rows(
    labels: Sequence[str], alignments: Sequence[dict | None], snapshot: str = "after"
) -> list[dict]:
    """One row per alignment metric at `snapshot`: {"metric", "title", "reading", "values",
    "null" (each run's shuffled-label null), "diff"}. `alignments`: each run's
    analysis.compare_snapshots result (or None: not measured, every value None)."""
    rows = []
    for key, sub, title, reading in ALIGNMENT_ROWS:
        values, nulls = {}, {}
        for label, result in zip(labels, alignments):
            entry = (((result or {}).get(snapshot) or {}).get(key)) or {}
            values[label] = _number(entry.get(sub))
            # the ratio's null is 1 by construction (the pair distance over its own null)
            null = 1.0 if key == "pair_distance" and values[label] is not None else entry.get("null")
            nulls[label] = _number(null)
        metric = sub if key == "spectrum" else key  # effective_rank, top3_share: one row each
        rows.append(
            {
                "metric": metric,
                "title": title,
                "reading": reading,
                "values": values,
                "null": nulls,
                "diff": _with_diffs(labels, values),
            }
        )
    return rows


def comparison_tables(
    labels: Sequence[str],
    data: Sequence[dict],
    metrics: Sequence[dict],
    alignments: Sequence[dict | None] | None = None,
    *,
    fingerprints: Sequence[str] | None = None,
    metric_keys: Sequence[str] | None = None,
) -> dict:
    """The data check, then the side-by-side rows: {"labels", "reference" (the first run,
    which every difference is taken from), "fingerprint", "metrics": metric_rows,
    "alignment": alignment_rows, or None without `alignments`}. One entry per run in every
    argument, in the same order."""
    labels = list(labels)
    if len(labels) < 2:
        raise RecGuruError(f"compare needs at least two runs (got {len(labels)})")
    if len(set(labels)) != len(labels):
        raise RecGuruError("every run needs its own label (see unique_labels)")
    if not len(data) == len(metrics) == len(labels):  # zip would drop a run silently
        raise ValueError("comparison_tables: one data section and one metrics dict per label")
    fingerprint = check_same_data(labels, data, fingerprints)
    return {
        "labels": labels,
        "reference": labels[0],
        "fingerprint": fingerprint,
        "metrics": metric_rows(labels, metrics, metric_keys),
        "alignment": None if alignments is None else alignment_rows(labels, alignments),
    }


def run_alignment(ckpt: dict, *, n_max: int = ALIGNMENT_N_MAX, seed: int = 0) -> tuple[dict | None, str]:
    """The alignment after the adversarial phase as the app shows it: ({"after": metrics},
    "stored") from the checkpoint's `alignment` (written by `project`), else measured now on
    the 'after' snapshot with the app's seed and sample size ("measured"); (None, "none")
    when the run has no 'after' snapshot (stopped before the adversarial phase ended)."""
    stored = (ckpt.get("alignment") or {}).get("after")
    if isinstance(stored, dict) and stored.get("auc") and stored.get("spectrum"):
        return {"after": stored}, "stored"  # (stored before the collapse measures: measure)
    after = (ckpt.get("snapshots") or {}).get("after")
    if not isinstance(after, dict):
        return None, "none"
    # compare_snapshots measures each snapshot on its own with the same seed: measuring the
    # 'after' one alone gives the numbers a full measurement has for it
    return compare_snapshots({"after": after}, seed=seed, n_max=n_max), "measured"


TRAINING_ROWS = (
    ("wasserstein", "Last Wasserstein estimate"),
    ("seconds_pretrain", "Seconds, pre-training"),
    ("seconds_adversarial", "Seconds, adversarial phase"),
    ("seconds_finetune", "Seconds, fine-tuning"),
    ("seconds_total", "Seconds, total"),
)


def training_summary(history: Sequence[dict]) -> dict:
    """From a run's step records: the critic's last Wasserstein estimate (and its step) and the
    seconds spent per phase (steps plus the evaluations and snapshots within it; a resumed
    run's records add up across its sessions). Keys whose value the history lacks are None."""
    out: dict = {key: None for key, _ in TRAINING_ROWS}
    out["wasserstein_step"] = None
    seconds: dict[str, float] = {}
    for rec in history or []:
        w = _number(rec.get("wasserstein"))
        if w is not None:
            out["wasserstein"], out["wasserstein_step"] = w, rec.get("step")
        phase, spent = rec.get("phase"), _number(rec.get("seconds"))
        if phase in ("pretrain", "adversarial", "finetune") and spent is not None:
            seconds[phase] = seconds.get(phase, 0.0) + spent
    for phase, spent in seconds.items():
        out[f"seconds_{phase}"] = spent
    if seconds:
        out["seconds_total"] = sum(seconds.values())
    return out


def compare_runs(
    runs: Sequence, labels: Sequence[str] | None = None, *, n_max: int = ALIGNMENT_N_MAX
) -> dict:
    """Everything `python -m recguru_core compare` shows, as JSON-ready data. `runs`: loaded
    runs (inference.LoadedRun: `.ckpt`, `.name`, `.path`, `.metrics()`, `.history()`),
    the first being the reference. comparison_tables' result plus "domains" (the first run's
    domain names), "runs" (label, path, status, source, "alignment_from": "stored",
    "measured" or "none", the step of the last Wasserstein estimate) and
    "training" (rows of training_summary, like the other tables)."""
    if len(runs) < 2:
        raise RecGuruError(f"compare needs at least two runs (got {len(runs)})")
    labels = list(labels) if labels is not None else unique_labels([r.name for r in runs])
    ckpts = [r.ckpt for r in runs]
    prints = [data_fingerprint(c) for c in ckpts]
    check_same_data(labels, ckpts, prints)  # refused before measuring anything slow
    measured = [run_alignment(c, n_max=n_max) for c in ckpts]
    out = comparison_tables(
        labels,
        ckpts,
        [r.metrics() for r in runs],
        [alignment for alignment, _ in measured],
        fingerprints=prints,
    )
    summaries = [training_summary(r.history()) for r in runs]
    training = []
    for key, title in TRAINING_ROWS:
        values = {label: s[key] for label, s in zip(labels, summaries)}
        if any(v is not None for v in values.values()):
            training.append(
                {"metric": key, "title": title, "values": values, "diff": _with_diffs(labels, values)}
            )
    data = ckpts[0]["data"]
    out["domains"] = {d: str((data.get(d) or {}).get("name") or d) for d in DOMAINS}
    out["runs"] = [
        {
            "label": label,
            "path": str(r.path) if r.path else None,
            "status": str(r.ckpt.get("status", "complete")),
            "source": r.source(),
            "alignment_from": origin,
            "wasserstein_step": s["wasserstein_step"],
        }
        for label, r, (_, origin), s in zip(labels, runs, measured, summaries)
    ]
    out["training"] = training
    return out


# ----------------------------------------------------------------------------- as text


def _text_table(header: list[str], rows: list[list[str]], text: Sequence[int] = (0,)) -> list[str]:
    """Columns padded to their widest cell, two spaces apart: the `text` columns to the left,
    the others (numbers) to the right, so their decimal points line up."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    text = {i % len(header) for i in text}  # -1: the last column

    def line(cells):
        return "  ".join(
            c.ljust(w) if i in text else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    lines = [line(r) for r in [header, *rows]]
    return [lines[0], "-" * max(map(len, lines)), *lines[1:]]


def comparison_text(result: dict) -> str:
    """compare_runs' result as text tables, what `compare` prints without --json. Every
    difference is a later run minus the first (the reference)."""
    labels, first = result["labels"], result["reference"]
    later = labels[1:]
    deltas = [f"{label} - {first}" for label in later]  # ASCII: any terminal shows it

    def num(value, digits=4, sign=False):
        return "-" if value is None else f"{value:{'+' if sign else ''}.{digits}f}"

    names = result.get("domains") or {}
    out = [
        (
            f"runs: {', '.join(labels)} (differences: each later run minus {first}); "
            f"same data, fingerprint {result['fingerprint']}"
        ),
        "",
        (
            "Evaluation, test split (sampled: among the fixed sampled candidates; "
            "full ranking: among every item the user has not seen)"
        ),
    ]
    rows = [
        [
            r["ranking"],
            f"{r['domain']} ({names.get(r['domain'], r['domain'])})",
            r["metric"],
            *(num(r["values"][label]) for label in labels),
            *(num(r["diff"][label], sign=True) for label in later),
        ]
        for r in result["metrics"]
    ]
    out += (
        _text_table(["ranking", "domain", "metric", *labels, *deltas], rows, text=(0, 1, 2))
        if rows
        else ["no test metrics in these runs (unfinished?)"]
    )

    out += ["", "Alignment after the adversarial phase (value, shuffled-label null in brackets)"]
    rows = [
        [
            r["title"],
            *(
                f"{num(r['values'][label], 3)} ({num(r['null'][label], 3)})"
                if r["values"][label] is not None
                else "-"
                for label in labels
            ),
            *(num(r["diff"][label], 3, sign=True) for label in later),
            r["reading"],
        ]
        for r in result["alignment"]
    ]
    out += _text_table(["metric", *labels, *deltas, "reading"], rows, text=(0, -1))
    missing = [run["label"] for run in result["runs"] if run["alignment_from"] == "none"]
    if missing:
        out.append(
            f"not measured for {', '.join(missing)}: no GUR snapshot after the "
            "adversarial phase (an unfinished run?)"
        )

    if result["training"]:
        out += ["", "Training"]
        rows = []
        for r in result["training"]:
            digits = 1 if r["metric"].startswith("seconds") else 4
            rows.append(
                [
                    r["title"],
                    *(num(r["values"][label], digits) for label in labels),
                    *(num(r["diff"][label], digits, sign=True) for label in later),
                ]
            )
        out += _text_table(["measure", *labels, *deltas], rows)
    return "\n".join(out)
