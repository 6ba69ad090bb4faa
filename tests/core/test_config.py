"""config.py: the one key=value parser, text conversion and the strict from_dict policy;
checkpoints.py's section validation."""

from __future__ import annotations

import functools

import pytest
import torch

from recguru_core.common.config import TrainConfig, config_from_dict, convert, parse_key_values
from recguru_core.common.errors import CheckpointError, DataError, RecGuruError
from recguru_core.data.domains import DataConfig
from recguru_core.data.preprocess import PreprocessConfig
from recguru_core.nn.model import ModelConfig
from recguru_core.train.checkpoints import FORMAT, validate_checkpoint


def test_parse_key_values_from_text_and_lists():
    assert parse_key_values("a=1, B=x ,,c=", "opt") == {"a": "1", "b": "x", "c": ""}
    assert parse_key_values(["adv-steps=5", "w_l2=0"], "override") == {"adv_steps": "5", "w_l2": "0"}
    with pytest.raises(RecGuruError, match="override 'oops': expected key=value"):
        parse_key_values(["oops"], "override")
    with pytest.raises(DataError, match="'=3'"):
        parse_key_values("=3", "source option", error=DataError)


@pytest.mark.parametrize(
    "default,text,value",
    [(True, "off", False), (1, " 7 ", 7), (0.5, "1e-3", 1e-3), ("x", "wgan-gp", "wgan-gp")],
)
def test_convert_to_the_type_of_the_default(default, text, value):
    assert convert("k", text, default, "override") == value
    assert convert("k", value, default, "override") == value  # non-text passes through


@pytest.mark.parametrize("default,text", [(True, "maybe"), (1, "1.5"), (0.5, "fast")])
def test_convert_refuses_with_the_key_and_type(default, text):
    with pytest.raises(RecGuruError, match=f"k={text!r}: expected {type(default).__name__}"):
        convert("k", text, default, "override")


@pytest.mark.parametrize(
    "cls,extra",
    [
        (TrainConfig, {}),
        (DataConfig, {}),
        (PreprocessConfig, {}),
        (ModelConfig, {"n_items_a": 3, "n_items_b": 4}),
    ],
)
def test_every_config_refuses_unknown_keys_by_name(cls, extra):
    base = cls(**extra).to_dict()
    assert cls.from_dict(base) == cls(**extra)  # round trip
    with pytest.raises(RecGuruError, match="unknown field.*'bogus'"):
        cls.from_dict({**base, "bogus": 1})


def test_missing_required_fields_are_named():
    with pytest.raises(RecGuruError, match="missing field.*n_items_b"):
        config_from_dict(ModelConfig, {"n_items_a": 3}, "model config")


@functools.lru_cache(maxsize=1)
def _data_state():
    from recguru_core.data.domains import data_to_state
    from recguru_core.data.sources import load_source

    data = load_source("synthetic:users=120,k_core=2,negatives=20")
    return data_to_state(data), {"n_items_a": data.a.n_items, "n_items_b": data.b.n_items}


def _ckpt(**sections):
    state, items = _data_state()
    return {
        "format": FORMAT,
        "version": 1,
        "config": {"model": dict(items), "train": {}, "data": {}},
        "model": {"w": torch.zeros(1)},
        "data": state,
        **sections,
    }


@pytest.mark.parametrize(
    "sections,message",
    [
        ({"history": {}}, "section 'history' is a dict, expected list"),
        ({"baselines": []}, "section 'baselines' is a list, expected dict"),
        ({"status": "halfway"}, "status 'halfway'"),
        ({"model": {"w": [1, 2]}}, "model weight 'w' is not a tensor"),
    ],
)
def test_checkpoint_sections_are_validated_by_name(sections, message):
    with pytest.raises(CheckpointError, match=message):
        validate_checkpoint(_ckpt(**sections), "run.pt")


def test_optional_sections_may_be_absent_or_none():
    ckpt = validate_checkpoint(_ckpt(alignment=None, projections=None, resume=None), "run.pt")
    assert ckpt["history"] == [] and ckpt["snapshots"] == {} and ckpt["metrics"] == {}
