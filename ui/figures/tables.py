"""Tables (pandas frames and stylers) and the metrics bar chart (pure: no Streamlit)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..text import figure_text, is_nan
from .style import DOMAIN_COLORS, DOMAINS, METRIC_KEYS, base_layout, domain_label


def stats_frame(stats: dict) -> pd.DataFrame:
    """Table-1 layout: one row per domain."""
    names = stats.get("names") or {}
    rows = []
    for d in DOMAINS:
        s = stats.get(d) or {}
        rows.append(
            {
                "Domain": domain_label(d, names),
                "#Users": s.get("users", 0),
                "#Items": s.get("items", 0),
                "#Interactions": s.get("interactions", 0),
                "Avg. seq. len": s.get("avg_len", 0.0),
                "#Overlap": stats.get("overlap_users", 0),
            }
        )
    return pd.DataFrame(rows).set_index("Domain")


def headline_metrics(metrics: dict, names: dict | None = None, negatives: int = 199) -> list[dict]:
    """[{label, value, help}] for Home: test HR@10 and NDCG@10 per domain (sampled)."""
    test = (metrics or {}).get("test") or {}
    out = []
    for d in DOMAINS:
        m = test.get(d) or {}
        for key in ("HR@10", "NDCG@10"):
            if key in m and m[key] is not None and not is_nan(m[key]):
                out.append(
                    {
                        "label": f"{key} · {domain_label(d, names)}",
                        "value": f"{100 * float(m[key]):.2f}%",
                        "help": f"Test split, true item ranked among 1 + {negatives} sampled negatives.",
                    }
                )
    return out


def table2_frame(
    metrics: dict,
    baselines: dict | None = None,
    *,
    split: str = "test",
    names: dict | None = None,
    metric_keys: Sequence[str] = METRIC_KEYS,
    method: str = "RecGURU",
) -> pd.DataFrame:
    """Paper Table-2 layout: rows = metrics, columns = (domain, method), values in percent.
    Baselines (`{"name": {"test": {"A": {...}, "B": {...}}}}`) come first, RecGURU last."""
    columns, data = [], []
    methods: list[tuple[str, dict]] = []
    for name, result in (baselines or {}).items():
        if isinstance(result, dict) and isinstance(result.get(split), dict):
            methods.append((str(name), result[split]))
    if isinstance((metrics or {}).get(split), dict):
        methods.append((method, metrics[split]))
    for d in DOMAINS:
        for name, result in methods:
            values = (result or {}).get(d) or {}
            columns.append((domain_label(d, names), name))
            data.append(
                [
                    100 * float(values[k]) if k in values and values[k] is not None else np.nan
                    for k in metric_keys
                ]
            )
    if not columns:
        return pd.DataFrame(index=pd.Index(list(metric_keys), name="Metric"))
    frame = pd.DataFrame(
        np.array(data, dtype=float).T,
        index=pd.Index(list(metric_keys), name="Metric"),
        columns=pd.MultiIndex.from_tuples(columns, names=["Domain", "Method"]),
    )
    return frame


def paired_frame(baselines: dict | None, split: str = "test", names: dict | None = None) -> pd.DataFrame:
    """RecGURU minus each carried model, per domain and metric, in percentage points with the
    paired bootstrap 95 % interval (the `paired` entry the benchmark stores); one row per model.
    A cell whose interval excludes 0 is marked ▲ (RecGURU better) or ▼ (worse). Where the
    benchmark stored paired tests (`tests`: over every seed of its run), the cell ends with their
    Holm-adjusted p-values: W (Wilcoxon signed-rank) and t (paired t)."""
    rows = []
    for model, result in (baselines or {}).items():
        paired = ((result or {}).get("paired") or {}).get(split) or {}
        if not paired:
            continue
        tests = ((result or {}).get("tests") or {}).get(split) or {}
        row = {"Model": str(model)}
        for d in DOMAINS:
            for metric, triple in sorted((paired.get(d) or {}).items()):
                mean, low, high = (100 * float(v) for v in triple)
                mark = " ▲" if low > 0 else " ▼" if high < 0 else ""
                text = f"{mean:+.2f} [{low:+.2f}, {high:+.2f}]{mark}"
                text += _p_text((tests.get(d) or {}).get(metric) or {})
                row[f"{domain_label(d, names)} · {metric}"] = text
        rows.append(row)
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame(rows).set_index("Model")


def _p_text(by_test: dict) -> str:
    """' · Holm p W 0.003, t 0.002 (3 seeds)' from one metric's stored tests, '' without."""
    parts = [
        f"{short} {float(by_test[test]['p_holm']):.2g}"
        for test, short in (("wilcoxon", "W"), ("paired_t", "t"))
        if isinstance(by_test.get(test), dict) and by_test[test].get("p_holm") is not None
    ]
    if not parts:
        return ""
    seeds = next((v.get("seeds") for v in by_test.values() if isinstance(v, dict) and v.get("seeds")), None)
    return f" · Holm p {', '.join(parts)}" + (f" ({seeds} seed{'s' if seeds != 1 else ''})" if seeds else "")


