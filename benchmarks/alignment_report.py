"""Alignment and accuracy of finished runs, read from their checkpoints alone.

    python benchmarks/alignment_report.py RUN.pt [RUN.pt ...]
    python benchmarks/alignment_report.py --trajectory RUN.pt [RUN.pt ...]

Per checkpoint: domain-classifier AUC and length-matched AUC of the GUR snapshots before and
after the adversarial phase (analysis.alignment_metrics), and beside them whether the GURs
collapsed instead (effective rank and top-3 variance share before/after, MMD² and its
permutation p-value after), the Wasserstein estimate over phase 2
(end of the critic warm-up, first 10 steps, peak and its step, last 10 steps), and validation /
test NDCG@10 per domain. For the w_adv=0 control next to RecGURU (the benchmark keeps both).
--trajectory adds the AUC of every snapshot taken during phase 2 (still falling at the last
step means the phase was too short; flat means it stalled).
"""

from __future__ import annotations

import os
import sys


def report(path: str, trajectory: bool = False) -> dict:
    from recguru_core.analysis.alignment import compare_snapshots
    from recguru_core.train.checkpoints import load_checkpoint
    from recguru_core.train.snapshots import ordered_snapshots

    ckpt = load_checkpoint(path)
    out = {"run": os.path.basename(path)}
    snapshots = ckpt["snapshots"]
    if not trajectory:  # the during snapshots are not measured unless asked for
        snapshots = {k: v for k, v in snapshots.items() if k != "during"}
    # a run stopped before its first snapshot still gets its history and metrics reported
    measured = compare_snapshots(snapshots, seed=0) if ordered_snapshots(snapshots) else {}
    for name, m in measured.items():
        if name.startswith("during_"):
            out[f"auc_step{m['step']}"] = m["auc"]["value"]
            out[f"erank_step{m['step']}"] = m["spectrum"]["effective_rank"]
        else:
            out[f"auc_{name}"] = m["auc"]["value"]
            out[f"lm_{name}"] = (m["auc_length_matched"] or {}).get("value")
            out[f"erank_{name}"] = m["spectrum"]["effective_rank"]
            out[f"top3_{name}"] = m["spectrum"]["top3_share"]
    if "after" in measured:
        out["mmd_after"] = measured["after"]["mmd"]["value"]
        out["mmd_p_after"] = measured["after"]["mmd"]["p_value"]
    hist = ckpt["history"]
    warm = [r for r in hist if r.get("event") == "critic_warmup"]
    w = [r["wasserstein"] for r in hist if r["phase"] == "adversarial" and "phase_step" in r]
    if warm:
        out["W_warmup_end"] = warm[-1]["wasserstein"]
    if w:
        peak = max(range(len(w)), key=w.__getitem__)
        out.update(
            W_first10=sum(w[:10]) / len(w[:10]),
            W_peak=w[peak],
            W_peak_step=peak + 1,
            W_last10=sum(w[-10:]) / len(w[-10:]),
        )
    for split in ("valid", "test", "test_full"):
        for key in ("A", "B"):
            value = ckpt["metrics"].get(split, {}).get(key, {}).get("NDCG@10")
            if value is not None:
                out[f"{split}_NDCG@10_{key}"] = value
    return out


def main(argv: list[str]) -> None:
    trajectory = "--trajectory" in argv
    paths = [a for a in argv if a != "--trajectory"]
    if not paths:
        raise SystemExit(__doc__)
    for path in paths:
        row = report(path, trajectory)
        print(
            "  ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()),
            flush=True,
        )


if __name__ == "__main__":
    main(sys.argv[1:])
