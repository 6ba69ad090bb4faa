"""Schedules that follow the data (recguru_core/train/schedule.py) and the notes a run gives."""

from __future__ import annotations

from recguru_core.common.config import PRESETS, TrainConfig
from recguru_core.train import schedule


def _quick(**over):
    fields = TrainConfig.__dataclass_fields__
    return TrainConfig(**{**{k: v for k, v in PRESETS["quick"].items() if k in fields}, **over})


def test_small_data_gets_smaller_batches_longer_phase3_and_patience():
    cfg, notes = schedule.resolve(_quick(), 604, 590)  # MovieLens-100K @ 30 %: ~600 users a domain
    assert cfg.batch_size < 256 and -(-604 // cfg.batch_size) >= cfg.min_epoch_steps
    assert cfg.finetune_epochs * -(-590 // cfg.batch_size) >= cfg.min_finetune_steps
    assert cfg.patience > 3 and len(notes) == 3 and "batch_size 256 ->" in notes[0]


def test_the_synthetic_default_keeps_its_batch_and_phase_lengths():
    cfg, notes = schedule.resolve(_quick(), 2250, 2200)
    assert (cfg.batch_size, cfg.pretrain_epochs, cfg.adv_steps, cfg.patience) == (256, 15, 100, 3)


def test_phase2_grows_with_phase1_and_resolving_twice_changes_nothing():
    cfg, notes = schedule.resolve(_quick(batch_size=64), 4019, 4000)  # ml-1m in batches of 64
    assert cfg.adv_steps == 312 and any("adv_steps 100 -> 312" in n for n in notes)
    again, more = schedule.resolve(cfg, 4019, 4000)
    assert again == cfg and more == []


def test_rules_are_off_at_zero_and_never_touch_disabled_phases():
    base = TrainConfig(batch_size=256, adv_steps=0, finetune_epochs=0)
    assert schedule.resolve(base, 100, 100) == (base, [])
    off = TrainConfig(
        batch_size=256, adv_steps=0, finetune_epochs=0, adv_steps_ratio=1.0, min_finetune_steps=500
    )
    assert schedule.resolve(off, 5000, 5000)[0] == off  # phases set to 0 stay off


def test_the_trainer_uses_the_resolved_schedule_and_records_its_notes():
    from recguru_core.train.runs import build_trainer

    trainer = build_trainer(
        "synthetic:users=800",
        preset="tiny",
        overrides={"min_epoch_steps": 8, "pretrain_epochs": 1, "adv_steps": 0, "finetune_epochs": 0},
        seed=0,
        device="cpu",
    )
    assert trainer.cfg.batch_size < 128 and trainer.schedule_notes
    first = next(iter(trainer.run()))
    assert first["event"] == "note" and first["text"].startswith("schedule: batch_size 128 ->")


def test_the_checkpoint_keeps_what_was_asked_and_says_what_ran(tmp_path):
    from recguru_core.train.checkpoints import load_checkpoint
    from recguru_core.train.runs import build_trainer, trainer_from_checkpoint

    out = tmp_path / "run.pt"
    trainer = build_trainer(
        "synthetic:users=800",
        preset="tiny",
        out=out,
        seed=0,
        device="cpu",
        overrides={"min_epoch_steps": 8, "pretrain_epochs": 1, "adv_steps": 0, "finetune_epochs": 0},
    )
    for _rec in trainer.run():
        pass
    ckpt = load_checkpoint(out)
    assert ckpt["config"]["train"]["batch_size"] == 128  # asked
    assert ckpt["config"]["extra"]["schedule"] == {"batch_size": trainer.cfg.batch_size}  # ran
    again = trainer_from_checkpoint(ckpt)
    assert again.cfg == trainer.cfg and again.asked_cfg == trainer.asked_cfg
