"""AppTest over every page: the shipped demo checkpoint (when present) and a tiny fresh run.

The tiny run is trained once per pytest session through the app's own background runner
(`training.start_training`), so the runner is exercised end to end as well. Each test points the app
at a temporary checkpoint folder (RECGURU_CHECKPOINT_DIR), so nothing is written into the
repository.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from helpers.app import (  # noqa: F401
    APP,
    DEMO,
    PAGES,
    ROOT,
    TIMEOUT,
    TINY_OVERRIDES,
    TINY_SOURCE,
    TRAIN_WAIT_S,
    add_projection,
    checkpoint_variant,
    fresh_app,
    open_page,
    page_ok,
    point_app_at,
    tiny_checkpoint_file,
    visible_text,
)
from streamlit.testing.v1 import AppTest

# --------------------------------------------------------------------------- every page


def test_every_page_runs(app_checkpoint):
    at = fresh_app().run()
    page_ok(at, "app.py")
    assert not at.error, visible_text(at.error)
    assert len(at.dataframe) >= 1  # Table-1 statistics
    assert at.metric, "headline metrics missing"
    for page in PAGES:
        at.switch_page(page).run()
        page_ok(at, page)
        assert not at.error, f"{page}: {visible_text(at.error)}"


def test_home_without_any_checkpoint(monkeypatch, tmp_path):
    point_app_at(monkeypatch, tmp_path, None)
    at = fresh_app().run()
    page_ok(at, "app.py")
    assert "No checkpoint yet" in visible_text(at.info)
    assert len(at.dataframe) == 1  # the synthetic default's Table-1 statistics
    for page in PAGES:
        at.switch_page(page).run()
        page_ok(at, page)
        assert not at.error, f"{page}: {visible_text(at.error)}"


def test_home_pick_checkpoint_per_session(tiny_app, tmp_path):
    folder = Path(os.environ["RECGURU_CHECKPOINT_DIR"])
    (folder / "other-run.pt").symlink_to(tiny_app)
    first, second = fresh_app().run(), fresh_app().run()
    box = first.selectbox(key="home.checkpoint")
    assert len(box.options) == 2
    box.select(str(folder / "other-run.pt")).run()
    page_ok(first, "app.py")
    from ui import state

    assert first.session_state[state.K_CHECKPOINT] == str(folder / "other-run.pt")
    second.run()
    assert second.session_state[state.K_CHECKPOINT] == str(folder / "demo.pt")  # untouched


def test_missing_selected_checkpoint_falls_back(tiny_app):
    from ui import state

    at = fresh_app()
    at.session_state[state.K_CHECKPOINT] = "/nonexistent/run.pt"
    at.run()
    page_ok(at, "app.py")
    assert at.session_state[state.K_CHECKPOINT].endswith("demo.pt")


def test_broken_checkpoint_shows_error(monkeypatch, tmp_path):
    folder = point_app_at(monkeypatch, tmp_path, None)
    (folder / "demo.pt").write_bytes(b"definitely not a torch file")
    at = fresh_app().run()
    page_ok(at, "app.py")
    assert "not a loadable RecGURU checkpoint" in visible_text(at.error)
    for page in PAGES:
        at.switch_page(page).run()
        page_ok(at, page)


# --------------------------------------------------------------------------- recommendations


def test_recommendations_pick_user_and_domain(tiny_app):
    at = open_page("pages/4_Recommendations.py")
    assert not at.error, visible_text(at.error)
    user = at.text_input(key="rec.user").value
    assert user, "a default user is filled in"
    assert at.dataframe, "histories shown"
    # The explanation is computed in the background; once it is done a rerun draws it.
    from ui import state, store

    job = store.start_explanation(at.session_state[state.K_CHECKPOINT], user, "A")
    deadline = time.monotonic() + 120
    job.wait(max(0.0, deadline - time.monotonic()))
    assert job.state == "done", job.error
    at.run()
    page_ok(at, "explanation drawn")
    assert [t.label for t in at.tabs][:2] == ["Influence (faithful)", "Attention (indicative)"]
    at.text_input(key="rec.user").input("definitely-not-a-user").run()
    page_ok(at, "unknown user")
    assert "in neither domain" in visible_text(at.error)
    at.text_input(key="rec.user").input(user).run()
    at.button(key="rec.random").click().run()
    page_ok(at, "random user")
    assert at.text_input(key="rec.user").value
    at.segmented_control(key="rec.domain").set_value("B").run()
    page_ok(at, "domain B")
    assert not at.error or "no history" in visible_text(at.warning)
    at.number_input(key="rec.k").set_value(5).run()
    page_ok(at, "k=5")


def test_recommendations_user_in_one_domain_only(tiny_app):
    from ui import state, store

    run = store.load_run(tiny_app)
    only_a = sorted(set(run.users("A")) - set(run.users("B")))
    at = fresh_app()
    at.session_state[state.K_GOTO_USER] = {"user": only_a[0], "domain": "B"}
    at.run()
    at.switch_page("pages/4_Recommendations.py").run()
    page_ok(at, "one-domain user")
    assert "no history in" in visible_text(at.warning)
    at.segmented_control(key="rec.domain").set_value("A").run()
    page_ok(at, "switch to A")
    assert not at.error, visible_text(at.error)


# --------------------------------------------------------------------------- alignment


def test_alignment_colour_modes_links_and_snapshots(tiny_app):
    at = open_page("pages/2_Alignment.py")
    assert not at.error, visible_text(at.error)
    for mode in ("overlap", "cluster", "domain"):
        at.segmented_control(key="align.color").set_value(mode).run()
        page_ok(at, f"colour by {mode}")
    at.toggle(key="align.links").set_value(True).run()
    page_ok(at, "links")
    picker = at.segmented_control(key="align.right")
    assert picker.value == "after"
    picker.set_value("during_0").run()
    page_ok(at, "intermediate snapshot")


def test_alignment_shows_the_collapse_cards_and_scree(tiny_app):
    at = open_page("pages/2_Alignment.py")
    deadline = time.monotonic() + 120
    while "Effective rank" not in [m.label for m in at.metric]:
        assert time.monotonic() < deadline, "the alignment cards never appeared"
        time.sleep(1)
        at.run()
    labels = [m.label for m in at.metric]
    assert {
        "Effective rank",
        "Top-3 variance share",
        "Uniformity",
        "MMD² between A and B",
        "Domain-classifier AUC",
    } <= set(labels)
    assert any("eff. rank" in str(c.proto.spec) for c in at.get("plotly_chart")), "no scree plot"
    texts = visible_text(at.caption) + visible_text(at.warning)
    assert "effective rank" in texts and ("Collapsed, not aligned" in texts or "dimensions" in texts)


def test_collapse_reading_says_collapsed_when_the_rank_fell():
    from ui.panels.alignment import collapse_reading

    snap = lambda r, t: {"spectrum": {"effective_rank": r, "top3_share": t}}  # noqa: E731
    level, text = collapse_reading({"before": snap(10.7, 0.55), "after": snap(4.7, 0.99)}, "after")
    assert level == "bad" and "Collapsed" in text and "10.7 → 4.7" in text
    assert collapse_reading({"before": snap(10.7, 0.55), "after": snap(10.1, 0.58)}, "after")[0] == "ok"
    assert collapse_reading({"before": snap(10.7, 0.55), "after": snap(9.0, 0.53)}, "after")[0] == "warn"
    assert collapse_reading({"before": snap(10.7, 0.55)}, "before") is None


def test_alignment_selection_links_to_recommendations(tiny_app):
    from ui import state, store

    at = open_page("pages/2_Alignment.py")
    # A plotly box selection cannot be made in AppTest; feed the same session state the page
    # writes when one arrives, then follow the link.
    run = store.load_run(tiny_app)
    user = run.users("B")[0]
    at.session_state[state.K_SELECTION] = {
        "view": None,
        "positions": [],
        "users": [{"user": user, "domain": "B"}],
    }
    at.switch_page("pages/4_Recommendations.py").run()
    page_ok(at, "recommendations with a selection")
    picker = at.selectbox(key="rec.from_selection")
    picker.select(0).run()
    page_ok(at, "pick from selection")
    assert at.text_input(key="rec.user").value == user
    assert at.segmented_control(key="rec.domain").value == "B"


def test_alignment_goto_button_switches_page(tiny_app):
    from ui import state, store

    at = open_page("pages/2_Alignment.py")
    path = at.session_state[state.K_CHECKPOINT]
    run = store.load_run(path)
    view = store.alignment_data(path, run, *store.projection_for(path, run))
    positions = [0, 1, len(view.meta) - 1]
    at.session_state[state.K_SELECTION] = {
        "view": view.ident,
        "positions": positions,
        "users": [{"user": view.meta.at[p, "user"], "domain": view.meta.at[p, "domain"]} for p in positions],
    }
    at.run()
    page_ok(at, "alignment with a selection")
    assert any("points selected" in str(m.value) for m in at.markdown)
    at.button(key="align.goto").click().run()
    page_ok(at, "goto recommendations")
    assert at.text_input(key="rec.user").value == str(view.meta.at[0, "user"])


def test_alignment_without_projection_offers_compute(monkeypatch, tmp_path, tiny):
    point_app_at(monkeypatch, tmp_path, tiny.with_name("tiny-raw.pt"))
    at = open_page("pages/2_Alignment.py")
    assert "no precomputed layout" in visible_text(at.info)
    at.selectbox(key="align.method").select("pca").run()
    at.button(key="align.compute").click().run()
    page_ok(at, "compute projection")
    assert not at.error, visible_text(at.error)
    assert "no precomputed layout" not in visible_text(at.info)
    at.run()  # the computed layout stays (cache hit) on the next run
    page_ok(at, "rerun after compute")
    assert "no precomputed layout" not in visible_text(at.info)


# --------------------------------------------------------------------------- curves, evaluation


def test_training_curves_controls(tiny_app):
    at = open_page("pages/3_Training_curves.py")
    assert not at.error, visible_text(at.error)
    at.slider(key="curves.smoothing").set_value(0.0).run()
    page_ok(at, "no smoothing")
    at.toggle(key="curves.log").set_value(True).run()
    page_ok(at, "log scale")


def test_evaluation_shows_baselines(monkeypatch, tmp_path, tiny):
    from recguru_core.train.checkpoints import load_checkpoint, save_checkpoint

    ckpt = load_checkpoint(tiny)
    ckpt["baselines"] = {
        "POP": {
            "test": ckpt["metrics"]["test"],
            "paired": {
                "test": {"A": {"NDCG@10": [0.021, 0.009, 0.033]}, "B": {"NDCG@10": [-0.01, -0.03, 0.01]}}
            },
            "tests": {
                "test": {
                    "A": {
                        "NDCG@10": {
                            "wilcoxon": {"p": 0.0004, "p_holm": 0.0031, "seeds": 3, "n_users": 180},
                            "paired_t": {"p": 0.0002, "p_holm": 0.0018, "seeds": 3, "n_users": 180},
                        }
                    }
                }
            },
        }
    }
    with_baselines = tmp_path / "with-baselines.pt"
    save_checkpoint(with_baselines, ckpt)
    point_app_at(monkeypatch, tmp_path, with_baselines)
    at = open_page("pages/5_Evaluation.py")
    assert not at.error, visible_text(at.error)
    assert "POP" in str(at.dataframe[0].value.columns.tolist())
    paired = next(d.value for d in at.dataframe if "Model" == d.value.index.name)
    assert paired.loc["POP"].iloc[0] == "+2.10 [+0.90, +3.30] ▲ · Holm p W 0.0031, t 0.0018 (3 seeds)"
    assert paired.loc["POP"].iloc[1] == "-1.00 [-3.00, +1.00]"  # no tests stored for B
    protocol = [c.value for c in at.caption if c.value.startswith("Protocol: leave-one-out")]
    assert protocol and "negatives drawn by popularity" in protocol[0] and "seeds 0 (1)" in protocol[0]


# --------------------------------------------------------------------------- train


def test_train_bad_server_side_csv_shows_error(tiny_app, tmp_path, monkeypatch):
    monkeypatch.setenv("RECGURU_DATA_ROOTS", str(tmp_path))
    bad_a, bad_b = tmp_path / "Books.csv", tmp_path / "Movies.csv"
    bad_a.write_text("foo,bar\n1,2\n")
    bad_b.write_text("foo,bar\n1,2\n")
    at = open_page("pages/1_Train.py")
    at.radio(key="train.kind").set_value("Server-side source").run()
    at.text_input(key="train.spec").input(f"csv:{bad_a},{bad_b}").run()
    at.button(key="train.check").click().run()
    page_ok(at, "bad csv")
    assert "missing column" in visible_text(at.error)
    assert "foo" not in visible_text(at.error), "the file's header is not echoed"
    missing = tmp_path / "nonexistent"
    at.text_input(key="train.spec").input(f"csv:{missing}/a.csv,{missing}/b.csv").run()
    at.button(key="train.check").click().run()
    page_ok(at, "missing files")
    assert "file not found" in visible_text(at.error)
    at.text_input(key="train.spec").input("bogus:thing").run()
    at.button(key="train.start").click().run()
    page_ok(at, "bad spec start")
    assert "unknown source" in visible_text(at.error)


@pytest.mark.parametrize(
    "spec",
    [
        "csv:/etc/passwd,/etc/hostname",
        "csv:../../../../etc/passwd,../../../../etc/passwd",
        "movielens:/etc",
        "amazon:{root}/a.json,{root}/b.json,meta_a=/etc/passwd",
    ],
)
def test_train_server_side_source_outside_data_roots_is_refused(tiny_app, tmp_path, monkeypatch, spec):
    monkeypatch.setenv("RECGURU_DATA_ROOTS", str(tmp_path))
    at = open_page("pages/1_Train.py")
    at.radio(key="train.kind").set_value("Server-side source").run()
    at.text_input(key="train.spec").input(spec.format(root=tmp_path)).run()
    for button in ("train.check", "train.start"):
        at.button(key=button).click().run()
        page_ok(at, f"{spec} {button}")
        assert len(at.error) == 1 and "outside the allowed data folders" in visible_text(at.error)
        assert str(tmp_path) in visible_text(at.error) and "root:" not in visible_text(at.error)
    from ui import training

    assert training.current_job() is None or training.current_job().source != spec


def test_train_server_side_source_off_on_a_public_address(tiny_app, monkeypatch):
    from streamlit import config

    monkeypatch.delenv("RECGURU_ALLOW_SERVER_SOURCES", raising=False)
    before = config.get_option("server.address")
    config.set_option("server.address", "0.0.0.0")
    try:
        at = open_page("pages/1_Train.py")
        at.radio(key="train.kind").set_value("Server-side source").run()
        page_ok(at, "public address")
        assert "Server-side sources are off" in visible_text(at.info)
        assert not [t for t in at.text_input if t.key == "train.spec"]
        monkeypatch.setenv("RECGURU_ALLOW_SERVER_SOURCES", "1")
        at.run()
        assert at.text_input(key="train.spec") is not None
    finally:
        config.set_option("server.address", before)


def test_train_synthetic_check_and_preset_switch(tiny_app):
    at = open_page("pages/1_Train.py")
    at.number_input(key="train.users").set_value(1000).run()
    at.button(key="train.check").click().run()
    page_ok(at, "check synthetic")
    assert not at.error, visible_text(at.error)
    assert at.dataframe, "statistics of the synthetic data shown"
    at.radio(key="train.preset").set_value("paper").run()
    page_ok(at, "paper preset")
    assert (
        at.number_input(key="train.adv_steps.paper").value > at.number_input(key="train.adv_steps.paper").min
    )


def test_train_form_reaches_every_setting(tiny_app, monkeypatch):
    """The form is the core's field table (w_adv included) plus an advanced key=value box,
    parsed and validated by the core before a job starts; a bad key is one st.error line."""
    from recguru_core.common.config import FORM_FIELDS
    from ui import training

    started = []
    monkeypatch.setattr(training, "current_job", lambda: None)
    monkeypatch.setattr(training, "start_training", lambda spec, **kw: started.append(kw) or "started")
    at = open_page("pages/1_Train.py")
    keys = {w.key for w in at.number_input} | {w.key for w in at.selectbox}
    assert {f"train.{f.name}.tiny" for f in FORM_FIELDS} <= keys
    assert at.number_input(key="train.w_adv.tiny").value == 1.0
    at.text_input(key="train.advanced.tiny").set_value("w_decr=0.2").run()
    at.button(key="train.start").click().run()
    plain = lambda: at.error[0].value.replace("\\", "")  # noqa: E731  (md-escaped underscores)
    assert len(at.error) == 1 and "w_decr" in plain() and not started, visible_text(at.error)
    at.text_input(key="train.advanced.tiny").set_value("n_layers=-2").run()
    at.button(key="train.start").click().run()
    assert len(at.error) == 1 and "n_layers" in plain() and not started, visible_text(at.error)
    at.number_input(key="train.w_adv.tiny").set_value(0.0).run()
    at.text_input(key="train.advanced.tiny").set_value("w_decor=0.2, bpr_negatives=20").run()
    at.button(key="train.start").click().run()
    assert not at.error, visible_text(at.error)
    overrides = started[-1]["overrides"]
    assert overrides["w_adv"] == 0.0 and overrides["w_decor"] == "0.2"
    assert overrides["bpr_negatives"] == "20" and overrides["d_model"] == 32  # tiny's own d


def test_train_page_shows_finished_job_and_adopts_it(tiny_app):
    from ui import state, training

    job = training.current_job()
    if job is None or job.state != "done":  # another test's run came last (cancelled or killed)
        job = training.start_training(
            TINY_SOURCE, preset="quick", overrides=TINY_OVERRIDES, seed=0, device="cpu", owner="pytest"
        )
        job.join(TRAIN_WAIT_S)
    assert job is not None and job.state == "done", job.error  # the tiny fixture's run
    at = open_page("pages/1_Train.py")
    assert any("Finished" in str(s.value) for s in at.success)
    if job.out.is_file():
        at.button(key="train.use").click().run()
        page_ok(at, "use finished")
        assert at.session_state[state.K_CHECKPOINT] == str(job.out)


def test_second_training_is_refused_while_one_runs(monkeypatch, tmp_path, tiny):
    from recguru_core.common.errors import RecGuruError
    from ui import training

    point_app_at(monkeypatch, tmp_path, tiny)
    slow = {**TINY_OVERRIDES, "pretrain_epochs": 50}
    job = training.start_training(TINY_SOURCE, preset="quick", overrides=slow, owner="a")
    try:
        with pytest.raises(RecGuruError, match="already running"):
            training.start_training(TINY_SOURCE, preset="quick", overrides=slow, owner="b")
        at = open_page("pages/1_Train.py")
        assert "already running" in visible_text(at.info)
        deadline = time.monotonic() + 120
        while not job.records() and job.active and time.monotonic() < deadline:
            time.sleep(0.2)
        assert job.state in ("running", "starting", "done"), job.error
    finally:
        job.cancel()
        job.join(120)
    assert job.state in ("cancelled", "done"), (job.state, job.error)
    if job.state == "cancelled":
        assert any(r.get("event") == "cancelled" for r in job.records()) or not job.records()


# --------------------------------------------------------------------------- partial checkpoints


def _strip_everything(ckpt: dict) -> None:
    ckpt["status"] = "in_progress"
    for key in ("history", "snapshots", "metrics", "projections"):
        ckpt.pop(key, None)


def _only_before(ckpt: dict) -> None:
    ckpt["status"] = "in_progress"
    ckpt["snapshots"] = {"before": ckpt["snapshots"]["before"], "during": []}
    ckpt["history"] = [r for r in ckpt["history"] if r.get("phase") == "pretrain"]
    ckpt["metrics"] = {}
    proj = ckpt["projections"]
    ckpt["projections"] = {**proj, "after": None, "during": [], "during_steps": []}


@pytest.mark.parametrize("edit", [_strip_everything, _only_before], ids=["bare", "after-phase-1"])
def test_partial_checkpoints_get_messages_not_tracebacks(monkeypatch, tmp_path, tiny, edit):
    point_app_at(monkeypatch, tmp_path, checkpoint_variant(tiny, tmp_path, edit.__name__, edit))
    at = fresh_app().run()
    page_ok(at, "app.py")
    assert "no test metrics yet" in visible_text(at.info)
    for page in PAGES:
        at.switch_page(page).run()
        page_ok(at, page)
        assert not at.error, f"{page}: {visible_text(at.error)}"
    at.switch_page("pages/2_Alignment.py").run()
    if edit is _strip_everything:
        assert "no GUR snapshots" in visible_text(at.info)
    else:
        assert at.get("plotly_chart"), "the single 'before' panel is drawn"
    at.switch_page("pages/3_Training_curves.py").run()
    if edit is _strip_everything:
        assert "no training history" in visible_text(at.info)
    at.switch_page("pages/5_Evaluation.py").run()
    assert "no test metrics yet" in visible_text(at.info)


def test_page_renders_never_import_umap(tmp_path, tiny):
    """umap/numba cost tens of seconds cold: no page render may import them (fresh process)."""
    import subprocess
    import sys

    folder = tmp_path / "checkpoints"
    folder.mkdir()
    (folder / "demo.pt").symlink_to(tiny)
    code = f"""
