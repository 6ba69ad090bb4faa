"""Is the adversarial phase healthy? Per-step statistics (pure tensor functions, recorded by the
trainer) and the verdicts drawn from a run's history (`evaluate --health`, the app's panel).

Per step (adversarial.py records them):
    critic_acc   balanced accuracy of the critic on its own A/B batch (threshold: midway between
                 the two mean scores). 0.5 = it cannot tell the domains apart; ~1.0 = it wins.
    gp_share     gp_weight * penalty / (|critic loss| + gp_weight * penalty): near 1 the penalty
                 dominates and the critic learns little but the Lipschitz constraint.
    critic_grad  total gradient norm of the critic's parameters in the step.
    gur_min_var  smallest per-dimension variance of the GUR batch, relative to the mean one:
                 near 0 means dimensions collapsed (the encoder hides the domain by discarding
                 information instead of aligning it).
    gur_erank    effective rank of the GUR batch (spectrum.py, RankMe) and
    gur_top3     its share of variance in the 3 leading principal directions: the collapse that
                 the per-dimension check cannot see (a rotation-invariant loss of rank, with
                 every coordinate still varying).

Verdicts (`diagnose(history, snapshots)`): one row per check with a value, a status (ok / warn / bad /
n/a) and what to try, in plain words.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import torch

from ..common.rules import RANK_RATIO_BAD, collapse_level
from ..metrics.spectrum import spectrum

# ----------------------------------------------------------------------------- per step


@torch.no_grad()
def critic_accuracy(d_a: torch.Tensor, d_b: torch.Tensor) -> torch.Tensor:
    """Balanced accuracy of scores d_a (B,) vs d_b (B,): A should score above the midpoint."""
    middle = (d_a.float().mean() + d_b.float().mean()) / 2
    return ((d_a > middle).float().mean() + (d_b <= middle).float().mean()) / 2


def penalty_share(loss: torch.Tensor, gp: torch.Tensor, weight: float) -> torch.Tensor:
    weighted = weight * gp.detach().float()
    return weighted / (loss.detach().float().abs() + weighted + 1e-12)


def grad_norm(parameters: Iterable[torch.nn.Parameter]) -> torch.Tensor:
    grads = [p.grad.detach().float().norm() for p in parameters if p.grad is not None]
    return torch.stack(grads).norm() if grads else torch.zeros(())


@torch.no_grad()
def relative_min_variance(h: torch.Tensor) -> torch.Tensor:
    """min over dimensions of var(h[:, j]) / mean_j var(h[:, j]) for a GUR batch h (N, d)."""
    var = h.float().var(dim=0)
    return var.min() / (var.mean() + 1e-12)


# ----------------------------------------------------------------------------- verdicts

OK, WARN, BAD, NA = "ok", "warn", "bad", "n/a"


def _series(history: list[dict], key: str, *, event: str | None = None) -> np.ndarray:
    rows = [r for r in history if r.get("phase") == "adversarial" and r.get("event") == event]
    return np.array(
        [float(r[key]) for r in rows if isinstance(r.get(key), (int, float)) and math.isfinite(float(r[key]))]
    )


def _mean(values: np.ndarray, part: slice) -> float:
    chunk = values[part]
    return float(chunk.mean()) if len(chunk) else float("nan")


def _row(check: str, value: str, status: str, verdict: str, advice: str = "") -> dict:
    return {"check": check, "value": value, "status": status, "verdict": verdict, "advice": advice}


def wasserstein_trend(w: np.ndarray) -> dict:
    """Rise-then-fall (the paper's Figure 2), still rising (critic winning), or flat."""
    if len(w) < 6:
        return _row("Wasserstein trend", f"{len(w)} steps", NA, "too few adversarial steps to judge")
    tenth = max(1, len(w) // 10)
    first, last = _mean(w, slice(0, tenth)), _mean(w, slice(-tenth, None))
    peak_at = int(np.argmax(w))
    peak = float(w[peak_at])
    value = f"{first:.3g} → peak {peak:.3g} at step {peak_at + 1} → {last:.3g}"
    if last > 0.8 * peak and peak_at >= len(w) - 2 * tenth and last > first:
        return _row(
            "Wasserstein trend",
            value,
            BAD,
            "still rising at the end: the critic is winning",
            "raise w_adv or adv_lr, or lower critic_lr; a longer phase may also let it fall",
        )
    if last < 0.6 * peak:
        return _row(
            "Wasserstein trend",
            value,
            OK,
            "rises, then falls: the encoder catches up with the critic (paper, Figure 2)",
        )
    return _row(
        "Wasserstein trend",
        value,
        WARN,
        "no clear fall yet",
        "run more adv_steps, or check the critic accuracy below",
    )


# The rank check: phase 2 must not buy its alignment with dimensions (issue 18's thresholds,
# common.rules: the Alignment page reads the same ones).


def rank_check(history: list[dict], before: tuple | None = None, after: tuple | None = None) -> dict:
    """Did phase 2 keep the GUR's dimensions? From the (effective rank, top-3 share) of the
    'before' and 'after' snapshots when the run has both (`snapshot_spectrum`: the snapshots the
    Alignment page measures), else from the per-step spectrum of the phase-2 batches
    (`gur_erank`, `gur_top3`: first and last tenth of the phase; a run still in phase 2 has no
    'after' yet)."""
    where = "snapshots"
    if before is not None and after is not None:
        (r0, t0), (r1, t1) = before, after
    else:
        rank, top3 = _series(history, "gur_erank"), _series(history, "gur_top3")
        if len(rank) < 2 or len(top3) < 2:
            return _row(
                "GUR rank kept (effective rank, top-3 share)",
                "not recorded",
                NA,
                "no per-step spectrum and no before/after snapshots",
            )
        tenth = slice(0, max(1, len(rank) // 10)), slice(-max(1, len(rank) // 10), None)
        r0, r1 = _mean(rank, tenth[0]), _mean(rank, tenth[1])
        t0, t1 = _mean(top3, tenth[0]), _mean(top3, tenth[1])
        where = "phase-2 batches"
    ratio, rise = r1 / max(r0, 1e-12), t1 - t0
    value = f"effective rank {r0:.1f} → {r1:.1f} (×{ratio:.2f}), top-3 share {t0:.2f} → {t1:.2f} ({where})"
    advice = (
        "use the rank-keeping recipe (l2_shrink=0, w_decor=0.1: the defaults since issue 18, "
        "docs/design.md) or raise w_decor; read AUC only beside the effective rank"
    )
    level, why = collapse_level(ratio, rise)
    if why == "collapsed":
        return _row(
            "GUR rank kept",
            value,
            BAD,
            "the GUR collapsed onto a few directions: a lower domain AUC here is lost "
            "information, not alignment",
            advice,
        )
    if why == "lost":
        return _row(
            "GUR rank kept",
            value,
            BAD,
            f"the GUR lost dimensions (effective rank below {RANK_RATIO_BAD}x), though its "
            "variance did not pile into a few directions: part of the AUC drop may be "
            "information discarded",
            advice,
        )
    if level == "warn":
        return _row(
            "GUR rank kept",
            value,
            WARN,
            "the GUR lost some of its dimensions",
            "check the scree plot on the Alignment page; raise w_decor",
        )
    return _row("GUR rank kept", value, OK, "the GUR kept its dimensions while it was aligned")


PRETRAINED_RANK_LOW, PRETRAINED_TOP3_HIGH = 2.0, 0.95


def pretrained_rank(rank: float, top3: float) -> dict:
    """Is the autoencoder's GUR (the 'before' snapshot) already nearly one-dimensional? Then no
    phase-2 number means much: the rank check compares with a collapsed start, and an AUC on a
    line says little about alignment (seen on MovieLens-100K, docs/design.md)."""
    value = f"effective rank {rank:.1f}, top-3 share {top3:.2f}"
    if rank < PRETRAINED_RANK_LOW or top3 > PRETRAINED_TOP3_HIGH:
        return _row(
            "GUR dimensions after pre-training",
            value,
            WARN,
            "the pre-trained GUR lives in a few directions already: alignment numbers "
            "after phase 2 say little",
            "pre-train longer or with pre_decor > 0; compare seeds",
        )
    return _row("GUR dimensions after pre-training", value, OK, "the pre-trained GUR uses many directions")


def snapshot_spectrum(snap, n_max: int = 5000) -> tuple[float, float] | None:
    """(effective rank, top-3 share) of one GUR snapshot (at most n_max rows, seeded), or None
    when it is missing or unusable."""
    if not isinstance(snap, dict) or snap.get("gur") is None:
        return None
    gur = snap["gur"]
    x = gur.detach().float().numpy() if isinstance(gur, torch.Tensor) else np.asarray(gur, dtype=np.float32)
    if x.ndim != 2 or len(x) < 3 or not np.isfinite(x).all():
        return None
    if len(x) > n_max:
        x = x[np.sort(np.random.default_rng(0).choice(len(x), n_max, replace=False))]
    s = spectrum(x)
    return s["effective_rank"], s["top3_share"]


def diagnose(history: list[dict], snapshots: dict | None = None) -> list[dict]:
    """The health checks of a run's phase 2 from its step records (see the module docstring);
    `snapshots` (the checkpoint's) lets the rank check judge runs recorded before the per-step
    spectrum existed."""
    w = _series(history, "wasserstein")
    rows = [wasserstein_trend(w)]
    acc = _series(history, "critic_acc")
    if len(acc):
        late = _mean(acc, slice(-max(1, len(acc) // 5), None))
        status = BAD if late > 0.9 else WARN if late > 0.75 else OK
        verdict = {
            BAD: "the critic separates the domains almost perfectly: they are not aligned",
            WARN: "the critic still tells the domains apart more often than not",
            OK: "the critic can barely tell A from B",
        }[status]
        rows.append(
            _row(
                "Critic accuracy (last 20 %)",
                f"{late:.2f}",
                status,
                verdict,
                "" if status == OK else "raise w_adv or adv_lr; lower critic_lr",
            )
        )
    else:
        rows.append(_row("Critic accuracy", "not recorded", NA, "this run predates the statistic"))
    share = _series(history, "gp_share")
    if len(share):
        mean = float(share.mean())
        status = WARN if mean > 0.8 else OK
        rows.append(
            _row(
                "Gradient-penalty share of the critic loss",
                f"{mean:.2f}",
                status,
                "the penalty dominates: the critic mostly learns to be Lipschitz"
                if status == WARN
                else "the critic loss is not swamped by its penalty",
                "lower gp_weight (WGAN-GP's default is 10)" if status == WARN else "",
            )
        )
    grad = _series(history, "critic_grad")
    if len(grad):
        first, last = (
            _mean(grad, slice(0, max(1, len(grad) // 10))),
            _mean(grad, slice(-max(1, len(grad) // 10), None)),
        )
        status = WARN if last > 10 * max(first, 1e-12) or last < 0.01 * first else OK
        rows.append(
            _row(
                "Critic gradient norm",
                f"{first:.3g} → {last:.3g}",
                status,
                "changed by more than 10x: unstable critic" if status == WARN else "stable",
                "lower critic_lr or raise gp_weight" if status == WARN else "",
            )
        )
    collapse = _series(history, "gur_min_var")
    if len(collapse):
        last = _mean(collapse, slice(-max(1, len(collapse) // 10), None))
        status = BAD if last < 0.01 else WARN if last < 0.05 else OK
        rows.append(
            _row(
                "GUR variance per dimension (min / mean)",
                f"{last:.3f}",
                status,
                "some dimensions collapsed: information is discarded, not aligned"
                if status != OK
                else "no dimension collapsed",
                "lower w_adv, or use adv_norm=standardize/whiten" if status != OK else "",
            )
        )
    spread = _series(history, "gur_std")
    if len(spread) >= 2:
        ratio = _mean(spread, slice(-max(1, len(spread) // 10), None)) / max(spread[0], 1e-12)
        status = BAD if ratio < 0.2 else OK
        rows.append(
            _row(
                "GUR spread (end / start)",
                f"{ratio:.2f}",
                status,
                "the GUR cloud shrank: raw-space distances fake alignment"
                if status == BAD
                else "the cloud kept its scale",
                "use adv_norm=standardize or whiten" if status == BAD else "",
            )
        )
    if any(r.get("phase") == "adversarial" for r in history) or snapshots:
        before, after = (snapshot_spectrum((snapshots or {}).get(k)) for k in ("before", "after"))
        rows.append(rank_check(history, before, after))
        if before is not None:
            rows.append(pretrained_rank(*before))
    rows.append(_reconstruction_cost(history))
    return rows


def _reconstruction_cost(history: list[dict]) -> dict:
    """Reconstruction loss at the end of phase 2 vs the end of phase 1 (what alignment cost)."""

    def tail(phase: str) -> float:
        rows = [
            r
            for r in history
            if r.get("phase") == phase
            and "event" not in r
            and isinstance(r.get("rec_A"), (int, float))
            and isinstance(r.get("rec_B"), (int, float))
        ]
        rows = rows[-max(1, len(rows) // 10) :]
        return float(np.mean([r["rec_A"] + r["rec_B"] for r in rows])) if rows else float("nan")

    before, after = tail("pretrain"), tail("adversarial")
    if not (math.isfinite(before) and math.isfinite(after)):
        return _row("Reconstruction cost of alignment", "n/a", NA, "no phase-1/phase-2 step records")
    change = after / max(before, 1e-12) - 1
    status = BAD if change > 0.5 else WARN if change > 0.15 else OK
    return _row(
        "Reconstruction cost of alignment",
        f"{before:.3f} → {after:.3f} ({change:+.0%})",
        status,
        {
            OK: "alignment costs little reconstruction",
            WARN: "alignment costs some reconstruction",
            BAD: "alignment costs much reconstruction",
        }[status],
        "" if status == OK else "lower w_adv or w_l2, or raise w_rec",
    )


def format_health(rows: list[dict]) -> str:
    mark = {OK: "ok  ", WARN: "warn", BAD: "BAD ", NA: "n/a "}
    lines = []
    for r in rows:
        lines.append(
            f"[{mark[r['status']]}] {r['check']}: {r['value']} - {r['verdict']}"
            + (f" (try: {r['advice']})" if r["advice"] else "")
        )
    return "\n".join(lines)
