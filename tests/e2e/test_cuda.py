"""CUDA checks (skipped without a GPU): bf16-autocast training runs, and a CUDA-trained model
scores the same on CPU and GPU in float32."""

import numpy as np
import pytest
import torch

from recguru_core.train.trainer import score_rows

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def test_cuda_training_and_cpu_gpu_agreement(tmp_path):
    from helpers.training import TINY, TINY_SOURCE

    from recguru_core.analysis.inference import LoadedRun
    from recguru_core.train.checkpoints import load_checkpoint
    from recguru_core.train.runs import build_trainer

    out = tmp_path / "cuda.pt"
    trainer = build_trainer(
        TINY_SOURCE + ",negatives=20", overrides={**TINY, "device": "cuda"}, out=out, seed=0
    )
    assert trainer.device.type == "cuda"
    records = list(trainer.run())
    losses = [
        r[k] for r in records if "event" not in r for k in ("rec_A", "rec_B", "bpr_A", "bpr_B") if k in r
    ]
    assert losses and all(np.isfinite(losses))
    cpu = LoadedRun(load_checkpoint(out), out, device="cpu")
    gpu = LoadedRun(load_checkpoint(out), out, device="cuda")
    rows = np.arange(min(64, cpu.data.a.n_users))
    s_cpu = score_rows(cpu.model, cpu.batcher, 0, rows, "test", None)
    s_gpu = score_rows(gpu.model, gpu.batcher, 0, rows, "test", None).cpu()
    finite = torch.isfinite(s_cpu)
    assert torch.allclose(s_cpu[finite], s_gpu[finite], atol=1e-3, rtol=1e-3)
