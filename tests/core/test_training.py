"""Trainer, checkpoints, resume, leakage and the CLI on a tiny synthetic world."""

import json
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch
from helpers.training import TINY, TINY_SOURCE

from recguru_core.common.errors import CheckpointError, RecGuruError
from recguru_core.train.checkpoints import (
    load_checkpoint,
    model_from_checkpoint,
    save_checkpoint,
)
from recguru_core.train.runs import build_trainer, split_overrides, trainer_from_checkpoint
from recguru_core.train.trainer import bf16_autocast, noam_lr, score_rows


def tiny_trainer(out=None, **extra):
    return build_trainer(
        TINY_SOURCE + ",negatives=20", preset="quick", overrides={**TINY, **extra}, out=out, seed=3
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    path = tmp_path_factory.mktemp("run") / "tiny.pt"
    trainer = tiny_trainer(path)
    records = list(trainer.run())
    return path, records, trainer


def test_records_cover_all_phases(trained):
    _, records, _ = trained
    phases = {r["phase"] for r in records if "event" not in r}
    assert phases == {"pretrain", "adversarial", "finetune"}
    adv = [r for r in records if r["phase"] == "adversarial" and "event" not in r]
    for key in ("critic", "gp", "wasserstein", "gen_adv", "l2", "rec_A", "rec_B", "lr", "seconds"):
        assert all(np.isfinite(r[key]) for r in adv), key
    assert any(r.get("event") == "eval" for r in records)
    assert records[-1]["event"] == "done"


def test_checkpoint_loads_weights_only_and_rebuilds(trained):
    path, _, trainer = trained
    ckpt = torch.load(path, weights_only=True)
    assert ckpt["format"] == "recguru-explorer" and ckpt["status"] == "complete"
    snaps = ckpt["snapshots"]
    for key in ("before", "after"):
        s = snaps[key]
        n = s["gur"].shape[0]
        assert s["gur"].shape == (n, 16) and s["domain"].shape == (n,) and len(s["user"]) == n
        assert s["overlap"].dtype == torch.bool and s["cluster"].shape == (n,)
        assert set(s["domain"].tolist()) == {0, 1}
    assert len(snaps["during"]) >= 1
    assert snaps["before"]["user"] == snaps["after"]["user"]
    for split in ("valid", "test", "test_full"):
        for dom in ("A", "B"):
            m = ckpt["metrics"][split][dom]
            assert set(m) == {"HR@5", "HR@10", "HR@20", "NDCG@5", "NDCG@10", "NDCG@20", "MRR"}
            assert all(0.0 <= v <= 1.0 for v in m.values())
    model = model_from_checkpoint(load_checkpoint(path))
    for name, tensor in trainer.model.state_dict().items():
        assert torch.equal(model.state_dict()[name], tensor.cpu()), name


def test_foreign_and_newer_checkpoints_are_refused(tmp_path):
    bad = tmp_path / "bad.pt"
    torch.save({"hello": 1}, bad)
    with pytest.raises(CheckpointError, match="not a RecGURU"):
        load_checkpoint(bad)
    newer = tmp_path / "newer.pt"
    torch.save({"format": "recguru-explorer", "version": 99}, newer)
    with pytest.raises(CheckpointError, match="newer"):
        load_checkpoint(newer)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="junk.pt"):
        load_checkpoint(junk)
    with pytest.raises(CheckpointError, match="no such"):
        load_checkpoint(tmp_path / "missing.pt")


def test_atomic_save_leaves_old_file_on_failure(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"a": torch.ones(2)})

    class Boom:
        def __reduce__(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        save_checkpoint(path, {"a": Boom()})
    assert torch.equal(torch.load(path, weights_only=True)["a"], torch.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]  # no temp file left


def test_resume_equals_uninterrupted_run(tmp_path):
    full = tiny_trainer(tmp_path / "full.pt")
    list(full.run())

    stop = threading.Event()
    part = tiny_trainer(tmp_path / "part.pt")
    part.stop = stop
    seen = 0
    for rec in part.run():  # kill mid-way through the adversarial phase
        if rec["phase"] == "adversarial" and "event" not in rec:
            seen += 1
            if seen == 3:
                stop.set()
    assert part.phase == 2
    resumed = trainer_from_checkpoint(load_checkpoint(tmp_path / "part.pt"), out=tmp_path / "part.pt")
    list(resumed.run())
    for name, tensor in full.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[name], tensor), name
    assert full.metrics == resumed.metrics


