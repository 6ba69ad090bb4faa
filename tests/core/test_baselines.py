"""The baselines keep the `Recommender` contract: they learn a planted signal (beating POP),
score candidates and full rankings in the agreed shapes, are deterministic under a seed, and
never read a held-out test item while fitting."""

import copy

import numpy as np
import pytest
import torch

from recguru_core.bench import baselines as B
from recguru_core.bench import bert4rec as BR
from recguru_core.bench import c2dsr as C2
from recguru_core.bench import sasrec as S
from recguru_core.bench import sasrec_merged as SM
from recguru_core.bench.recommender import Recommender, evaluate_model
from recguru_core.bench.registry import build_model
from recguru_core.data.sources import load_source

# A small world with a strong planted signal: 4 taste clusters and mostly Markov steps (the
# next item is a latent neighbour of the previous one). max_len=30 exercises truncation.
WORLD = (
    "synthetic:users=400,items_a=120,items_b=80,clusters=4,mean_len_a=15,mean_len_b=8,"
    "max_len=30,markov=0.8,k_core=2,negatives=50"
)
CPU = torch.device("cpu")
LEARNED = ("bprmf", "sasrec", "sasrec_merged", "bert4rec", "emcdr", "c2dsr")


def small(name: str) -> Recommender:
    """Each baseline with a short training budget: the tiny world needs no more."""
    mf = B.BPRMFConfig(max_epochs=40)
    return {
        "pop": lambda: B.Pop(),
        "bprmf": lambda: B.BPRMF(config=mf),
        "sasrec": lambda: S.SASRec(config=S.SASRecConfig(max_epochs=10, batch_size=64, lr=5e-3)),
        "sasrec_merged": lambda: SM.SASRecMerged(
            config=SM.MergedConfig(max_epochs=10, batch_size=64, lr=5e-3)
        ),
        "bert4rec": lambda: BR.BERT4Rec(config=BR.BERT4RecConfig(max_epochs=20, lr=5e-3)),
        "emcdr": lambda: B.EMCDR(config=B.EMCDRConfig(mf=mf, max_epochs=5)),
        "c2dsr": lambda: C2.C2DSR(config=C2.C2DSRConfig(max_epochs=10, lr=5e-3)),
    }[name]()


def fitted(name: str, data, seed: int = 0) -> Recommender:
    model = small(name)
    model.fit(data, device=CPU, seed=seed)
    return model


@pytest.fixture(scope="module")
def data():
    d = load_source(WORLD)
    d.a.negatives, d.b.negatives  # noqa: B018 -- fixed before any copy is made of the domains
    return d


@pytest.fixture(scope="module")
def models(data, one_thread):
    return {name: fitted(name, data) for name in ("pop",) + LEARNED}


def test_registry_builds_default_baselines():
    for name, cls in (
        ("pop", B.Pop),
        ("bprmf", B.BPRMF),
        ("sasrec", S.SASRec),
        ("sasrec_merged", SM.SASRecMerged),
        ("bert4rec", BR.BERT4Rec),
        ("emcdr", B.EMCDR),
        ("c2dsr", C2.C2DSR),
    ):
        model = build_model(name)
        assert type(model) is cls and model.name == name
        assert isinstance(model, Recommender)
    assert B.BPRMFConfig().d_model == S.SASRecConfig().d_model == B.EMCDRConfig().mf.d_model == 64
    assert BR.BERT4RecConfig().d_model == 64
    with pytest.raises(TypeError):
        B.BPRMFConfig(64)  # keyword-only


@pytest.mark.parametrize("name", LEARNED)
def test_beats_pop_on_planted_signal(models, data, name):
    pop = evaluate_model(models["pop"], data, "test")
    mine = evaluate_model(models[name], data, "test")
    for key in ("A", "B"):
        assert mine[key]["NDCG@10"] > pop[key]["NDCG@10"] + 0.1, (name, key, mine[key], pop[key])


