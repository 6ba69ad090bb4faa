"""Alignment analysis says what it should on data whose answer we know: separable domains look
separable, identically distributed ones look mixed, paired users look paired; layouts share one
frame, one sample and a weights_only-safe format; and importing the module stays cheap."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from recguru_core.analysis.alignment import (
    alignment_metrics,
    compare_snapshots,
    partner_rows,
    sample_rows,
)
from recguru_core.analysis.projection import place_by_landmarks, procrustes_align, project_snapshots
from recguru_core.common.errors import RecGuruError


def blobs(
    n_per_domain: int = 200, d: int = 16, shift: float = 0.0, seed: int = 0, n_b: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """A ~ N(0, I), B ~ N(shift * 1, I): shift 0 is indistinguishable, shift 3 is separable."""
    rng = np.random.default_rng(seed)
    n_b = n_per_domain if n_b is None else n_b
    a = rng.normal(size=(n_per_domain, d))
    b = rng.normal(size=(n_b, d)) + shift
    gur = torch.tensor(np.concatenate([a, b]), dtype=torch.float32)
    domain = torch.tensor([0] * n_per_domain + [1] * n_b)
    return gur, domain


def snapshot(gur: torch.Tensor, domain: torch.Tensor, step: int) -> dict:
    """A checkpoint-format snapshot; the first half of each domain's users are overlapped."""
    n_a = int((domain == 0).sum())
    users = [f"u{i}" for i in range(n_a)] + [f"u{i}" for i in range(len(domain) - n_a)]
    overlap = torch.tensor(
        [i < n_a // 2 for i in range(n_a)] + [i < n_a // 2 for i in range(len(domain) - n_a)]
    )
    return {
        "gur": gur,
        "domain": domain,
        "user": users,
        "overlap": overlap,
        "cluster": torch.zeros(len(domain), dtype=torch.int64),
        "step": step,
    }


def run_snapshots(n_per_domain: int = 150, d: int = 16) -> dict:
    """A run whose domains drift together: separable before, two steps during, mixed after."""

    def at(shift: float, step: int) -> dict:
        return snapshot(*blobs(n_per_domain, d, shift, seed=1), step=step)

    return {"before": at(4.0, 10), "during": [at(2.5, 100), at(1.0, 101)], "after": at(0.0, 20)}


# --- metrics -----------------------------------------------------------------------------


def test_separable_domains_are_easy_to_tell_apart() -> None:
    gur, domain = blobs(shift=3.0)
    m = alignment_metrics(gur, domain, seed=0)
    assert m["auc"]["value"] > 0.98
    assert 0.35 < m["auc"]["null"] < 0.65
    assert m["proxy_a_distance"]["value"] > 1.8
    assert m["proxy_a_distance"]["null"] < 0.5
    entropy = m["knn_entropy"]
    assert entropy["max"] == pytest.approx(1.0)
    assert entropy["value"] < 0.2 * entropy["max"]
    assert entropy["null"] > 0.8 * entropy["max"]
    assert m["n"] == 400


def test_identically_distributed_domains_look_mixed() -> None:
    gur, domain = blobs(shift=0.0)
    m = alignment_metrics(gur, domain, seed=0)
    assert abs(m["auc"]["value"] - 0.5) < 0.1
    assert abs(m["auc"]["null"] - 0.5) < 0.1
    assert m["proxy_a_distance"]["value"] < 0.5
    entropy = m["knn_entropy"]
    assert entropy["value"] > 0.85 * entropy["max"]
    assert entropy["value"] == pytest.approx(entropy["null"], abs=0.05)


def test_entropy_maximum_follows_class_balance() -> None:
    gur, domain = blobs(n_per_domain=300, n_b=100)
    m = alignment_metrics(gur, domain)
    assert m["knn_entropy"]["max"] == pytest.approx(0.8113, abs=1e-3)  # H(0.75) in bits


def test_metrics_are_deterministic_and_subsample_stratified() -> None:
    gur, domain = blobs(n_per_domain=400, shift=0.5)
    first = alignment_metrics(gur, domain, seed=3, n_max=300)
    assert first == alignment_metrics(gur, domain, seed=3, n_max=300)
    assert first["n"] == 300


def test_tightly_paired_users_are_closer_than_random_pairs() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(100, 8))
    b = a + rng.normal(scale=0.05, size=a.shape)  # each user's B row next to its A row
    gur = torch.tensor(np.concatenate([a, b]), dtype=torch.float32)
    domain = torch.tensor([0] * 100 + [1] * 100)
    users = [f"u{i}" for i in range(100)] * 2
    m = alignment_metrics(gur, domain, user=users, overlap=torch.ones(200, dtype=torch.bool))
    pair = m["pair_distance"]
    assert pair["n_pairs"] == 100
    assert pair["value"] < 0.1 * pair["null"]
    assert pair["ratio"] == pytest.approx(pair["value"] / pair["null"])

    # Shuffling who is who destroys the pairing: the ratio goes to ~1.
    shuffled = [f"u{i}" for i in range(100)] + [f"u{i}" for i in rng.permutation(100)]
    m = alignment_metrics(gur, domain, user=shuffled, overlap=torch.ones(200, dtype=torch.bool))
    assert 0.8 < m["pair_distance"]["ratio"] < 1.2