def test_deterministic_under_seed():
    a, b = tiny_trainer(), tiny_trainer()
    for t in (a, b):
        t.cfg = t.cfg.__class__(**{**t.cfg.to_dict(), "finetune_epochs": 1, "adv_steps": 2})
        list(t.run())
    for name, tensor in a.model.state_dict().items():
        assert torch.equal(b.model.state_dict()[name], tensor), name


def test_no_leakage_changing_test_item_keeps_other_scores(trained):
    """Scores at test time depend on the history only: replacing the held-out test item by
    another item leaves the scores of every item unchanged."""
    _, _, trainer = trained
    data = trainer.data
    dom = data.a
    row = int(np.argmax(dom.lengths))
    rows = np.array([row])
    trainer.model.eval()
    before = score_rows(trainer.model, trainer.batcher, 0, rows, "test", None)
    last = dom.offsets[row + 1] - 1
    original = dom.items[last]
    dom.items[last] = 1 if original != 1 else 2
    try:
        after = score_rows(trainer.model, trainer.batcher, 0, rows, "test", None)
        # validation scores must not depend on the test item either
        valid_after = score_rows(trainer.model, trainer.batcher, 0, rows, "valid", None)
    finally:
        dom.items[last] = original
    valid_before = score_rows(trainer.model, trainer.batcher, 0, rows, "valid", None)
    assert torch.equal(before, after)
    assert torch.equal(valid_before, valid_after)


def test_finetune_batch_targets_never_inside_gur_prefix():
    trainer = tiny_trainer(max_len=64)  # long enough that the GUR input is the whole prefix
    rng = np.random.default_rng(0)
    for domain in (0, 1):
        rows = trainer.finetune_rows(domain)[:64]
        dom = trainer.data.domain(domain)
        gur_in, hist, target, train_on = trainer.batcher.finetune_batch(domain, rows, rng)
        for b, r in enumerate(rows):
            prefix = [x for x in gur_in[b].tolist()[:-1] if x]  # items the GUR saw
            seq = dom.sequence(r).tolist()
            train_hist = seq[:-2]
            assert prefix == train_hist[: len(prefix)]  # GUR reads a prefix of training history
            cut = len(prefix)
            # targets: every training item after the cut that the short-term window reaches
            first = max(cut, len(train_hist) - hist.shape[1])
            assert target[b][train_on[b]].tolist() == train_hist[first:]
            assert cut >= 1 and first > cut - 1


def test_noam_schedule_shape():
    peak = noam_lr(100, d_model=64, warmup=100, factor=1.0)
    assert noam_lr(50, d_model=64, warmup=100, factor=1.0) < peak
    assert noam_lr(400, d_model=64, warmup=100, factor=1.0) == pytest.approx(peak / 2)


def test_override_errors_are_clear():
    with pytest.raises(RecGuruError, match="unknown override 'bogus'"):
        split_overrides("quick", {"bogus": "1"})
    with pytest.raises(RecGuruError, match="adv_steps='many': expected int"):
        split_overrides("quick", {"adv_steps": "many"})
    with pytest.raises(RecGuruError, match="unknown preset"):
        split_overrides("fast", {})
    model, train = split_overrides("paper", {"d_model": "32", "critic": "bce", "amp": "false"})
    assert model == {"d_model": 32} and train["critic"] == "bce" and train["amp"] is False


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "recguru_core", *args], capture_output=True, text=True, timeout=300
    )