def csv_with_protocol(table: pd.DataFrame | Sequence[dict], protocol: str) -> bytes:
    """A table (a frame, index kept; or rows, no index) as CSV whose first line is a '#'
    comment stating the protocol (pandas reads it back with read_csv(..., comment='#'))."""
    frame = table if isinstance(table, pd.DataFrame) else pd.DataFrame(list(table))
    body = frame.to_csv(index=isinstance(table, pd.DataFrame))
    return (f"# {protocol}\n" + body).encode()


def style_table2(frame: pd.DataFrame):
    """Two decimals, best method per domain and metric in bold."""

    def bold_best(row: pd.Series) -> list[str]:
        out = [""] * len(row)
        if not isinstance(row.index, pd.MultiIndex):
            return out
        for domain in row.index.get_level_values(0).unique():
            part = row[domain]
            if part.notna().sum() > 1:
                best = part.max()
                for i, (dom, _) in enumerate(row.index):
                    if dom == domain and row.iloc[i] == best:
                        out[i] = "font-weight: 700; color: #1C7ED6"
        return out

    return frame.style.format("{:.2f}", na_rep="–").apply(bold_best, axis=1)


def metrics_bar_figure(frame: pd.DataFrame, *, height: int = 320) -> go.Figure:
    """Grouped bars of a Table-2 frame (methods side by side, one panel per domain)."""
    fig = go.Figure()
    if frame.empty or not isinstance(frame.columns, pd.MultiIndex):
        return base_layout(fig, height=height)
    domains = list(frame.columns.get_level_values(0).unique())
    fig = make_subplots(
        rows=1, cols=len(domains), shared_yaxes=True, subplot_titles=[figure_text(d) for d in domains]
    )
    methods = list(frame.columns.get_level_values(1).unique())
    palette = ["#ADB5BD", "#868E96", "#74C0FC", "#B197FC", "#63E6BE", "#FFD43B", "#FFA8A8"]
    for ci, dom in enumerate(domains, start=1):
        dom_key = dom.split(" · ")[0]
        for mi, m in enumerate(methods):
            if (dom, m) not in frame:
                continue
            colour = DOMAIN_COLORS.get(dom_key, "#495057") if m == "RecGURU" else palette[mi % len(palette)]
            fig.add_trace(
                go.Bar(
                    x=list(frame.index),
                    y=frame[(dom, m)],
                    name=figure_text(m),
                    marker_color=colour,
                    legendgroup=m,
                    showlegend=ci == 1 and len(methods) > 1,
                    text=[f"{v:.1f}" for v in frame[(dom, m)]],
                    textposition="outside",
                    hovertemplate=f"{figure_text(m)}<br>%{{x}}: %{{y:.2f}}%<extra></extra>",
                ),
                row=1,
                col=ci,
            )
    base_layout(fig, height=height)
    fig.update_layout(barmode="group", bargap=0.35, margin=dict(t=40))
    fig.update_yaxes(title_text="%", row=1, col=1, gridcolor="#F1F3F5")
    return fig


