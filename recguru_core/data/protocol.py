"""The evaluation protocol in one line, as every results table states it (benchmark Markdown,
the Evaluation page, its CSV exports): split, the candidates of both metric families, k-core,
overlap, seeds. Read from the source spec (its options and the data layer's defaults); nothing
is loaded."""

from __future__ import annotations

from collections.abc import Iterable

from ..common.errors import RecGuruError
from .sources import configs_from_spec, parse_source


def overlap_label(overlap: float | None) -> str:
    """An overlap ratio as the tables and file names spell it: 'natural' for None."""
    return "natural" if overlap is None else f"{overlap:g}"


def protocol_line(
    source: str,
    negatives: int | None = None,
    overlap=None,
    seeds: Iterable[int] = (),
    *,
    sampling: str | None = None,
) -> str:
    """negatives / sampling: what the data used (default: the spec's); overlap: a ratio, a list
    of ratios (an ablation table), or None for the spec's own (natural where it sets none)."""
    core = "k-core as the source set it"
    try:
        prep, data_cfg = configs_from_spec(parse_source(source))
        core = f"{prep.k_core}-core per domain"
        if prep.rating_above is not None and not source.strip().startswith("synthetic"):
            core += f", ratings > {prep.rating_above:g}"
        sampling = sampling or data_cfg.negative_sampling
        negatives = negatives if negatives is not None else data_cfg.n_negatives
        overlap = prep.overlap if overlap is None else overlap
    except RecGuruError:
        pass
    if isinstance(overlap, (list, tuple)):
        where = ", ".join(overlap_label(o) for o in overlap)
    else:
        where = overlap_label(overlap)
    seeds = list(seeds)
    return (
        "Protocol: leave-one-out split by time (test = each user's last item, validation = the one "
        f"before); candidates: sampled = the target + {negatives if negatives is not None else '?'} "
        f"negatives drawn by {sampling or 'popularity'} from the user's unseen items, full = all "
        f"unseen items; {core}; overlap {where}; "
        f"seeds {', '.join(map(str, seeds)) if seeds else '?'} ({len(seeds)})."
    )
