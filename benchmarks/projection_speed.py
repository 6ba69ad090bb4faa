"""How long does a fresh GUR projection take, by method and number of points?

    python benchmarks/projection_speed.py [--checkpoint checkpoints/demo.pt]
        [--points 4500,40000] [--methods chained-umap,procrustes,pca] [--landmarks 6000]

The shipped demo has 4,500 snapshot rows; larger point counts are made by repeating its
snapshots with small Gaussian noise (0.05 of the GUR spread, fresh per copy, the same noise in
every snapshot of a copy), so neighbourhoods look like the real ones. Each row prints the wall
time of projection.project_snapshots (UMAP is imported and its numba code compiled before timing).
Run on an otherwise idle machine: seeded UMAP is single-threaded.
"""

from __future__ import annotations

import argparse
import time


def grown(snapshots: dict, n: int, seed: int = 0) -> dict:
    """The snapshots with their rows repeated (plus noise) up to n rows."""
    import numpy as np
    import torch

    base = snapshots["before"]
    rows = len(base["domain"])
    copies = -(-n // rows)
    rng = np.random.default_rng(seed)
    noise = [rng.normal(size=(rows, base["gur"].shape[1])).astype(np.float32) for _ in range(copies)]

    def grow(snap):
        gur = snap["gur"].float().numpy()
        spread = gur.std()
        out = dict(snap)
        out["gur"] = torch.from_numpy(
            np.concatenate([gur + (0.05 * spread * z if c else 0.0) for c, z in enumerate(noise)])[:n]
        )
        for key in ("domain", "overlap", "length", "cluster"):
            if key in snap:
                out[key] = torch.cat([torch.as_tensor(snap[key])] * copies)[:n]
        if "user" in snap:
            out["user"] = [f"{u}~{c}" if c else str(u) for c in range(copies) for u in snap["user"]][:n]
        return out

    return {k: ([grow(s) for s in v] if k == "during" else grow(v)) for k, v in snapshots.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", default="checkpoints/demo.pt")
    parser.add_argument("--points", default="4500,40000")
    parser.add_argument("--methods", default="chained-umap,procrustes,pca")
    parser.add_argument("--landmarks", type=int, default=None)
    args = parser.parse_args(argv)
    import torch

    from recguru_core.analysis import projection

    snapshots = torch.load(args.checkpoint, weights_only=True)["snapshots"]
    landmarks = args.landmarks or projection.LANDMARKS
    t0 = time.perf_counter()
    projection.project_snapshots(grown(snapshots, 300), n_users=300, method="procrustes")  # warm numba
    print(
        f"# warm-up (umap import + numba compile): {time.perf_counter() - t0:.1f} s; landmarks {landmarks}",
        flush=True,
    )
    n_snap = 2 + len(snapshots.get("during", []))
    for n in (int(p) for p in args.points.split(",")):
        snaps = grown(snapshots, n)
        for method in args.methods.split(","):
            t0 = time.perf_counter()
            out = projection.project_snapshots(snaps, n_users=n, method=method, landmarks=landmarks)
            print(
                f"{method:<14}{n:>8,} points x {n_snap} snapshots  {time.perf_counter() - t0:7.1f} s"
                f"  (landmarks {out['landmarks']:,})",
                flush=True,
            )


if __name__ == "__main__":
    main()