def test_pairs_need_overlap_flag_and_both_domains() -> None:
    gur, domain = blobs(n_per_domain=50)
    users = [f"u{i}" for i in range(50)] * 2
    none_flagged = alignment_metrics(gur, domain, user=users, overlap=torch.zeros(100, dtype=torch.bool))
    assert none_flagged["pair_distance"] is None
    assert alignment_metrics(gur, domain)["pair_distance"] is None
    distinct = [f"a{i}" for i in range(50)] + [f"b{i}" for i in range(50)]
    assert alignment_metrics(gur, domain, user=distinct)["pair_distance"] is None


@pytest.mark.parametrize(
    "bad, message",
    [
        (lambda g, d: (g, torch.zeros_like(d)), "each domain"),
        (lambda g, d: (g.index_fill(0, torch.tensor([3]), float("nan")), d), "NaN"),
        (lambda g, d: (g, d[:-1]), "domain"),
        (lambda g, d: (g, d + 1), r"only 0 \(A\) and 1 \(B\)"),
    ],
)
def test_bad_metric_inputs_raise_one_line_errors(bad, message) -> None:
    gur, domain = bad(*blobs(n_per_domain=20))
    with pytest.raises(RecGuruError, match=message) as info:
        alignment_metrics(gur, domain)
    assert "\n" not in str(info.value)


def test_compare_snapshots_orders_by_training_and_sees_alignment() -> None:
    result = compare_snapshots(run_snapshots(), seed=0)
    assert list(result) == ["before", "during_0", "during_1", "after"]
    assert [r["step"] for r in result.values()] == [10, 100, 101, 20]
    aucs = [r["auc"]["value"] for r in result.values()]
    assert aucs[0] > 0.95 and aucs[-1] < 0.65
    assert result["after"]["knn_entropy"]["value"] > result["before"]["knn_entropy"]["value"]
    assert result["before"]["pair_distance"]["n_pairs"] == 75
    with pytest.raises(RecGuruError, match="no GUR snapshots"):
        compare_snapshots({"during": []})


# --- sampling ----------------------------------------------------------------------------


def test_sample_is_stratified_seeded_and_keeps_pairs() -> None:
    domain = np.array([0] * 3000 + [1] * 1000)
    users = [f"u{i}" for i in range(3000)] + [f"u{i}" for i in range(1000)]
    partner = partner_rows(domain, users)
    rows = sample_rows(domain, 400, seed=1, partner=partner)
    assert len(rows) == 400 and np.all(np.diff(rows) > 0)
    assert (domain[rows] == 0).sum() == 300  # the snapshot's 3:1 balance
    np.testing.assert_array_equal(rows, sample_rows(domain, 400, seed=1, partner=partner))
    assert not np.array_equal(rows, sample_rows(domain, 400, seed=2, partner=partner))
    chosen = set(rows.tolist())
    b_rows = rows[domain[rows] == 1]
    assert all(partner[r] in chosen for r in b_rows)  # every sampled B user came with its A row


