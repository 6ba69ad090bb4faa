"""A trained run, loaded from its checkpoint alone: statistics, recommendations, explanations.

`LoadedRun` is what the CLI's `evaluate`/`recommend` and the app's pages use. Everything it
returns is plain Python data (lists of dicts, floats), never tensors.

Explanations for one user's top recommendation:
 - influence (faithful): remove one history item at a time from BOTH the GUR input and the
   recommender input, re-score, and report how the top item's score and rank change. All
   variants are scored in one batch.
 - attention (indicative only): CDSRec's last-layer self-attention weights of the final position
   over the history, averaged over heads. Attention weights are not explanations in general.
 - other domain: the top item's score and rank with the user's GUR from the other domain in the
   CDSRec memory (eq. 2) versus with this domain's GUR alone.
 - neighbours: users of the other domain whose GURs are nearest to this user's GUR.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from ..common.errors import RecGuruError
from ..data.domains import CrossDomainData, data_from_state, left_padded
from ..data.protocol import protocol_line
from ..train.batching import Batcher
from ..train.checkpoints import load_checkpoint, model_from_checkpoint, status_text
from ..train.scoring import evaluate, score_rows, scores_for_inputs, user_memory

DOMAIN_KEYS = ("A", "B")


def domain_index(domain) -> int:
    if domain in (0, "A", "a"):
        return 0
    if domain in (1, "B", "b"):
        return 1
    raise RecGuruError(f"domain {domain!r}: expected A or B")


class LoadedRun:
    def __init__(self, ckpt: dict, path: str | Path | None = None, device: str = "cpu"):
        self.ckpt = ckpt
        self.path = Path(path) if path else None
        self.name = self.path.stem if self.path else "checkpoint"
        self.device = torch.device(device)
        self.data: CrossDomainData = data_from_state(ckpt["data"])
        self.model = model_from_checkpoint(ckpt, self.device)
        self.batcher = Batcher(self.data, self.model.config, self.device)

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu") -> LoadedRun:
        return cls(load_checkpoint(path), path, device)

    # --- what the checkpoint carries -----------------------------------------------------------
    def stats(self) -> dict:
        return self.data.stats()

    def metrics(self) -> dict:
        return self.ckpt.get("metrics") or {}

    def history(self) -> list[dict]:
        return list(self.ckpt.get("history") or [])

    def snapshots(self) -> dict:
        return self.ckpt.get("snapshots") or {}

    def projections(self) -> dict | None:
        return self.ckpt.get("projections")

    def config(self) -> dict:
        return self.ckpt["config"]

    def status(self) -> str:
        """ "complete" or "in_progress" (a run saved after some of its units)."""
        return str(self.ckpt.get("status", "unknown"))

    def status_text(self) -> str:
        """ "complete" or "unfinished run (phase N of 3, resumable)" (checkpoints.status_text)."""
        return status_text(self.ckpt)

    def source(self) -> str:
        """The source spec the run was trained on."""
        extra = (self.ckpt.get("config") or {}).get("extra") or {}
        return str(extra.get("source") or (self.ckpt.get("data") or {}).get("source") or "unknown")

    def sampled_candidates(self) -> tuple[int, str]:
        """(negatives per user, how they were drawn) of this run's sampled metrics."""
        data_cfg = (self.ckpt.get("config") or {}).get("data") or {}
        return int(data_cfg.get("n_negatives", 199)), str(data_cfg.get("negative_sampling", "popularity"))

    def protocol(self) -> str:
        """The evaluation protocol line of this run's tables (data/protocol.py): its source,
        its data's negatives and sampling, its training seed."""
        negatives, sampling = self.sampled_candidates()
        seed = ((self.ckpt.get("config") or {}).get("train") or {}).get("seed")
        return protocol_line(
            self.source(), negatives, seeds=[seed] if isinstance(seed, int) else [], sampling=sampling
        )

    def baselines(self) -> dict:
        """{model display name: {"test": {"A": metrics, "B": …}, "test_full": …}} (benchmark)."""
        baselines = self.ckpt.get("baselines")
        return baselines if isinstance(baselines, dict) else {}

    def alignment(self) -> dict | None:
        """Precomputed compare_snapshots result {"before", "after"} (written by `evaluate
        --alignment`/`project`), or None when the checkpoint carries none."""
        stored = self.ckpt.get("alignment")
        if isinstance(stored, dict) and (stored.get("after") or stored.get("before")):
            return stored
        return None

    # --- users ---------------------------------------------------------------------------------
    def users(self, domain) -> list[str]:
        return self.data.domain(domain_index(domain)).user_raw.tolist()

    def find_user(self, raw: str) -> dict[str, bool]:
        raw = str(raw).strip()
        return {key: raw in self.data.domain(i).user_index for i, key in enumerate(DOMAIN_KEYS)}

    def _row(self, raw: str, domain: int) -> int:
        dom = self.data.domain(domain)
        row = dom.user_index.get(str(raw).strip())
        if row is None:
            where = [k for k, present in self.find_user(raw).items() if present]
            hint = f" (the user is in domain {where[0]} only)" if where else ""
            raise RecGuruError(f"unknown user {raw!r} in domain {DOMAIN_KEYS[domain]} ({dom.name}){hint}")
        return row

    def _item(self, domain: int, item: int) -> dict:
        dom = self.data.domain(domain)
        return {
            "item_id": str(dom.item_raw[item - 1]),
            "title": str(dom.titles[item - 1]),
            "genre": str(dom.genres[item - 1]),
        }

    def user_history(self, raw: str, domain) -> list[dict]:
        d = domain_index(domain)
        dom = self.data.domain(d)
        row = self._row(raw, d)
        lo, hi = dom.offsets[row], dom.offsets[row + 1]
        out = []
        for pos in range(lo, hi):
            split = "test" if pos == hi - 1 else "valid" if pos == hi - 2 else "train"
            out.append(
                {**self._item(d, int(dom.items[pos])), "timestamp": int(dom.timestamps[pos]), "split": split}
            )
        return out

    # --- recommendations -----------------------------------------------------------------------
    def _full_scores(self, d: int, rows: np.ndarray, split: str = "test") -> torch.Tensor:
        return score_rows(self.model, self.batcher, d, rows, split, None).float().cpu()

    def _known_mask(self, d: int, row: int, split: str) -> np.ndarray:
        """Items a recommendation must not repeat: the user's history before the target."""
        dom = self.data.domain(d)
        end = dom.history_end(np.array([row]), split)[0]
        return dom.items[dom.offsets[row] : end]

    def unseen_count(self, raw: str, domain, split: str = "test") -> int:
        """How many items can be recommended to the user: the catalogue minus what they saw."""
        d = domain_index(domain)
        return self._unseen(d, self._known_mask(d, self._row(raw, d), split))

    def _unseen(self, d: int, known: np.ndarray) -> int:
        return int(self.data.domain(d).n_items - len(np.unique(known)))

    def recommend(self, raw: str, domain, k: int = 10, split: str = "test") -> dict:
        """Top-k for the user's held-out position (`test`: after all but the last item), with
        the true held-out item's rank among all items the user has not seen."""
        d = domain_index(domain)
        row = self._row(raw, d)
        scores = self._full_scores(d, np.array([row]), split)[0]  # (V+2,)
        known = self._known_mask(d, row, split)
        scores[torch.from_numpy(known)] = float("-inf")
        unseen = self._unseen(d, known)
        if not 1 <= int(k) <= unseen:
            raise RecGuruError(
                f"k={k}: user {raw} has {unseen} unseen items in domain "
                f"{'AB'[d]} ({self.data.domain(d).name}); ask for 1..{unseen}"
            )
        top = torch.topk(scores, int(k))
        items = [
            {"rank": i + 1, **self._item(d, int(item)), "score": float(score)}
            for i, (score, item) in enumerate(zip(top.values, top.indices))
        ]
        target = int(self.data.domain(d).targets(split, np.array([row]))[0])
        target_score = scores[target]
        test_item = {
            **self._item(d, target),
            "score": float(target_score),
            "rank": int((scores > target_score).sum()) + 1,
        }
        partner = self.batcher.partner[d][row]
        return {
            "items": items,
            "test_item": test_item,
            "uses_other_domain": bool(partner >= 0 and self.model.config.attend_both_gurs),
        }

    # --- explanations --------------------------------------------------------------------------
    def explain(self, raw: str, domain, item: str | None = None, split: str = "test") -> dict:
        """Why `item` (a raw item id; default: the user's top-1 recommendation) is recommended:
        leave-one-out influence of each history item, CDSRec attention, the other domain's
        share, nearest users. Independent of any k: a longer list explains the same top item."""
        d = domain_index(domain)
        row = self._row(raw, d)
        if item is None:
            item = self.recommend(raw, d, 1, split)["items"][0]["item_id"]
        ids = self.data.domain(d).item_raw.tolist()
        if str(item) not in map(str, ids):
            raise RecGuruError(f"item {item!r} is not in domain {'AB'[d]} ({self.data.domain(d).name})")
        top_item = list(map(str, ids)).index(str(item)) + 1
        return {
            "top_item": self._item(d, top_item),
            "influence": self._influence(d, row, top_item, split),
            "attention": self._attention(d, row, split),
            "other_domain": self._other_domain_share(d, row, top_item, split),
            "neighbours": self.neighbours(raw, d, split=split),
        }

    @torch.no_grad()
    def _score_variants(self, d: int, histories: np.ndarray, other: tuple) -> torch.Tensor:
        """Full scores (N, V+2) for N alternative histories (N, L) of one user."""
        dom = self.data.domain(d)
        n = len(histories)
        # Pack each variant's real items (pads removed) as CSR, then left-pad like training.
        packed = histories[histories != 0]
        offs = np.concatenate([[0], np.cumsum((histories != 0).sum(1))])
        rows, cfg = np.arange(n), self.model.config
        enc = torch.from_numpy(left_padded(offs, packed, rows, offs[1:], cfg.max_len, dom.eos))
        hist = torch.from_numpy(left_padded(offs, packed, rows, offs[1:], cfg.short_len, None))
        scores = scores_for_inputs(self.model, d, enc.to(self.device), hist.to(self.device), other)
        return scores.float().cpu()  # (N, V+2): scoring's one chain, as for every other score

    def _history_items(self, d: int, row: int, split: str) -> np.ndarray:
        dom = self.data.domain(d)
        end = dom.history_end(np.array([row]), split)[0]
        return dom.items[max(dom.offsets[row], end - self.model.config.max_len) : end]

    def _influence(self, d: int, row: int, top_item: int, split: str) -> list[dict]:
        hist = self._history_items(d, row, split)
        if len(hist) < 2:
            return []
        n = len(hist)
        variants = np.zeros((n + 1, n), dtype=np.int64)
        variants[0] = hist
        for j in range(n):  # variant j+1: history without position j (left-padded)
            variants[j + 1, 1:] = np.delete(hist, j)
        other = self.batcher.other_gur(self.model, d, np.array([row]))
        scores = self._score_variants(d, variants, other)
        known = torch.from_numpy(hist)
        scores[:, known] = float("-inf")
        top = scores[:, top_item]
        ranks = (scores > top[:, None]).sum(1) + 1
        out = []
        for j in range(n):
            out.append(
                {
                    "position": j,
                    **self._item(d, int(hist[j])),
                    "delta_score": float(top[0] - top[j + 1]),
                    "delta_rank": int(ranks[j + 1] - ranks[0]),
                }
            )
        return out

    @torch.no_grad()
    def _attention(self, d: int, row: int, split: str) -> list[dict]:
        """Last-layer CDSRec self-attention of the final position, averaged over heads. The
        weights come back from the layer when asked for, so two sessions can explain at once."""
        rows = np.array([row])
        memory, mask = user_memory(
            self.model, self.batcher, d, rows, own_input=self.batcher.encoder_input(d, rows, split)
        )
        _, weights = self.model.cdsrec_hidden(
            d, self.batcher.history(d, rows, split), memory, mask, return_attention=True
        )  # (1, h, L, L)
        weights = weights[0, :, -1].mean(dim=0).float().cpu()  # (L,)
        hist = self.data.domain(d).inputs(
            np.array([row]), split, eos=False, max_len=self.model.config.short_len
        )[0]
        out = []
        for j, item in enumerate(hist):
            if item != 0:
                out.append({"position": j, **self._item(d, int(item)), "weight": float(weights[j])})
        return out

    def _other_domain_share(self, d: int, row: int, top_item: int, split: str) -> dict | None:
        partner = self.batcher.partner[d][row]
        if partner < 0:
            return None
        hist = self._history_items(d, row, split)[None, :]
        with_other = self.batcher.other_gur(self.model, d, np.array([row]))
        without = (torch.zeros_like(with_other[0]), torch.zeros_like(with_other[1]))
        s_with = self._score_variants(d, hist, with_other)[0]
        s_without = self._score_variants(d, hist, without)[0]
        known = torch.from_numpy(hist[0])
        s_with[known] = float("-inf")
        s_without[known] = float("-inf")
        return {
            "score_with": float(s_with[top_item]),
            "score_without": float(s_without[top_item]),
            "rank_with": int((s_with > s_with[top_item]).sum()) + 1,
            "rank_without": int((s_without > s_without[top_item]).sum()) + 1,
        }

    # --- GUR space -------------------------------------------------------------------------------
    @cached_property
    def _train_gurs(self) -> list[torch.Tensor]:
        return [self.batcher.all_gurs(self.model, d).cpu() for d in (0, 1)]

    def neighbours(self, raw: str, domain, n: int = 5, split: str = "test") -> list[dict]:
        """Nearest users of the OTHER domain to this user's GUR (training-history GURs)."""
        d = domain_index(domain)
        row = self._row(raw, d)
        me = self._train_gurs[d][row]
        other = self._train_gurs[1 - d]
        dist = torch.linalg.vector_norm(other - me, dim=1)
        dom = self.data.domain(1 - d)
        out = []
        for r in torch.topk(-dist, min(n, len(dist))).indices.tolist():
            seq = dom.sequence(r)[-5:]
            out.append(
                {
                    "user": str(dom.user_raw[r]),
                    "distance": float(dist[r]),
                    "domain": DOMAIN_KEYS[1 - d],
                    "titles": [str(dom.titles[i - 1]) for i in seq.tolist()],
                }
            )
        return out

    # --- evaluation ------------------------------------------------------------------------------
    def evaluate(self, split: str = "test", *, full_ranking: bool = False) -> dict:
        return evaluate(self.model, self.batcher, split, full_ranking=full_ranking)

    def evaluate_groups(self, split: str = "test", *, n_boot: int = 1000) -> list[dict]:
        """Sampled and full-ranking metrics per domain and user group with bootstrap 95 %
        intervals (groups.group_table)."""
        from ..train.scoring import user_ranks
        from .groups import group_table

        ranks = {
            "sampled": user_ranks(self.model, self.batcher, split),
            "full": user_ranks(self.model, self.batcher, split, full_ranking=True),
        }
        return group_table(self.data, ranks, n_boot=n_boot)
