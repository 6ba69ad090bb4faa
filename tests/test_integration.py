"""End-to-end (slow): adversarial training makes A and B GURs harder to tell apart."""
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler
from sklearn.pipeline import make_pipeline

from recguru_core.runs import build_trainer

pytestmark = pytest.mark.slow


def domain_auc(snapshot) -> float:
    x = snapshot["gur"].numpy()
    y = snapshot["domain"].numpy()
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    p = cross_val_predict(clf, x, y, cv=5, method="predict_proba")[:, 1]
    return roc_auc_score(y, p)


def test_adversarial_phase_lowers_domain_auc(tmp_path):
    trainer = build_trainer(
        "synthetic:users=1200", preset="quick",
        overrides=dict(d_model=32, d_ff=128, n_layers=1, cdsrec_layers=1, pretrain_epochs=10,
                       adv_steps=200, adv_chunk=50, finetune_epochs=1, batch_size=128,
                       device="cpu", snapshot_users=600, max_len=50),
        out=tmp_path / "run.pt", seed=0)
    for _ in trainer.run():
        pass
    before = domain_auc(trainer.snapshots["before"])
    after = domain_auc(trainer.snapshots["after"])
    print(f"domain-classifier AUC before {before:.3f} -> after {after:.3f}")
    assert before > 0.75  # pre-trained A and B GURs are separable
    assert after < before - 0.02