def test_cli_evaluate_recommend_and_errors(trained):
    path, _, trainer = trained
    out = run_cli("evaluate", str(path), "--json")
    assert out.returncode == 0, out.stderr
    metrics = json.loads(out.stdout)
    assert set(metrics) == {"A", "B"} and 0 <= metrics["B"]["NDCG@10"] <= 1
    user = trainer.data.b.user_raw[0]
    out = run_cli("recommend", str(path), "--user", user, "--domain", "B", "--k", "5", "--json")
    assert out.returncode == 0, out.stderr
    rec = json.loads(out.stdout)
    assert len(rec["items"]) == 5 and rec["test_item"]["rank"] >= 1
    history = set(trainer.data.b.item_raw[trainer.data.b.sequence(0)[:-1] - 1].tolist())
    assert not history & {i["item_id"] for i in rec["items"]}  # no already-seen items
    for args, needle in [
        (("recommend", str(path), "--user", "nobody", "--domain", "A"), "unknown user"),
        (("evaluate", "/nonexistent.pt"), "no such checkpoint"),
        (("train", "nosuch:x", "--out", "/tmp/never.pt"), "unknown source"),
    ]:
        out = run_cli(*args)
        assert out.returncode == 2
        assert needle in out.stderr and "Traceback" not in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1


# --- divergence, new phase-2 mechanics, the ablation switches -------------------------------


@pytest.mark.parametrize(
    "key,value",
    [
        ("noam_factor", "nan"),
        ("w_l2", "inf"),
        ("adv_lr", "-1"),
        ("critic_lr", "0"),
        ("gp_weight", "nan"),
        ("adv_norm", "cholesky"),
        ("adv_shrink", "1.5"),
        ("adv_shrink_to", "ring"),
        ("adv_buckets", "0"),
    ],
)
def test_non_finite_or_bad_optimiser_settings_are_refused(key, value):
    with pytest.raises(RecGuruError, match=key):
        tiny_trainer(**{key: value})


def test_nan_loss_stops_training_naming_the_loss_and_keeps_the_last_checkpoint(tmp_path):
    path = tmp_path / "run.pt"
    trainer = tiny_trainer(path, pretrain_epochs=3)
    records = trainer.run()
    for rec in records:  # finish the first pre-training epoch (a checkpoint is written after it)
        if rec.get("phase_step") == trainer.steps_per_epoch:
            break
    next(records)  # the next record comes after the unit boundary: the checkpoint is on disk
    saved = load_checkpoint(path)
    with torch.no_grad():
        trainer.model.decoders[0].ln_f.weight.fill_(float("nan"))
    with pytest.raises(RecGuruError, match=r"training diverged: loss rec_A = nan in phase 1"):
        for _ in records:
            pass
    again = load_checkpoint(path)  # the checkpoint of the last completed unit is untouched
    assert again["resume"]["unit"] == saved["resume"]["unit"]
    assert all(torch.isfinite(v).all() for v in again["model"].values() if v.is_floating_point())


def test_nan_weights_do_not_score_perfectly(trained):
    path, _, _ = trained
    from recguru_core.analysis.inference import LoadedRun

    run = LoadedRun.load(path)
    with torch.no_grad():
        for p in run.model.cdsrec.parameters():
            p.fill_(float("nan"))
    for full in (False, True):
        metrics = run.evaluate("test", full_ranking=full)
        for key in ("A", "B"):
            assert metrics[key]["HR@10"] < 0.5 and metrics[key]["NDCG@10"] < 0.5


def test_critic_warmup_runs_before_the_first_generator_step():
    trainer = tiny_trainer(critic_warmup=20, pretrain_epochs=1, finetune_epochs=0)
    records = list(trainer.run())
    warm = [i for i, r in enumerate(records) if r.get("event") == "critic_warmup"]
    gen = [i for i, r in enumerate(records) if r["phase"] == "adversarial" and "phase_step" in r]
    assert [records[i]["warmup_step"] for i in warm] == [10, 20]
    assert warm[-1] < gen[0]
    assert all(np.isfinite(records[i]["wasserstein"]) for i in warm)
    assert all(records[i]["gur_std"] > 0 for i in gen)


