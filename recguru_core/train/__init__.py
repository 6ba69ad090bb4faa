"""Training: the schedule, batches, the Trainer and its adversarial phase, scoring, GUR
snapshots, health verdicts, checkpoints, output checks, progress log, torchrun glue,
and `runs` (build or resume a Trainer from a source or a checkpoint)."""