def metrics_comparison_frame(comparison: dict, names: Sequence[str] = ("before", "after")) -> pd.DataFrame:
    """Alignment metrics before vs after with their shuffled-label nulls, one row per metric."""
    rows = []

    def entry(name: str, key: str, sub: str = "value"):
        key, _, inner = key.partition(".")  # "spectrum.effective_rank": a label-free number
        m = (comparison.get(name) or {}).get(key)
        if inner:
            return None if m is None or sub != "value" else m.get(inner)
        return None if m is None else m.get(sub)

    spec = [
        ("Domain-classifier AUC", "auc", "0.5 = A and B indistinguishable"),
        (
            "Length-matched AUC",
            "auc_length_matched",
            "same classifier, equal A/B users at every history length",
        ),
        ("Proxy A-distance", "proxy_a_distance", "0 = indistinguishable, 2 = separable"),
        ("kNN domain entropy (bits)", "knn_entropy", "higher = neighbourhoods mix A and B"),
        (
            "Overlapped pair distance",
            "pair_distance",
            "same user's A vs B GUR; null = random pairs",
        ),
        ("MMD² (A vs B)", "mmd", "RBF, median bandwidth; null = mean over label permutations"),
        ("Effective rank", "spectrum.effective_rank", "directions the GURs use; a fall = collapse"),
        ("Top-3 variance share", "spectrum.top3_share", "near 1 = collapsed onto 3 directions"),
        ("Uniformity", "uniformity", "lower = spread more evenly on the sphere"),
    ]
    for label, key, meaning in spec:
        row = {"Metric": label}
        for name in names:
            row[name.capitalize()] = entry(name, key)
            row[f"{name.capitalize()} null"] = entry(name, key, "null")
        if key == "knn_entropy":
            m = entry(names[-1], key, "max")
            meaning = f"{meaning} (max {m:.3f})" if m is not None else meaning
        if key == "mmd":
            p = entry(names[-1], key, "p_value")
            meaning = f"{meaning}; p = {p:.3f}" if p is not None else meaning
        if key == "pair_distance":
            ratios = [entry(n, key, "ratio") for n in names]
            if all(r is not None for r in ratios):
                meaning = f"{meaning}; ratio {ratios[0]:.2f} → {ratios[-1]:.2f}"
        row["Reading"] = meaning
        rows.append(row)
    return pd.DataFrame(rows).set_index("Metric")


def selection_frame(meta: pd.DataFrame, positions: Sequence[int], names: dict | None = None) -> pd.DataFrame:
    rows = meta.reset_index(drop=True).iloc[[p for p in positions if 0 <= p < len(meta)]]
    out = pd.DataFrame(
        {
            "user": rows["user"].astype(str).to_numpy(),
            "domain": rows["domain"].map(lambda d: domain_label(d, names)).to_numpy(),
            "overlapped": rows["overlap"].to_numpy(),
        }
    )
    if (meta["cluster"] >= 0).any():
        out["cluster"] = rows["cluster"].to_numpy()
    out["_domain"] = rows["domain"].to_numpy()
    return out.reset_index(drop=True)


def history_table(records: Sequence[dict]) -> pd.DataFrame:
    if not records:
        return pd.DataFrame(columns=["#", "title", "genre", "when", "split"])
    frame = pd.DataFrame.from_records(list(records))
    when = pd.to_datetime(pd.to_numeric(frame.get("timestamp"), errors="coerce"), unit="s", errors="coerce")
    out = pd.DataFrame(
        {
            "#": np.arange(1, len(frame) + 1),
            "title": frame.get("title", frame.get("item_id")).astype(str),
            "genre": frame.get("genre", pd.Series([""] * len(frame))).astype(str),
            "when": when.dt.strftime("%Y-%m-%d"),
            "split": frame.get("split", pd.Series([""] * len(frame))).astype(str),
        }
    )
    return out.iloc[::-1].reset_index(drop=True)  # newest first: test, valid, then training


