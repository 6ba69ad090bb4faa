# ruff: noqa: F811  (tiny_app is a fixture imported from test_app)
"""Shareable state (issue 10): the URL round trip on every page that has state worth sending,
stale links (a notice and the defaults, never an exception), the snapshot picker of Training
curves and the Alignment metric cards following the snapshot."""

from __future__ import annotations

import pytest
from helpers.app import (  # noqa: F401  (tiny_app: a fixture)
    APP,
    DEMO,
    TIMEOUT,
    page_ok,
    point_app_at,
    visible_text,
)
from streamlit.testing.v1 import AppTest

ALIGNMENT = "pages/2_Alignment.py"
CURVES = "pages/3_Training_curves.py"
RECOMMENDATIONS = "pages/4_Recommendations.py"


def _open_with(page: str, params: dict) -> AppTest:
    """A fresh session opening `page` with a query string, as a shared link does."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.switch_page(page)
    at.query_params.update(params)
    at.run()
    page_ok(at, f"{page}?{params}")
    return at


def _metrics_ready(at: AppTest) -> None:
    """The alignment metrics are measured in the background; wait for them, then rerun."""
    from ui import state, store

    job = store.start_alignment_metrics(at.session_state[state.K_CHECKPOINT])
    job.wait(180)
    assert job.state == "done", job.error
    at.run()
    page_ok(at, "metrics ready")


def _snapshots(at: AppTest) -> list[str]:
    """The snapshot names of the selected checkpoint's layout (the pickers' values; their
    options in AppTest are the formatted labels)."""
    from ui import state, store

    path = at.session_state[state.K_CHECKPOINT]
    run = store.load_run(path)
    return list(store.alignment_data(path, run, *store.projection_for(path, run)).layouts)


def _toasts(at: AppTest) -> str:
    return visible_text(at.toast)


def _params(at: AppTest) -> dict:
    return {k: v for k, v in at.query_params.items()}


def _users(tiny):
    from ui import store

    run = store.load_run(tiny)
    both = sorted(set(run.users("A")) & set(run.users("B")))
    return run, both


# --------------------------------------------------------------------------- recommendations


def test_recommendations_link_round_trip(tiny_app):
    _, both = _users(tiny_app)
    user = both[-1]
    at = _open_with(RECOMMENDATIONS, {"ckpt": "demo", "user": user, "domain": "B", "k": "5"})
    assert not at.error, visible_text(at.error)
    assert not at.toast, _toasts(at)
    assert at.text_input(key="rec.user").value == user
    assert at.segmented_control(key="rec.domain").value == "B"
    assert at.number_input(key="rec.k").value == 5
    # a widget change is written back to the URL
    at.segmented_control(key="rec.domain").set_value("A").run()
    page_ok(at, "domain A")
    at.number_input(key="rec.k").set_value(7).run()
    params = _params(at)
    assert params["domain"] == "A" and params["k"] == "7" and params["user"] == user
    assert params["ckpt"] == "demo"
    assert "localhost" in visible_text(at.code) and "user=" in visible_text(at.code)  # the share link


def test_recommendations_stale_link_falls_back_with_a_notice(tiny_app):
    at = _open_with(RECOMMENDATIONS, {"user": "no-such-user", "domain": "Q", "k": "1e9"})
    assert not at.error, visible_text(at.error)
    notices = _toasts(at)
    assert "user" in notices and "domain" in notices and "top k" in notices, notices
    assert at.text_input(key="rec.user").value  # the default user
    assert at.segmented_control(key="rec.domain").value == "A"
    assert at.number_input(key="rec.k").value == 10


def test_unknown_checkpoint_or_a_path_in_a_link_is_refused(tiny_app):
    for name in ("no-such-run", "../../etc/passwd", "/tmp/x.pt"):
        at = _open_with(RECOMMENDATIONS, {"ckpt": name})
        assert "not on this server" in _toasts(at), name
        assert at.query_params["ckpt"] == "demo"  # what is shown instead
        assert not at.error, visible_text(at.error)


def test_checkpoint_by_name_selects_it(tiny_app, tmp_path):
    import os
    from pathlib import Path

    from ui import state

    folder = Path(os.environ["RECGURU_CHECKPOINT_DIR"])
    (folder / "other-run.pt").symlink_to(tiny_app)
    at = _open_with(CURVES, {"ckpt": "other-run"})
    assert at.session_state[state.K_CHECKPOINT] == str(folder / "other-run.pt")
    assert not at.toast, _toasts(at)


# --------------------------------------------------------------------------- alignment


def test_alignment_link_round_trip(tiny_app):
    from ui import state, store

    at = _open_with(ALIGNMENT, {})
    path = at.session_state[state.K_CHECKPOINT]
    run = store.load_run(path)
    view = store.alignment_data(path, run, *store.projection_for(path, run))
    users = [f"{view.meta.at[p, 'domain']}:{view.meta.at[p, 'user']}" for p in (0, 3)]
    names = list(view.layouts)[1:]
    at = _open_with(
        ALIGNMENT, {"snap": names[0], "color": "overlap", "links": "1", "sel": users + ["A:not-a-user"]}
    )
    assert not at.error, visible_text(at.error)
    assert at.segmented_control(key="align.right").value == names[0]
    assert at.segmented_control(key="align.color").value == "overlap"
    assert at.toggle(key="align.links").value is True
    assert "1 of the link's 3 selected users" in _toasts(at)
    assert any("**2** points selected" in str(m.value) for m in at.markdown)
    assert at.query_params["sel"] == users
    at.segmented_control(key="align.color").set_value("domain").run()
    at.toggle(key="align.links").set_value(False).run()
    assert at.query_params["color"] == "domain" and at.query_params["links"] == "0"
    assert at.query_params["snap"] == names[0]


def test_alignment_metric_cards_follow_the_snapshot(tiny_app):
    at = _open_with(ALIGNMENT, {})
    _metrics_ready(at)
    names = _snapshots(at)[1:]
    assert len(names) >= 2
    labels = at.segmented_control(key="align.right").options
    assert len(labels) == len(names) and all("step" in label.lower() for label in labels)
    seen = {}
    for name in names:
        at.segmented_control(key="align.right").set_value(name).run()
        page_ok(at, name)
        heading = [str(m.value) for m in at.markdown if "Alignment metrics" in str(m.value)]
        assert heading, "no metrics heading"
        seen[name] = (heading[0], tuple(m.value for m in at.metric))
        assert seen[name][1], f"no metric cards for {name}"
    assert len({h for h, _ in seen.values()}) == len(seen), seen  # each names its snapshot
    assert len({v for _, v in seen.values()}) == len(seen), seen  # with that snapshot's numbers


def test_alignment_stale_link_values(tiny_app):
    at = _open_with(ALIGNMENT, {"snap": "during_99", "color": "rainbow", "links": "maybe"})
    assert not at.error, visible_text(at.error)
    notices = _toasts(at)
    assert "snapshot" in notices and "colour mode" in notices and "link toggle" in notices
    assert at.segmented_control(key="align.right").value == _snapshots(at)[-1]
    assert at.segmented_control(key="align.color").value == "domain"
    assert at.toggle(key="align.links").value is False


# ------------------------------------------------------- alignment: every user (issue 10)


@pytest.fixture
def demo_app(monkeypatch, tmp_path):
    """The shipped demo (4,500 points with history lengths and taste clusters)."""
    if not DEMO.is_file():
        pytest.skip("checkpoints/demo.pt is not there yet")
    point_app_at(monkeypatch, tmp_path, DEMO)
    return DEMO


def _view(at: AppTest):
    from ui import state, store

    path = at.session_state[state.K_CHECKPOINT]
    run = store.load_run(path)
    return store.alignment_data(path, run, *store.projection_for(path, run))


def _shown_caption(at: AppTest) -> str:
    return next((c for c in (str(m.value) for m in at.caption) if "points shown" in c), "")


def _chart(at: AppTest) -> str:
    return at.get("plotly_chart")[0].proto.spec


def test_alignment_filter_search_and_contours_link_round_trip(demo_app):
    from ui.figures import alignment as alignment_fig

    view = _view(_open_with(ALIGNMENT, {}))
    meta = view.meta
    user = str(meta.loc[meta["overlap"], "user"].iloc[0])  # a user in both domains
    at = _open_with(
        ALIGNMENT,
        {"contours": "1", "overlap": "overlapped", "len": "5-30", "clusters": "1,2", "search": user},
    )
    assert not at.error, visible_text(at.error)
    assert not at.toast, _toasts(at)
    assert at.toggle(key="align.contours").value is True
    assert at.segmented_control(key="align.overlap").value == "overlapped"
    assert at.slider(key="align.length").value == (5, 30)
    assert at.multiselect(key="align.clusters").value == [1, 2]
    assert at.text_input(key="align.search").value == user
    flt = alignment_fig.PointFilter("overlapped", (5, 30), (1, 2))
    n = int(alignment_fig.filter_mask(meta, flt).sum())
    assert 0 < n < len(meta)
    assert f"{n:,} of {len(meta):,} points shown" in _shown_caption(at)
    assert "density: A" in _chart(at) and "density: B" in _chart(at)
    # the searched user's two points are the selection, and so in the link
    assert any("**2** points selected" in str(m.value) for m in at.markdown)
    assert sorted(at.query_params["sel"]) == [f"A:{user}", f"B:{user}"]
    assert "Found in A" in visible_text(at.caption) and "and B" in visible_text(at.caption)
    # widget changes are written back to the URL
    lo, hi = alignment_fig.filter_choices(meta).length
    at.toggle(key="align.contours").set_value(False).run()
    at.segmented_control(key="align.overlap").set_value("single").run()
    at.slider(key="align.length").set_range(lo, hi).run()
    at.multiselect(key="align.clusters").set_value([]).run()
    at.text_input(key="align.search").input("").run()
    page_ok(at, "controls changed")
    params = _params(at)
    assert params["contours"] == "0" and params["overlap"] == "single"
    assert params["len"] == f"{lo}-{hi}" and params["clusters"] == "all"
    assert "search" not in params
    assert "density: A" not in _chart(at)
    single = int((~meta["overlap"]).sum())
    assert f"{single:,} of {len(meta):,} points shown" in _shown_caption(at)
    # the same selection, now hidden by the filter (positions keep naming the same users)
    assert any("2 hidden by the filter" in str(m.value) for m in at.markdown)


def test_alignment_stale_filter_and_search_values(demo_app):
    at = _open_with(
        ALIGNMENT,
        {
            "contours": "maybe",
            "overlap": "some",
            "len": "0-99999",
            "clusters": "99",
            "search": "no-such-user",
        },
    )
    assert not at.error, visible_text(at.error)
    notices = _toasts(at)
    for label in (
        "density-contour toggle",
        "overlap filter",
        "history-length range",
        "cluster filter",
        "searched user",
    ):
        assert label in notices, (label, notices)
    from ui.figures import alignment as alignment_fig

    meta = _view(at).meta
    assert at.toggle(key="align.contours").value is False
    assert at.segmented_control(key="align.overlap").value == "all"
    assert at.slider(key="align.length").value == alignment_fig.filter_choices(meta).length
    assert at.multiselect(key="align.clusters").value == []
    assert at.text_input(key="align.search").value == ""
    assert f"{len(meta):,} of {len(meta):,} points shown" in _shown_caption(at)


def test_alignment_search_box(demo_app):
    at = _open_with(ALIGNMENT, {})
    meta = _view(at).meta
    at.text_input(key="align.search").input("no-such-user").run()
    page_ok(at, "unknown id")
    assert "No user no-such-user among this layout's" in visible_text(at.caption)
    assert not any("points selected" in str(m.value) for m in at.markdown)
    single = meta.loc[~meta["overlap"]].iloc[0]
    at.text_input(key="align.search").input(str(single["user"])).run()
    page_ok(at, "known id")
    assert any("**1** points selected" in str(m.value) for m in at.markdown)
    assert at.query_params["sel"] == f"{single['domain']}:{single['user']}"
    assert at.query_params["search"] == str(single["user"])
    # a filter that hides the user: still selected (listed), not drawn, and said so
    at.segmented_control(key="align.overlap").set_value("overlapped").run()
    assert "hidden by the filter" in visible_text(at.caption)
    assert any("1 hidden by the filter" in str(m.value) for m in at.markdown)


def test_alignment_link_selection_wins_over_its_search(demo_app):
    meta = _view(_open_with(ALIGNMENT, {})).meta
    first, other = (f"{meta.at[p, 'domain']}:{meta.at[p, 'user']}" for p in (0, 7))
    searched = first.split(":", 1)[1]
    at = _open_with(ALIGNMENT, {"search": searched, "sel": [other]})
    assert not at.error, visible_text(at.error)
    assert at.text_input(key="align.search").value == searched
    assert at.query_params["sel"] == other  # the link's selection, not the search's


# --------------------------------------------------------------------------- training curves


def test_training_curves_link_round_trip_and_snapshot_picker(tiny_app):
    at = _open_with(CURVES, {"smooth": "0.25", "log": "1"})
    assert not at.error, visible_text(at.error)
    _metrics_ready(at)
    assert at.slider(key="curves.smoothing").value == pytest.approx(0.25)
    assert at.toggle(key="curves.log").value is True
    names = _snapshots(at)
    picker = at.segmented_control(key="curves.snapshot")
    assert picker.value == names[-1]
    assert len(at.get("plotly_chart")) >= 2  # curves + the snapshot's layout
    assert at.metric, "alignment metrics of the snapshot"
    picker.set_value(names[0]).run()
    page_ok(at, "first snapshot")
    assert at.query_params["snap"] == names[0]
    assert at.query_params["smooth"] == "0.25" and at.query_params["log"] == "1"
    at.slider(key="curves.smoothing").set_value(0.5).run()
    assert at.query_params["smooth"] == "0.5"
    # the snapshot's step is marked on the adversarial panels
    chart = at.get("plotly_chart")[0].proto.spec
    assert '"dash":"solid"' in chart.replace(" ", "") or "solid" in chart


def test_training_curves_stale_link_values(tiny_app):
    at = _open_with(CURVES, {"smooth": "nan", "log": "2", "snap": "after_all"})
    assert not at.error, visible_text(at.error)
    notices = _toasts(at)
    assert "smoothing" in notices and "log-scale" in notices and "snapshot" in notices
    assert at.slider(key="curves.smoothing").value == pytest.approx(0.6)
    assert at.toggle(key="curves.log").value is False


def test_link_of_an_upload_says_it_is_private(tiny_app):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.get("file_uploader")[0].upload("mine.pt", tiny_app.read_bytes()).run()
    page_ok(at, "valid upload")
    assert "ckpt" not in at.query_params  # an upload has no name in a link
    assert "private to this session" in visible_text(at.caption)


def test_no_checkpoint_at_all_with_a_link(monkeypatch, tmp_path):
    point_app_at(monkeypatch, tmp_path, None)
    at = _open_with(RECOMMENDATIONS, {"ckpt": "demo", "user": "1"})
    assert "not on this server" in _toasts(at)


# --------------------------------------------------------------------------- compare runs
# On the shipped pair (both carry their alignment and layouts: nothing to train or measure).

COMPARE = "pages/6_Compare.py"


@pytest.fixture
def shipped_pair(monkeypatch, tmp_path):
    from helpers.app import DEMO

    control = DEMO.with_name("control_no_adv.pt")
    if not (DEMO.is_file() and control.is_file()):
        pytest.skip("the shipped checkpoint pair is not there")
    folder = point_app_at(monkeypatch, tmp_path, DEMO)
    (folder / "control_no_adv.pt").symlink_to(control)
    return folder


def _picked(at: AppTest) -> list[str]:
    from pathlib import Path

    return [Path(p).stem for p in at.multiselect(key="compare.runs").value]


def _columns(at: AppTest) -> set:
    return {c for d in at.dataframe for c in getattr(d.value, "columns", [])}


def test_compare_link_round_trip_keeps_the_runs_and_their_order(shipped_pair):
    # a fresh session without a link: the shipped pair, demo first, written into the URL
    at = _open_with(COMPARE, {})
    assert _picked(at) == ["demo", "control_no_adv"]
    assert at.query_params["run"] == ["demo", "control_no_adv"]

    # the link with the order turned round: the same runs, control first (the reference)
    at = _open_with(COMPARE, {"run": ["control_no_adv", "demo"]})
    assert not at.error, visible_text(at.error)
    assert not at.toast, _toasts(at)
    assert _picked(at) == ["control_no_adv", "demo"]
    assert "demo − control_no_adv" in _columns(at)  # differences to the link's first run
    assert at.query_params["run"] == ["control_no_adv", "demo"]
    assert "run=control_no_adv&run=demo" in visible_text(at.code)  # the share link

    # a change of the pick is written back to the URL
    at.multiselect(key="compare.runs").unselect(str(shipped_pair / "demo.pt")).run()
    page_ok(at, "one run left")
    assert at.query_params["run"] == "control_no_adv"
    assert "at least two runs" in visible_text(at.info)


def test_compare_stale_link_gives_a_notice_and_the_default_runs(shipped_pair):
    for runs in (["demo", "no-such-run"], ["../checkpoints/demo", "/etc/passwd"], [""]):
        at = _open_with(COMPARE, {"run": runs})
        assert not at.error, visible_text(at.error)
        notices = _toasts(at)
        assert "not on this server" in notices and "default runs" in notices, (runs, notices)
        assert _picked(at) == ["demo", "control_no_adv"], runs
        assert at.query_params["run"] == ["demo", "control_no_adv"]  # what is shown instead


def test_compare_link_with_a_name_twice_counts_it_once(shipped_pair):
    at = _open_with(COMPARE, {"run": ["demo", "control_no_adv", "demo"]})
    assert not at.toast, _toasts(at)
    assert _picked(at) == ["demo", "control_no_adv"]


def test_compare_link_leaves_an_upload_out_and_says_so(shipped_pair):
    from helpers.app import DEMO

    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.get("file_uploader")[0].upload("mine.pt", DEMO.read_bytes()).run()
    page_ok(at, "valid upload")
    at.switch_page(COMPARE).run()
    page_ok(at, COMPARE)
    picker = at.multiselect(key="compare.runs")
    upload = next(p for p in picker.options if "mine" in p)
    picker.select(upload).run()
    page_ok(at, "upload picked")
    assert _picked(at) == ["demo", "control_no_adv", "mine"]
    assert at.query_params["run"] == ["demo", "control_no_adv"]  # no name in a link
    assert "the link's comparison leaves it out" in visible_text(at.caption)