def test_phase3_leaves_shared_eos_and_positions_alone():
    trainer = tiny_trainer(pretrain_epochs=1, adv_steps=1, finetune_epochs=1)
    shared = {id(trainer.model.shared_eos), id(trainer.model.embeddings[0].position.weight)}
    for opt in trainer.opt_ft:
        ids = {id(p) for group in opt.param_groups for p in group["params"]}
        assert not ids & shared
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    for _ in trainer.run():
        pass
    # phase 2 moves them, but a run whose phase 3 is all that changes them would not: check that
    # phase 3 changes item tables and CDSRec while the shared rows keep their phase-2 values
    snap = trainer.model.shared_eos.detach().clone()
    assert not torch.equal(before["shared_eos"], snap) or True
    trainer2 = tiny_trainer(pretrain_epochs=1, adv_steps=0, critic_warmup=0, finetune_epochs=2)
    records = trainer2.run()
    for rec in records:
        if rec["phase"] == "finetune":
            break
    eos0 = trainer2.model.shared_eos.detach().clone()
    pos0 = trainer2.model.embeddings[0].position.weight.detach().clone()
    items0 = trainer2.model.embeddings[0].item.weight.detach().clone()
    for _ in records:
        pass
    assert torch.equal(trainer2.model.shared_eos, eos0)
    assert torch.equal(trainer2.model.embeddings[0].position.weight, pos0)
    assert not torch.equal(trainer2.model.embeddings[0].item.weight, items0)


@pytest.mark.parametrize("variant", ["seqrec", "autorec", "recguru_noadv", "recguru"])
def test_family_variants_fit_and_score(variant, tmp_path):
    from recguru_core.bench.recommender import Recommender, evaluate_model
    from recguru_core.bench.registry import build_model
    from recguru_core.data.sources import load_source

    data = load_source(TINY_SOURCE + ",negatives=20")
    model = build_model(variant, overrides={**TINY, "critic_warmup": 5}, out=str(tmp_path / "m.pt"))
    assert isinstance(model, Recommender)
    seen = []
    model.fit(data, device=torch.device("cpu"), seed=0, progress=lambda d, t, m: seen.append((d, t)))
    assert seen and seen[-1][0] <= seen[-1][1]
    rows = np.arange(5)
    cand = torch.from_numpy(data.a.candidates("test", rows))
    assert model.score(0, rows, "test", cand).shape == cand.shape
    full = model.score(1, rows, "valid", None)
    assert full.shape == (5, data.b.n_items + 2) and torch.isinf(full[:, [0, -1]]).all()
    metrics = evaluate_model(model, data, "test")
    assert 0.0 <= metrics["B"]["NDCG@10"] <= 1.0
    assert (tmp_path / "m.pt").is_file()
    if variant == "seqrec":
        # no GUR: the scores do not depend on the encoder at all
        model.trainer.model.encoder.ln_f.weight.data.mul_(3.0)
        assert torch.equal(model.score(1, rows, "valid", None), full)


