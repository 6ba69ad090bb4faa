"""How much does the adversarial phase align A and B, and what does it cost in accuracy?

    python benchmarks/adversarial_sweep.py [--source synthetic] [--device auto]
        [--config "adv_lr=5e-4,adv_steps=100" ...]

For each override set: train (preset quick), then report the domain-classifier ROC AUC on the
GUR snapshots before and after phase 2 (logistic regression, 5-fold cross-validated; 0.5 means
indistinguishable) and the test NDCG@10 / HR@10 per domain. One JSON line per configuration.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

DEFAULT_CONFIGS = [
    "",
    "adv_lr=5e-4",
    "adv_lr=1e-3",
    "adv_steps=400",
    "adv_lr=5e-4,w_adv=0",
    "adv_lr=5e-4,attend_both_gurs=false",
    "adv_lr=5e-4,critic=bce,gp_weight=0",
]


def domain_auc(snapshot) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = snapshot["gur"].numpy(), snapshot["domain"].numpy()
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    return float(roc_auc_score(y, cross_val_predict(clf, x, y, cv=5, method="predict_proba")[:, 1]))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", default="synthetic")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--config", action="append", default=None)
    args = parser.parse_args()
    from recguru_core.runs import build_trainer

    for text in args.config or DEFAULT_CONFIGS:
        overrides = dict(kv.split("=", 1) for kv in text.split(",") if kv)
        overrides.setdefault("device", args.device)
        t0 = time.perf_counter()
        trainer = build_trainer(args.source, preset=args.preset, overrides=overrides, seed=0)
        for _ in trainer.run():
            pass
        seconds = time.perf_counter() - t0
        test = trainer.metrics["test"]
        print(json.dumps({
            "config": text or "(preset)", "auc_before": round(domain_auc(trainer.snapshots["before"]), 3),
            "auc_after": round(domain_auc(trainer.snapshots["after"]), 3),
            "ndcg10_A": round(test["A"]["NDCG@10"], 4), "ndcg10_B": round(test["B"]["NDCG@10"], 4),
            "hr10_A": round(test["A"]["HR@10"], 4), "hr10_B": round(test["B"]["HR@10"], 4),
            "seconds": round(seconds, 1), "device": str(trainer.device)}), flush=True)


if __name__ == "__main__":
    main()
