"""Does the adversarial phase align A and B, and what does it cost? One row per setting.

    python benchmarks/adversarial_sweep.py [--source synthetic] [--preset quick] [--device auto]
        [--seeds 1] [--first-seed 0] [--config "adv_lr=1e-4,adv_norm=none" ...] [--no-finetune] [--json]

Phase 1 (pre-training) is run once per seed and shared by every setting (settings may change
only phase 2/3 values; the unit seeds derive from (seed, phase, unit), so this equals training
each setting from scratch). Each setting then runs phase 2 (and phase 3 unless --no-finetune)
and reports, from the trainer's own snapshots and records:

    auc_before / auc_after   domain-classifier ROC AUC on the GUR snapshots (analysis.alignment_
                             metrics: standardised logistic regression, 5-fold out-of-fold;
                             0.5 = indistinguishable)
    lm_before / lm_after     the same on a length-matched sample (equal A/B users per length)
    W warm / peak@step / end Wasserstein estimate at the end of the critic warm-up, its maximum
                             over the phase (and at which generator step), its last value
                             (mean of the last 10 steps)
    recB pre / adv           reconstruction loss of domain B: last 10 steps of phase 1 / phase 2
    std pre / end            spread of the raw GUR cloud (mean per-dimension std): shrinking
                             = faked alignment
    AUC during phase 2       the AUC at each snapshot taken during the phase (steady fall or
                             oscillation?)
    vNDCG A/B, tNDCG A/B     phase 3 best validation NDCG@10 and test NDCG@10 (sampled)
    adv s                    seconds of phase 2 (warm-up included)

The default settings reproduce the study table of docs/design.md. Works on any source
(`movielens:/tmp/ml/ml-100k,overlap=0.3`) and device.
"""

from __future__ import annotations

import argparse
import copy
import json
import time

DEFAULT_CONFIGS = [
    "adv_lr=1e-4,critic_lr=1e-4,adv_norm=none,adv_dropout=true,critic_warmup=0",  # paper / old
    "adv_lr=5e-4,critic_lr=1e-4,adv_norm=none,adv_dropout=true,critic_warmup=0",
    "adv_norm=none,adv_dropout=true",
    "adv_norm=none",
    "adv_norm=standardize",
    "",  # the defaults: whiten, no dropout, adv_lr 5e-4, critic_lr 1e-3, warm-up 300
    "critic_warmup=0",
    "w_l2=0",
    "adv_lr=1e-4",
    "w_adv=0",
]


def parse_config(text: str) -> dict:
    out = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"error: --config item {item!r}: expected key=value")
        out[key] = value
    return out


def pretrained(source: str, preset: str, seed: int, device: str, base: dict):
    """A trainer that has finished phase 1 (and taken the 'before' snapshot)."""
    from recguru_core.train.runs import build_trainer

    trainer = build_trainer(
        source,
        preset=preset,
        overrides={**base, "adv_steps": 0, "finetune_epochs": 0},
        seed=seed,
        device=device,
    )
    t0 = time.perf_counter()
    for rec in trainer.run():
        if rec["phase"] != "pretrain" and rec.get("event") == "phase_start":
            break
    return trainer, time.perf_counter() - t0


def continue_with(pre, source: str, preset: str, seed: int, device: str, overrides: dict, finetune: bool):
    """A fresh trainer with `overrides`, carrying `pre`'s phase-1 weights, run to the end."""
    from recguru_core.train.runs import build_trainer

    over = dict(overrides)
    if not finetune:
        over["finetune_epochs"] = 0
    trainer = build_trainer(source, preset=preset, overrides=over, seed=seed, device=device)
    trainer.model.load_state_dict(pre.model.state_dict())
    trainer.phase, trainer.unit, trainer.global_step = 2, 0, pre.global_step
    trainer.history = copy.deepcopy([r for r in pre.history if r["phase"] == "pretrain"])
    trainer.snapshots = {"during": [], "before": pre.snapshots["before"]}
    times = {}
    for rec in trainer.run():
        if "phase_step" in rec or rec.get("event") == "critic_warmup":
            times[rec["phase"]] = times.get(rec["phase"], 0.0) + rec["seconds"]
    return trainer, times