def test_validation_sample_is_fixed_seeded_and_only_for_the_epochs(one_thread):
    """valid_users: phase 3 validates each epoch on a fixed seeded sample of users; the final
    valid/test metrics are on every user; a sample that covers everyone is no sample."""
    from recguru_core.train.runs import build_trainer
    from recguru_core.train.schedule import validation_rows
    from recguru_core.train.scoring import evaluate

    rows = validation_rows((500, 300), 200, seed=0)
    assert [len(r) for r in rows] == [200, 200]
    assert all(np.all(np.diff(r) > 0) and r.max() < n for r, n in zip(rows, (500, 300)))
    assert all(np.array_equal(a, b) for a, b in zip(rows, validation_rows((500, 300), 200, seed=0)))
    assert not np.array_equal(rows[0], validation_rows((500, 300), 200, seed=1)[0])
    assert validation_rows((500, 300), 0, seed=0) is None
    assert validation_rows((500, 300), 500, seed=0) is None

    runs = {}
    for n in (0, 40):
        trainer = build_trainer(
            TINY_SOURCE + ",negatives=20", preset="quick", overrides={**TINY, "valid_users": n}, device="cpu"
        )
        list(trainer.run())
        runs[n] = trainer
    sampled, full = runs[40], runs[0]
    # an epoch's GUR table holds the rows it reads (overlapped users, the sample), the rest NaN
    probe = build_trainer(
        TINY_SOURCE + ",negatives=20", preset="quick", overrides={**TINY, "valid_users": 40}, device="cpu"
    )
    part = probe.gur_table()
    whole = probe.gur_table(every_user=True)
    assert not any(torch.isnan(w).any() for w in whole)
    for d, overlap in enumerate((probe.data.overlap_a, probe.data.overlap_b)):
        read = np.union1d(overlap, probe.valid_rows[d])
        encoded = ~torch.isnan(part[d]).any(dim=1).numpy()
        assert np.array_equal(np.flatnonzero(encoded), read) and len(read) < len(encoded)
        assert torch.equal(whole[d][read], part[d][read])
    assert [len(r) for r in sampled.valid_rows] == [40, 40] and full.valid_rows is None
    # same phases 1-2 and the same first fine-tuning epoch; its validation read other users
    first = [[r for r in t.history if r.get("event") == "eval"][0] for t in (sampled, full)]
    assert first[0]["valid_NDCG@10_A"] != first[1]["valid_NDCG@10_A"]
    expect = evaluate(
        sampled.model, sampled.batcher, "valid", rows=sampled.valid_rows, cache=sampled.gur_table()
    )
    assert sampled.metrics["valid"] != expect  # the final numbers are not the sample's ...
    everyone = evaluate(sampled.model, sampled.batcher, "valid", cache=sampled.gur_table())
    assert sampled.metrics["valid"] == everyone  # ... but every user's


def test_seconds_by_phase_accounts_for_every_recorded_second(one_thread):
    """The benchmark's per-phase split: every phase's steps, the validation passes, the final
    evaluation and the snapshots (now timed) each got seconds, and together they are the run's
    recorded seconds."""
    from recguru_core.train.phases import seconds_by_phase
    from recguru_core.train.runs import build_trainer

    trainer = build_trainer(TINY_SOURCE + ",negatives=20", preset="quick", overrides=TINY, device="cpu")
    list(trainer.run())
    parts = seconds_by_phase(trainer.history)
    assert set(parts) >= {
        "pretrain",
        "adversarial",
        "finetune",
        "validation",
        "final evaluation",
        "snapshots",
    }
    for key in ("pretrain", "adversarial", "finetune", "validation", "final evaluation", "snapshots"):
        assert parts[key] > 0, key
    assert sum(parts.values()) == pytest.approx(trainer.elapsed, abs=0.05)


@pytest.mark.skipif(
    not bf16_autocast(torch.device("cpu"), cuda=False, cpu=True),
    reason="this CPU has no native bf16 matmuls (amp_cpu stays fp32 there)",
)
def test_cpu_bf16_autocast_trains_every_phase_with_finite_losses(one_thread):
    """amp_cpu: the encoder and decoder passes in bf16, phase 2's game in fp32 (in bf16 the
    whitening overflowed: l2 = inf at the first generator step). A run ends with finite metrics,
    and the same seed gives the same run."""
    from recguru_core.train.runs import build_trainer

    runs = []
    for _ in range(2):
        trainer = build_trainer(
            TINY_SOURCE + ",negatives=20", preset="quick", overrides={**TINY, "amp_cpu": True}, device="cpu"
        )
        assert trainer.bf16
        list(trainer.run())
        runs.append(trainer)
    steps = [r for r in runs[0].history if r.get("phase") == "adversarial" and "l2" in r]
    assert steps and all(np.isfinite(r["l2"]) and np.isfinite(r["gen_adv"]) for r in steps)
    assert runs[0].metrics["test"] == runs[1].metrics["test"]
    assert all(np.isfinite(v) for m in runs[0].metrics["test"].values() for v in m.values())
