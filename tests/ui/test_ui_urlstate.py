"""ui/urlstate.py: the parameter table and its parsers (the URL round trip is in
tests/test_app_urlstate.py)."""

from __future__ import annotations

import pytest

from ui import urlstate


def test_parsers_accept_what_publish_writes_and_refuse_the_rest():
    for page, params in urlstate.PARAMS.items():
        for p in params:
            if p.default is not None:
                assert p.parse(p.fmt(p.default)) == p.default, (page, p.name)
    assert urlstate.parse_bool("1") is True and urlstate.parse_bool("off") is False
    assert urlstate.parse_smoothing("0.25") == 0.25
    assert urlstate.parse_domain("b") == "B"
    assert urlstate.parse_k("7") == 7
    for parse, raw in [(urlstate.parse_bool, "maybe"), (urlstate.parse_smoothing, "nan"),
                       (urlstate.parse_smoothing, "1.5"), (urlstate.parse_smoothing, "abc"),
                       (urlstate.parse_domain, "C"), (urlstate.parse_k, "0"),
                       (urlstate.parse_k, "1e9"), (urlstate.parse_text, "  "),
                       (urlstate.parse_text, "x" * 201)]:
        with pytest.raises(ValueError):
            parse(raw)


def test_every_page_param_has_a_unique_widget_key_and_name():
    for params in urlstate.PARAMS.values():
        assert len({p.name for p in params}) == len(params)
        assert len({p.key for p in params}) == len(params)
        assert urlstate.CHECKPOINT not in {p.name for p in params}