@pytest.mark.parametrize("name", ("pop",) + LEARNED)
def test_score_shapes_and_full_ranking(models, data, name):
    model = models[name]
    for domain in (0, 1):
        dom = data.domain(domain)
        rows = np.arange(min(37, dom.n_users))
        for split in ("valid", "test"):
            cand = torch.from_numpy(dom.candidates(split, rows))
            scores = model.score(domain, rows, split, cand)
            assert scores.shape == cand.shape and torch.isfinite(scores).all()
            full = model.score(domain, rows, split, None)
            assert full.shape == (len(rows), dom.n_items + 2)
            assert torch.isneginf(full[:, 0]).all() and torch.isneginf(full[:, -1]).all()
            assert torch.isfinite(full[:, 1:-1]).all()
            # candidate scores are the full ranking's scores of those ids
            torch.testing.assert_close(full.gather(1, cand), scores)
    # full ranking over every user, in several batches
    metrics = evaluate_model(model, data, "test", full_ranking=True, batch_size=128)
    assert 0.0 <= metrics["A"]["NDCG@10"] <= 1.0


@pytest.mark.parametrize("name", LEARNED)
def test_deterministic_under_seed(models, data, name, one_thread):
    again = fitted(name, data)
    other = fitted(name, data, seed=1)
    rows = np.arange(data.b.n_users)
    cand = torch.from_numpy(data.b.candidates("test", rows))
    first = models[name].score(1, rows, "test", cand)
    assert torch.equal(first, again.score(1, rows, "test", cand))
    assert not torch.equal(first, other.score(1, rows, "test", cand))


def with_other_test_items(data):
    """A copy of `data` in which every user's last item (the test target) is a different item;
    training histories, validation targets and evaluation negatives are unchanged."""
    out = copy.copy(data)
    for key in ("a", "b"):
        dom = copy.copy(getattr(data, key))  # shares the cached negatives and popularity
        dom.items = dom.items.copy()
        last = dom.offsets[1:] - 1
        dom.items[last] = dom.items[last] % dom.n_items + 1
        setattr(out, key, dom)
    return out


@pytest.mark.parametrize("name", LEARNED)
def test_fit_never_reads_test_items(models, data, name, one_thread):
    changed = with_other_test_items(data)
    assert not np.array_equal(changed.a.targets("test"), data.a.targets("test"))
    model = fitted(name, changed)
    for domain in (0, 1):
        dom = data.domain(domain)
        rows = np.arange(dom.n_users)
        cand = torch.from_numpy(dom.candidates("valid", rows))
        assert torch.equal(
            model.score(domain, rows, "valid", cand), models[name].score(domain, rows, "valid", cand)
        )


def test_sasrec_reads_the_split_history(models, data):
    sasrec = models["sasrec"]
    assert sasrec.nets[0].position.num_embeddings == 30  # the data's max_len
    rows = np.arange(data.a.n_users)
    valid = sasrec.score(0, rows, "valid", None)
    test = sasrec.score(0, rows, "test", None)
    assert not torch.equal(valid, test)  # test also sees the validation item
    bprmf = models["bprmf"]
    assert torch.equal(bprmf.score(0, rows, "valid", None), bprmf.score(0, rows, "test", None))


def test_bert4rec_hides_items_of_real_positions_only_and_asks_about_the_appended_one(models, data):
    rng = np.random.default_rng(0)
    seq = np.array([[0, 0, 5, 6, 7], [0, 0, 0, 0, 9], [0, 0, 0, 0, 0]])
    for _ in range(20):
        hidden = BR.cloze_positions(rng, seq, 0.2)
        assert not hidden[seq == 0].any()  # padding is never hidden
        assert hidden[:2].any(axis=1).all()  # every row with items hides at least one
    assert BR.cloze_positions(rng, seq, 1.0)[seq != 0].all()
    bert = models["bert4rec"]
    rows = np.arange(data.a.n_users)
    assert not torch.equal(bert.score(0, rows, "valid", None), bert.score(0, rows, "test", None))
    # the hidden token is the eos id: the network's input at scoring time ends with it
    assert bert.nets[0].mask_id == data.a.eos


def test_progress_reaches_total(data, one_thread):
    calls = []
    B.BPRMF(config=B.BPRMFConfig(max_epochs=4)).fit(
        data, device=CPU, seed=0, progress=lambda *call: calls.append(call)
    )
    dones = [c[0] for c in calls]
    assert dones == sorted(dones) and calls[-1][0] == calls[-1][1] == 8
    assert any("valid NDCG@10" in c[2] for c in calls)


