"""Command-line interface: the same core as the app, headless (`recguru ...`).

    python -m recguru_core stats SOURCE [--json]
    python -m recguru_core train SOURCE --out PATH [--preset quick|tiny|paper] [--device auto|cpu|cuda]
                                 [--seed N] [--resume] [--stop-after PHASE] [key=value overrides...]
    torchrun --nproc_per_node=N -m recguru_core train ...   (several processes: distributed.py)
    python -m recguru_core evaluate PATH [--json] [--full-ranking] [--split test|valid] [--groups] [--health]
    python -m recguru_core recommend PATH --user RAW_ID --domain A|B [--k 10] [--json]
    python -m recguru_core project PATH [--users 5000] [--method chained-umap|aligned-umap|procrustes|pca]
    python -m recguru_core compare RUN1.pt RUN2.pt [RUN3.pt ...] [--json]
    python -m recguru_core benchmark SOURCE --out results.json [--models pop,...,recguru|all]
                                 [--overlap 0.1,0.3,0.5,0.75] [--seeds 3] [--preset quick|paper]
                                 [--device auto|cpu|cuda] [--quiet] [key=value overrides...]

Every user-fixable problem ends as one line on stderr (`error: ...`) and exit status 2; no
traceback. Progress goes to stderr, results to stdout.
"""

from .main import PROG, build_parser, main

__all__ = ["PROG", "build_parser", "main"]