def test_sample_draws_users_so_overlapped_ones_are_not_over_represented() -> None:
    domain = np.repeat([0, 1], 4000)
    users = [f"u{i}" for i in range(4000)] + [f"u{i}" if i % 2 else f"b{i}" for i in range(4000)]
    partner = partner_rows(domain, users)
    rows = sample_rows(domain, 1000, seed=0, partner=partner)
    assert (partner[rows] >= 0).mean() == pytest.approx((partner >= 0).mean(), abs=0.05)
    assert np.isin(partner[rows][partner[rows] >= 0], rows).all()


def test_sample_keeps_a_tiny_domain() -> None:
    domain = np.array([0] * 5000 + [1] * 3)
    rows = sample_rows(domain, 100, seed=0)
    assert len(rows) == 100 and (domain[rows] == 1).sum() >= 1


# --- projections -------------------------------------------------------------------------


def test_pca_projection_shapes_keys_and_determinism() -> None:
    snaps = run_snapshots()
    calls: list[tuple[float, str]] = []
    result = project_snapshots(
        snaps, n_users=120, seed=5, method="pca", progress=lambda f, msg: calls.append((f, msg))
    )
    assert set(result) == {
        "method",
        "rows",
        "before",
        "after",
        "during",
        "during_steps",
        "landmarks",
        "seed",
        "seconds",
    }
    assert result["method"] == "pca" and result["seed"] == 5
    rows = result["rows"]
    assert rows.dtype == torch.int64 and rows.shape == (120,)
    assert set(snaps["before"]["domain"][rows].tolist()) == {0, 1}
    for layout in [result["before"], result["after"], *result["during"]]:
        assert layout.dtype == torch.float32 and layout.shape == (120, 2)
        assert torch.isfinite(layout).all()
    assert result["during_steps"] == [100, 101]
    assert isinstance(result["seconds"], float)
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and 0.0 <= fractions[0]

    again = project_snapshots(snaps, n_users=120, seed=5, method="pca")
    for key in ("rows", "before", "after"):
        assert torch.equal(result[key], again[key])


def test_pca_layouts_share_one_frame() -> None:
    """Equal snapshots land on the same points; moved ones move: one frame for all panels."""
    snaps = run_snapshots()
    snaps["after"] = dict(snaps["before"], step=99)
    result = project_snapshots(snaps, n_users=200, method="pca")
    assert torch.equal(result["before"], result["after"])
    assert not torch.allclose(result["before"], result["during"][1])


def test_projection_round_trips_through_weights_only_load() -> None:
    result = project_snapshots(run_snapshots(), n_users=100, method="pca")
    buffer = io.BytesIO()
    torch.save({"projections": {"pca": result}}, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)["projections"]["pca"]
    assert loaded["method"] == "pca" and loaded["during_steps"] == result["during_steps"]
    assert torch.equal(loaded["after"], result["after"])


def test_missing_snapshots_are_skipped_or_reported() -> None:
    snaps = run_snapshots()
    partial = {"after": snaps["after"]}  # an old checkpoint: no before, no during
    result = project_snapshots(partial, n_users=50, method="pca")
    assert result["before"] is None and result["during"] == [] and result["after"].shape == (50, 2)
    for empty in ({}, {"before": None, "during": [], "after": None}, None):
        with pytest.raises(RecGuruError, match="no GUR snapshots"):
            project_snapshots(empty, method="pca")


def test_projection_rejects_mismatched_snapshots_and_unknown_methods() -> None:
    snaps = run_snapshots()
    snaps["after"] = snapshot(*blobs(n_per_domain=10), step=1)
    with pytest.raises(RecGuruError, match="different users"):
        project_snapshots(snaps, method="pca")
    with pytest.raises(RecGuruError, match="unknown projection method"):
        project_snapshots(run_snapshots(), method="tsne")


def test_procrustes_undoes_rotation_reflection_scale_and_shift() -> None:
    rng = np.random.default_rng(0)
    target = rng.normal(size=(50, 2))
    angle = 0.7
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    source = 3.0 * (target @ rotation) * np.array([1.0, -1.0]) + np.array([5.0, -2.0])
    np.testing.assert_allclose(procrustes_align(source, target), target, atol=1e-10)


def test_import_does_not_load_umap_or_numba() -> None:
    code = textwrap.dedent("""
        import sys
        import recguru_core.analysis.alignment, recguru_core.analysis.projection
        heavy = [m for m in ("umap", "numba", "pynndescent") if m in sys.modules]
        print(",".join(heavy))
    """)
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=str(__import__("pathlib").Path(__file__).parents[2]),
    )
    assert out.stdout.strip() == ""