import os, sys
os.environ["RECGURU_CHECKPOINT_DIR"] = {str(folder)!r}
from streamlit.testing.v1 import AppTest
at = AppTest.from_file({APP!r}, default_timeout={TIMEOUT}).run()
for page in {PAGES!r}:
    at.switch_page(page).run()
    assert not at.exception, (page, [e.message for e in at.exception])
loaded = sorted(m for m in ("umap", "numba", "pynndescent") if m in sys.modules)
assert not loaded, loaded
print("ok", flush=True)
os._exit(0)  # background threads (prefetch) may still be inside torch: skip interpreter teardown
"""
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=ROOT,
    )
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr[-3000:]


# --------------------------------------------------------------------------- uploads


def test_home_upload_of_hostile_files_gives_one_error_line(tiny_app, tmp_path):
    from helpers.hostile import hostile_checkpoints

    files = {"notes.csv": b"user_id,item_id,timestamp\n", **hostile_checkpoints(tmp_path)}
    at = fresh_app().run()
    for name, data in files.items():
        at.get("file_uploader")[0].upload(name, data).run()
        page_ok(at, f"upload {name}")
        assert len(at.error) == 1, (name, visible_text(at.error))
        assert name in visible_text(at.error) and "Unexpected error" not in visible_text(at.error)
        assert at.session_state[state_key()].endswith("demo.pt"), "the selection is kept"
    assert not (tmp_path / "PWNED").exists(), "a pickled payload ran"
    at.switch_page("pages/5_Evaluation.py").run()
    page_ok(at, "the app keeps working")
    assert not at.error, visible_text(at.error)


def test_home_upload_of_a_valid_checkpoint_selects_it(tiny_app):
    at = fresh_app().run()
    at.get("file_uploader")[0].upload("mine.pt", tiny_app.read_bytes()).run()
    page_ok(at, "valid upload")
    assert not at.error, visible_text(at.error)
    selected = Path(at.session_state[state_key()])
    assert selected.name == "mine.pt" and selected.parent.parent.name == "uploads"


def state_key() -> str:
    from ui import state

    return state.K_CHECKPOINT


# --------------------------------------------------------------------------- escaping

EVIL = "**bold** [x](javascript:alert(1)) <script>alert(1)</script> $x$ :material/home:"


def _evil_checkpoint(tiny: Path, tmp_path: Path) -> Path:
    def plant(ckpt: dict) -> None:
        for d in ("A", "B"):
            dom = ckpt["data"][d]
            dom["name"] = f"{d}-{EVIL}"
            dom["titles"] = [f"{EVIL} {t}" for t in dom["titles"]]
            dom["genres"] = [f"{EVIL} {g}" for g in dom["genres"]]
        ckpt["data"]["source"] = f"synthetic:users=300 {EVIL}"

    return checkpoint_variant(tiny, tmp_path, "evil", plant)


def _markdown_texts(at: AppTest) -> list[str]:
    """Every element value Streamlit renders as markdown (labels included)."""
    out = [
        str(e.value)
        for kind in ("markdown", "caption", "subheader", "title", "info", "warning", "error", "success")
        for e in at.get(kind)
    ]
    out += [str(m.label) for m in at.metric] + [str(t.label) for t in at.tabs]
    out += [str(b.label) for b in at.button]
    out += [str(o) for s in at.get("segmented_control") for o in s.options]
    return out


def _plotly_specs(at: AppTest) -> str:
    return " ".join(e.proto.spec for e in at.get("plotly_chart"))


def test_markdown_and_html_from_data_is_escaped(monkeypatch, tmp_path, tiny):
    point_app_at(monkeypatch, tmp_path, _evil_checkpoint(tiny, tmp_path))
    from ui import state, store

    at = fresh_app().run()
    page_ok(at, "app.py")
    seen = []
    for page in ["app.py", "pages/4_Recommendations.py", "pages/5_Evaluation.py", "pages/2_Alignment.py"]:
        if page == "pages/4_Recommendations.py":
            path = at.session_state[state.K_CHECKPOINT]
            user = store.default_user(store.load_run(path))
            job = store.start_explanation(path, user, "A")
            job.wait(120)
        at.switch_page(page).run()
        page_ok(at, page)
        assert not at.error, f"{page}: {visible_text(at.error)}"
        texts = _markdown_texts(at)
        for raw in ("**bold**", "[x](javascript", "<script>", "$x$", " :material/home:"):
            bad = [t for t in texts if raw in t]
            assert not bad, f"{page}: unescaped {raw!r} in {bad[:2]}"
        seen += [t for t in texts if r"\*\*bold\*\*" in t]
        specs = _plotly_specs(at)
        assert "<script>" not in specs, page
        if page != "app.py":
            assert "&lt;script&gt;" in specs, f"{page}: data text reaches its charts escaped"
    assert seen, "the planted text is shown (escaped) somewhere"
    at.switch_page("pages/4_Recommendations.py").run()
    at.text_input(key="rec.user").input(EVIL).run()  # what a user types is escaped too
    page_ok(at, "typed user id")
    raw = " ".join(str(e.value) for e in at.error)
    assert "in neither domain" in visible_text(at.error) and "**bold**" not in raw


# --------------------------------------------------------------------------- hostile input


SMALL_B_SOURCE = "synthetic:users=300,k_core=2,items_b=30,genres_b=2,negatives=5"


@pytest.fixture(scope="session")
def small_domain(tmp_path_factory) -> Path:
    """A run whose domain B has 30 items: some users have fewer than 25 left unseen."""
    import subprocess
    import sys

    out = tmp_path_factory.getbasetemp() / "small-domain.pt"
    if not out.is_file():
        overrides = {k: v for k, v in TINY_OVERRIDES.items() if k != "device"}
        subprocess.run(
            [
                sys.executable,
                "-m",
                "recguru_core",
                "train",
                SMALL_B_SOURCE,
                "--out",
                str(out),
                "--preset",
                "quick",
                "--device",
                "cpu",
                "--quiet",
                *[f"{k}={v}" for k, v in overrides.items()],
            ],
            check=True,
            cwd=ROOT,
            timeout=TRAIN_WAIT_S,
            capture_output=True,
        )
    return out


def test_recommendations_k_is_clamped_to_the_unseen_items(monkeypatch, tmp_path, small_domain):
    from ui import state, store

    point_app_at(monkeypatch, tmp_path, small_domain)
    run = store.load_run(small_domain)
    users = run.users("B")
    unseen = {u: store.unseen_items(run, u, "B") for u in users}
    user = min(unseen, key=unseen.get)
    assert unseen[user] < 25
    at = fresh_app()
    at.session_state[state.K_GOTO_USER] = {"user": user, "domain": "B"}
    at.run()
    at.switch_page("pages/4_Recommendations.py").run()
    for k in (25, 100):
        at.number_input(key="rec.k").set_value(k).run()
        page_ok(at, f"k={k}")
        assert not at.error, visible_text(at.error)
        assert f"Only {unseen[user]} items" in visible_text(at.info) and f"not {k}" in visible_text(at.info)
        assert f"Top {unseen[user]} in" in " ".join(str(s.value) for s in at.subheader)


HOSTILE_SPECS = [
    "csv:",
    "csv:a,b,c",
    "synthetic:users=abc",
    "synthetic:users=-5",
    "synthetic:users=10",
    "synthetic:foo=1",
    "synthetic:overlap=7",
    "movielens:{root}",
    "movielens:{root}/nothere",
    "csv:{root}/dir.csv,{root}/dir.csv",
    "csv:{root}/empty.csv,{root}/empty.csv",
    "csv:{root}/binary.csv,{root}/binary.csv",
    "csv:{root}/fake.csv.gz,{root}/fake.csv.gz",
    "csv:{root}/fake.parquet,{root}/fake.parquet",
    "csv:{root}/header.csv,{root}/header.csv",
    "csv:{root}/mac.csv,{root}/mac.csv",
    "csv:{root}/mac.csv,{root}/mac.csv,k_core=abc",
    "csv:{root}/mac.csv,{root}/mac.csv,overlap=2",
    "amazon:{root}/mac.csv,{root}/mac.csv",
    "recbole:{root}/mac.csv,{root}/mac.csv",
    "synthetic:users=300,max_len=-1",
    "\x00",
]


def test_hostile_source_specs_give_one_line_never_unexpected(tiny_app, tmp_path, monkeypatch):
    root = tmp_path / "data"
    (root / "dir.csv").mkdir(parents=True)
    (root / "empty.csv").write_bytes(b"")
    (root / "binary.csv").write_bytes(bytes(range(256)) * 8)
    (root / "fake.csv.gz").write_bytes(b"not gzip")
    (root / "fake.parquet").write_bytes(b"PAR1 garbage")
    (root / "header.csv").write_text("user_id,item_id,timestamp\n")
    (root / "mac.csv").write_bytes(b"user_id,item_id,timestamp\ru,i,1\ru,j,2\r")  # bare \r
    monkeypatch.setenv("RECGURU_DATA_ROOTS", str(root))
    at = open_page("pages/1_Train.py")
    at.radio(key="train.kind").set_value("Server-side source").run()
    for spec in HOSTILE_SPECS:
        at.text_input(key="train.spec").input(spec.format(root=root)).run()
        at.button(key="train.check").click().run()
        page_ok(at, spec)
        assert len(at.error) == 1, (spec, visible_text(at.error))
        assert "Unexpected error" not in visible_text(at.error), (spec, visible_text(at.error))


def test_uploaded_tables_errors_name_the_upload_not_the_server_folder(tiny_app):
    at = open_page("pages/1_Train.py")
    at.radio(key="train.kind").set_value("Two uploaded CSVs").run()
    a, b = at.get("file_uploader")
    a.upload("Books.csv", b"user_id,item_id,timestamp\n")
    b.upload("Movies.csv", b"user_id,item_id,timestamp\nu,i,1\n")
    at.run()
    at.button(key="train.check").click().run()
    page_ok(at, "uploaded tables")
    assert "uploaded Books.csv: no interactions" in visible_text(at.error), visible_text(at.error)
    assert "runs" not in visible_text(at.error)


def test_training_curves_show_the_adversarial_health_verdicts(tiny_app):
    at = open_page("pages/3_Training_curves.py")
    health = [d.value for d in at.dataframe if "verdict" in d.value.columns]
    assert health, "no health table"
    assert "Wasserstein trend" in health[0]["check"].tolist()
    assert "Critic accuracy (last 20 %)" in health[0]["check"].tolist()


def test_evaluation_splits_metrics_by_user_group(tiny_app):
    at = open_page("pages/5_Evaluation.py")
    at.toggle(key="eval.groups").set_value(True).run()
    deadline = time.monotonic() + 120
    while not any("users" in d.value.columns for d in at.dataframe):
        assert time.monotonic() < deadline, "the group table never appeared"
        time.sleep(1)
        at.run()
    page_ok(at, "groups")
    table = next(d.value for d in at.dataframe if "users" in d.value.columns)
    assert {"overlapped", "not overlapped", "all users"} <= set(table["group"])
    assert any(c.startswith("full ") for c in table.columns)