def summarise(trainer, times: dict) -> dict:
    from recguru_core.analysis.alignment import compare_snapshots

    snaps = compare_snapshots(trainer.snapshots, seed=0)  # before, during_0.., after
    auc = {name: m["auc"]["value"] for name, m in snaps.items()}
    spec = {name: m["spectrum"] for name, m in snaps.items()}
    lm = {name: (m["auc_length_matched"] or {}).get("value") for name, m in snaps.items()}
    hist = trainer.history
    pre = [r for r in hist if r["phase"] == "pretrain" and "phase_step" in r]
    adv = [r for r in hist if r["phase"] == "adversarial" and "phase_step" in r]
    warm = [r for r in hist if r.get("event") == "critic_warmup"]
    mean = lambda rows, key: sum(r[key] for r in rows) / max(len(rows), 1)  # noqa: E731
    out = {
        "auc_before": auc["before"],
        "auc_after": auc["after"],
        "lm_before": lm["before"],
        "lm_after": lm["after"],
        "W_warm": warm[-1]["wasserstein"] if warm else None,
        "recB_pre": mean(pre[-10:], "rec_B") if pre else None,
        "recB_adv": mean(adv[-10:], "rec_B") if adv else None,
        "recA_pre": mean(pre[-10:], "rec_A") if pre else None,
        "recA_adv": mean(adv[-10:], "rec_A") if adv else None,
        # collapse (spectrum.py): the AUC means alignment only if these hold
        "erank_before": spec["before"]["effective_rank"],
        "erank_after": spec["after"]["effective_rank"],
        "top3_before": spec["before"]["top3_share"],
        "top3_after": spec["after"]["top3_share"],
        "mmd_after": snaps["after"]["mmd"]["value"],
        "mmd_p_after": snaps["after"]["mmd"]["p_value"],
        "unif_before": snaps["before"]["uniformity"]["value"],
        "unif_after": snaps["after"]["uniformity"]["value"],
        "std_pre": adv[0]["gur_std"] if adv else None,
        "std_end": adv[-1]["gur_std"] if adv else None,
        "adv_seconds": times.get("adversarial", 0.0),
        "ft_seconds": times.get("finetune", 0.0),
        # AUC at every snapshot taken during phase 2: falls steadily, or oscillates?
        "auc_path": [value for name, value in auc.items() if name.startswith("during_")],
    }
    if adv:
        w = [r["wasserstein"] for r in adv]
        peak = max(range(len(w)), key=w.__getitem__)
        out.update(
            W_peak=w[peak],
            W_peak_step=peak + 1,
            W_end=sum(w[-10:]) / len(w[-10:]),
            W_first=sum(w[:10]) / len(w[:10]),
        )
    if trainer.metrics:
        out.update({f"valid_NDCG@10_{k}": trainer.ft_state["best"][i] for i, k in enumerate("AB")})
        out.update({f"test_NDCG@10_{k}": trainer.metrics["test"][k]["NDCG@10"] for k in "AB"})
        out.update({f"full_NDCG@10_{k}": trainer.metrics["test_full"][k]["NDCG@10"] for k in "AB"})
    return out


def fmt(v, spec=".3f"):
    return "-" if v is None else format(v, spec)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", default="synthetic")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--seeds", type=int, default=1, help="how many model seeds")
    parser.add_argument(
        "--first-seed",
        type=int,
        default=0,
        help="seeds run are first-seed .. first-seed + seeds - 1 (default 0)",
    )
    parser.add_argument("--base", default="", help="overrides applied to every setting (and phase 1)")
    parser.add_argument(
        "--config",
        action="append",
        default=None,
        help="phase-2/3 overrides, comma-separated key=value (repeatable)",
    )
    parser.add_argument("--no-finetune", action="store_true", help="stop after phase 2")
    parser.add_argument("--json", action="store_true", help="one JSON line per row instead of a table")
    args = parser.parse_args(argv)
    base = parse_config(args.base)
    configs = args.config if args.config is not None else DEFAULT_CONFIGS
    print(
        f"# source={args.source} preset={args.preset} base={args.base or '-'} device={args.device}",
        flush=True,
    )
    header = (
        f"{'setting':<62}{'seed':>5}{'AUC pre':>8}{'post':>7}{'LM pre':>7}{'post':>7}"
        f"{'erank pre':>10}{'post':>7}{'top3 pre':>9}{'post':>7}{'recA pre':>9}{'adv':>7}"
        f"{'W warm':>8}{'W 1st':>7}{'peak@step':>12}{'W end':>7}{'recB pre':>9}{'adv':>7}"
        f"{'std pre':>8}{'end':>7}{'vNDCG A':>8}{'B':>7}{'tNDCG A':>8}{'B':>7}{'adv s':>7}"
    )
    if not args.json:
        print(header, flush=True)
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        pre, pre_seconds = pretrained(args.source, args.preset, seed, args.device, base)
        print(f"# seed {seed}: phase 1 {pre_seconds:.1f} s", flush=True)
        for text in configs:
            trainer, times = continue_with(
                pre,
                args.source,
                args.preset,
                seed,
                args.device,
                {**base, **parse_config(text)},
                not args.no_finetune,
            )
            row = summarise(trainer, times)
            if args.json:
                print(json.dumps({"setting": text or "(defaults)", "seed": seed, **row}), flush=True)
                continue
            peak = f"{fmt(row.get('W_peak'), '.2f')}@{row.get('W_peak_step', '-')}"
            print(
                f"{(text or '(defaults)'):<62}{seed:>5}{fmt(row['auc_before']):>8}"
                f"{fmt(row['auc_after']):>7}{fmt(row['lm_before']):>7}{fmt(row['lm_after']):>7}"
                f"{fmt(row['erank_before'], '.2f'):>10}{fmt(row['erank_after'], '.2f'):>7}"
                f"{fmt(row['top3_before']):>9}{fmt(row['top3_after']):>7}"
                f"{fmt(row['recA_pre']):>9}{fmt(row['recA_adv']):>7}"
                f"{fmt(row['W_warm'], '.2f'):>8}{fmt(row.get('W_first'), '.2f'):>7}{peak:>12}"
                f"{fmt(row.get('W_end'), '.2f'):>7}{fmt(row['recB_pre']):>9}{fmt(row['recB_adv']):>7}"
                f"{fmt(row['std_pre'], '.2f'):>8}{fmt(row['std_end'], '.2f'):>7}"
                f"{fmt(row.get('valid_NDCG@10_A')):>8}{fmt(row.get('valid_NDCG@10_B')):>7}"
                f"{fmt(row.get('test_NDCG@10_A')):>8}{fmt(row.get('test_NDCG@10_B')):>7}"
                f"{row['adv_seconds']:>7.1f}  {' '.join(f'{a:.2f}' for a in row['auc_path'])}",
                flush=True,
            )


if __name__ == "__main__":
    main()