# --- the real thing (numba JIT: 30-80 s on a cold 2-core machine) ------------------------


@pytest.mark.slow
def test_umap_projections_on_a_small_run() -> None:
    snaps = run_snapshots(n_per_domain=150)
    snaps["after"] = dict(snaps["before"], step=99)  # no change: layouts should barely differ
    aligned = project_snapshots(snaps, n_users=300, seed=0, method="aligned-umap")
    assert aligned["method"] == "aligned-umap"
    layouts = [aligned["before"], *aligned["during"], aligned["after"]]
    assert all(x.shape == (300, 2) and torch.isfinite(x).all() for x in layouts)
    spread = aligned["before"].std(dim=0).mean()
    drift = (aligned["before"] - aligned["after"]).norm(dim=1).mean()
    assert drift < 0.25 * spread
    again = project_snapshots(snaps, n_users=300, seed=0, method="aligned-umap")
    assert torch.equal(aligned["after"], again["after"])  # seeded: the page shows one picture

    separate = project_snapshots(snaps, n_users=300, seed=0, method="procrustes")
    assert separate["method"] == "procrustes"
    torch.testing.assert_close(separate["before"], separate["after"], atol=1e-3, rtol=0)


@pytest.mark.slow
def test_chained_umap_follows_the_data_and_is_seeded() -> None:
    """Each chained fit starts from the previous layout; it must still show what its own
    snapshot holds. Here the run goes from separable to nearly mixed and back to the very
    first snapshot: the last panel has to separate the domains again, not keep the mixed
    start it was given. (Panels of unchanged data do NOT coincide: a refit moves points by
    0.2-0.3 of the layout's spread on these structureless blobs; see the docstring.)"""
    snaps = run_snapshots(n_per_domain=150)
    snaps["after"] = dict(snaps["before"], step=99)
    chained = project_snapshots(snaps, n_users=300, seed=0, method="chained-umap")
    assert chained["method"] == "chained-umap" and chained["landmarks"] == 0
    layouts = [chained["before"], *chained["during"], chained["after"]]
    assert all(x.shape == (300, 2) and torch.isfinite(x).all() for x in layouts)
    domain = torch.as_tensor(snaps["before"]["domain"])[chained["rows"]]
    mixing = [alignment_metrics(x, domain, seed=0)["knn_entropy"]["value"] for x in layouts]
    assert mixing[0] < 0.05 and mixing[-1] < 0.05  # separable data, separated panels
    assert mixing[2] > mixing[0] + 0.05  # the nearly mixed snapshot looks more mixed
    again = project_snapshots(snaps, n_users=300, seed=0, method="chained-umap")
    assert torch.equal(chained["before"], again["before"])
    assert torch.equal(chained["after"], again["after"])


def test_landmark_placement_keeps_landmarks_and_lands_points_among_their_neighbours() -> None:
    rng = np.random.default_rng(0)
    centres = np.array([[0.0] * 8, [10.0] * 8])
    x = np.concatenate([c + rng.normal(size=(100, 8)) for c in centres]).astype(np.float32)
    landmarks = np.arange(0, 200, 4)  # 50 landmarks, both clusters
    layout = np.where(landmarks[:, None] < 100, [[-5.0, 0.0]], [[5.0, 0.0]])  # (50, 2)
    layout = layout + rng.normal(scale=0.1, size=layout.shape)
    out = place_by_landmarks(x, landmarks, layout, k=5)
    assert out.shape == (200, 2) and np.isfinite(out).all()
    np.testing.assert_array_equal(out[landmarks], layout)
    assert (out[:100, 0] < -4).all() and (out[100:, 0] > 4).all()  # each in its own cluster
    np.testing.assert_array_equal(out, place_by_landmarks(x, landmarks, layout, k=5))


def test_projection_beyond_the_landmark_count_uses_landmarks_pca_does_not() -> None:
    snaps = run_snapshots(n_per_domain=150)
    pca = project_snapshots(snaps, n_users=300, seed=0, method="pca", landmarks=50)
    assert pca["landmarks"] == 0 and pca["after"].shape == (300, 2)
