"""Alignment and accuracy of finished runs, read from their checkpoints alone.

    python benchmarks/alignment_report.py RUN.pt [RUN.pt ...]
    python benchmarks/alignment_report.py --trajectory RUN.pt [RUN.pt ...]

Per checkpoint: domain-classifier AUC and length-matched AUC of the GUR snapshots before and
after the adversarial phase (analysis.alignment_metrics), the Wasserstein estimate over phase 2
(end of the critic warm-up, first 10 steps, peak and its step, last 10 steps), and validation /
test NDCG@10 per domain. For the w_adv=0 control next to RecGURU (the benchmark keeps both).
--trajectory adds the AUC of every snapshot taken during phase 2 (still falling at the last
step means the phase was too short; flat means it stalled).
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _auc(snap: dict) -> tuple[float, float | None]:
    """(AUC, length-matched AUC) of one GUR snapshot."""
    from recguru_core.analysis import alignment_metrics

    m = alignment_metrics(snap["gur"], snap["domain"], user=snap.get("user"),
                          overlap=snap.get("overlap"), length=snap.get("length"), seed=0)
    return m["auc"]["value"], (m["auc_length_matched"] or {}).get("value")


def report(path: str, trajectory: bool = False) -> dict:
    from recguru_core.checkpoints import load_checkpoint

    ckpt = load_checkpoint(path)
    out = {"run": os.path.basename(path)}
    for name in ("before", "after"):
        snap = ckpt["snapshots"].get(name)
        if snap is None:
            continue
        out[f"auc_{name}"], out[f"lm_{name}"] = _auc(snap)
    if trajectory:
        for snap in ckpt["snapshots"].get("during") or []:
            out[f"auc_step{int(snap['step'])}"] = _auc(snap)[0]
    hist = ckpt["history"]
    warm = [r for r in hist if r.get("event") == "critic_warmup"]
    w = [r["wasserstein"] for r in hist if r["phase"] == "adversarial" and "phase_step" in r]
    if warm:
        out["W_warmup_end"] = warm[-1]["wasserstein"]
    if w:
        peak = max(range(len(w)), key=w.__getitem__)
        out.update(W_first10=sum(w[:10]) / len(w[:10]), W_peak=w[peak], W_peak_step=peak + 1,
                   W_last10=sum(w[-10:]) / len(w[-10:]))
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
        print("  ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()),
              flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
