"""ui/urlstate.py: the parameter table and its parsers (the URL round trip is in
tests/app/test_app_urlstate.py)."""

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
    assert urlstate.parse_range(" 3-40 ") == (3, 40) and urlstate.fmt_range((3, 40)) == "3-40"
    assert urlstate.parse_int_list("5,2,5") == [2, 5] and urlstate.fmt_int_list([5, 2]) == "2,5"
    assert urlstate.parse_int_list("all") == [] and urlstate.fmt_int_list([]) == "all"
    for parse, raw in [
        (urlstate.parse_bool, "maybe"),
        (urlstate.parse_smoothing, "nan"),
        (urlstate.parse_smoothing, "1.5"),
        (urlstate.parse_smoothing, "abc"),
        (urlstate.parse_domain, "C"),
        (urlstate.parse_k, "0"),
        (urlstate.parse_k, "1e9"),
        (urlstate.parse_text, "  "),
        (urlstate.parse_text, "x" * 201),
        (urlstate.parse_range, "40-3"),
        (urlstate.parse_range, "3"),
        (urlstate.parse_range, "-1-3"),
        (urlstate.parse_range, "a-b"),
        (urlstate.parse_int_list, "1,x"),
        (urlstate.parse_int_list, "-2"),
        (urlstate.parse_int_list, ""),
    ]:
        with pytest.raises(ValueError):
            parse(raw)


def test_every_page_param_has_a_unique_widget_key_and_name():
    for params in urlstate.PARAMS.values():
        assert len({p.name for p in params}) == len(params)
        assert len({p.key for p in params}) == len(params)
        assert urlstate.CHECKPOINT not in {p.name for p in params}