def recommendation_table(rec: dict) -> pd.DataFrame:
    items = rec.get("items") or []
    test_id = str((rec.get("test_item") or {}).get("item_id"))
    if not items:
        return pd.DataFrame(columns=["rank", "title", "genre", "score", "held-out"])
    frame = pd.DataFrame.from_records(items)
    return pd.DataFrame(
        {
            "rank": frame["rank"].astype(int),
            "title": frame["title"].astype(str),
            "genre": frame.get("genre", pd.Series([""] * len(frame))).astype(str),
            "score": frame["score"].astype(float),
            "held-out": frame["item_id"].astype(str) == test_id,
        }
    )


_SPLIT_STYLES = {"valid": "background-color: #FFF3BF", "test": "background-color: #D3F9D8"}


def style_history(frame: pd.DataFrame):
    """History table with the validation (yellow) and test (green) items highlighted."""
    return frame.style.map(lambda v: _SPLIT_STYLES.get(v, ""), subset=["split"])


def influence_table(influence: Sequence[dict]) -> pd.DataFrame:
    rows = list(influence or [])
    if not rows:
        return pd.DataFrame(columns=["position", "title", "Δscore", "Δrank"])
    frame = pd.DataFrame.from_records(rows)
    out = pd.DataFrame(
        {
            "position": frame.get("position"),
            "title": frame.get("title"),
            "Δscore": frame.get("delta_score"),
            "Δrank": frame.get("delta_rank"),
        }
    )
    # sorted by influence, like the chart: the largest |Δscore| first
    strength = pd.to_numeric(out["Δscore"], errors="coerce").abs().fillna(0.0)
    return out.loc[strength.sort_values(ascending=False, kind="stable").index].reset_index(drop=True)


def neighbours_table(neighbours: Sequence[dict]) -> pd.DataFrame:
    rows = list(neighbours or [])
    if not rows:
        return pd.DataFrame(columns=["user", "distance", "recent titles"])
    return pd.DataFrame(
        {
            "user": [str(r.get("user")) for r in rows],
            "distance": [float(r.get("distance", np.nan)) for r in rows],
            "recent titles": [", ".join(map(str, (r.get("titles") or [])[:5])) for r in rows],
        }
    )


def groups_frame(rows: Sequence[dict]) -> pd.DataFrame:
    """recguru_core.analysis.groups rows -> one row per (domain, group) with the user count and a
    'value (low–high)' cell per ranking × metric, in percent."""
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame(rows)
    frame["cell"] = [
        f"{100 * v:.1f} ({100 * lo:.1f}–{100 * hi:.1f})" if pd.notna(v) else "–"
        for v, lo, hi in zip(frame["value"], frame["low"], frame["high"])
    ]
    frame["column"] = frame["ranking"] + " " + frame["metric"]
    wide = frame.pivot_table(
        index=["domain", "group", "users"], columns="column", values="cell", aggfunc="first", sort=False
    )
    wide.columns.name = None
    return wide.reset_index()


def health_frame(rows: Sequence[dict]) -> pd.DataFrame:
    """recguru_core.train.health.diagnose rows as a table with a status mark."""
    mark = {"ok": "✅ ok", "warn": "⚠️ warn", "bad": "❌ bad", "n/a": "– n/a"}
    return pd.DataFrame(
        [
            {
                "status": mark.get(r["status"], r["status"]),
                "check": r["check"],
                "value": r["value"],
                "verdict": r["verdict"],
                "what to try": r["advice"],
            }
            for r in rows
        ]
    )