def test_emcdr_without_overlapped_users(one_thread):
    data = load_source(WORLD + ",overlap=0")
    assert data.n_overlap == 0
    model = small("emcdr")
    model.fit(data, device=CPU, seed=0)
    assert torch.count_nonzero(model.nets[0].other) == 0  # no source part to transfer
    metrics = evaluate_model(model, data, "test")
    assert metrics["B"]["NDCG@10"] > 0.2


def test_emcdr_uses_real_source_embeddings_for_overlapped_users(models, data):
    emcdr = models["emcdr"]
    for t in (0, 1):
        partner = data.partner_rows(t)
        shared = partner >= 0
        other = emcdr.nets[t].other
        source_own = emcdr.nets[1 - t].own  # the source domain's BPRMF user embeddings
        torch.testing.assert_close(
            other[torch.from_numpy(np.flatnonzero(shared))], source_own[torch.from_numpy(partner[shared])]
        )
        assert torch.count_nonzero(other[torch.from_numpy(np.flatnonzero(~shared))]) > 0  # mapped


def with_other_held_out_items(data, changed: str):
    """A copy of `data` in which domain `changed`'s validation and test items are different
    items; everything else (the other domain, training histories, negatives) unchanged."""
    out = copy.copy(data)
    dom = copy.copy(getattr(data, changed))
    dom.items = dom.items.copy()
    for back in (1, 2):
        at = dom.offsets[1:] - back
        dom.items[at] = dom.items[at] % dom.n_items + 1
    setattr(out, changed, dom)
    return out


@pytest.mark.parametrize("name", ["sasrec_merged", "c2dsr"])
def test_merged_models_read_the_other_domains_training_history_only(models, data, name):
    merged = models[name]
    for domain, other in ((0, "b"), (1, "a")):
        dom = data.domain(domain)
        rows = np.arange(dom.n_users)
        before = {s: merged.score(domain, rows, s, None) for s in ("valid", "test")}
        merged.data = with_other_held_out_items(data, other)
        try:
            for split in ("valid", "test"):  # the other domain's held-out items are never read
                assert torch.equal(merged.score(domain, rows, split, None), before[split])
        finally:
            merged.data = data
    # ... while its training history is: an overlapped user's A scores move when B's does
    offsets, items = SM.merged_histories(data, 0, data.overlap_a[:5], "test")
    own = data.a.history_end(data.overlap_a[:5], "test") - data.a.offsets[data.overlap_a[:5]]
    other = data.b.history_end(data.overlap_b[:5], "train") - data.b.offsets[data.overlap_b[:5]]
    assert np.array_equal(np.diff(offsets), own + other)
    assert (items[items > data.a.n_items] <= data.a.n_items + data.b.n_items).all()


def test_merged_histories_are_time_ordered_with_the_scored_domain_last_on_ties(data):
    rows = data.overlap_a[:20]
    offsets, items = SM.merged_histories(data, 0, rows, "valid")
    for k, row in enumerate(rows):
        seq = items[offsets[k] : offsets[k + 1]]
        a_part = seq[seq <= data.a.n_items]
        start, end = data.a.offsets[row], data.a.history_end(np.array([row]), "valid")[0]
        assert np.array_equal(a_part, data.a.items[start:end])  # own history, in order


def test_c2dsr_graphs_link_consecutive_items_and_carry_the_last_domain_feature():
    # two sequences over merged ids (A: 1..3, B: 4..5): [1, 4, 2] and [5, 3]
    offsets, items = np.array([0, 3, 5]), np.array([1, 4, 2, 5, 3])
    cross = C2.item_graph(offsets, items, 6, None).to_dense()
    assert cross[1, 4] == 1 and cross[4, 2] == 1 and cross[5, 3] == 1 and cross[2, 5] == 0  # not across users
    single = C2.item_graph(offsets, items, 6, 3).to_dense()
    assert single[1, 2] == 1 and single[1, 4] == 0 and single.sum() == 1  # within a domain only
    assert torch.allclose(
        C2.item_graph(np.array([0, 3]), np.array([1, 2, 1]), 4, None).to_dense().sum(1)[1:3], torch.ones(2)
    )
    feats = torch.arange(4.0)[None, :, None].expand(1, 4, 2)  # column j holds j
    is_dom = torch.tensor([[False, True, False, True]])
    carried = C2.C2DSRNet.last_of(feats, is_dom)[0, :, 0]
    assert carried.tolist() == [0.0, 1.0, 1.0, 3.0]  # zeros before the first domain item
