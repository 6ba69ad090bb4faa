"""Real-browser test: `streamlit run app.py` on a loopback port, every page in headless Chromium.

Checks per page: the script run finishes (no running indicator), no exception box, plotly charts
drawn on the chart pages; prints each page's time to first render and saves screenshots to
tests/artifacts/ (and to docs/screenshots/ with UPDATE_SCREENSHOTS=1).

Without a browser the test is skipped with the reason, except under CI=true, where it fails.
Uses RECGURU_CHECKPOINT_DIR when set, else checkpoints/demo.pt when it exists, else a tiny
checkpoint trained for the test.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_S = 60
PAGE_TIMEOUT_S = 90

# (url path, screenshot name, expects plotly charts, text that appears once background work is
# done: waited for before the screenshot, not counted in the time to first render)
PAGES = [
    ("", "home", False, None),
    ("Train", "train", False, None),
    ("Alignment", "alignment", True, None),
    ("Training_curves", "training_curves", True, None),
    ("Recommendations", "recommendations", True, "Influence (faithful)"),
    ("Evaluation", "evaluation", True, None),
    ("Compare", "compare", True, None),
]
BACKGROUND_WAIT_S = 180
# Records, in page time (ms since navigation started), when the script run first finished, when
# the first plotly chart was drawn and when the last one had been. Read inside the page because
# polling from the test is blocked while plotly's bundle evaluates (a long task of ~0.9 s),
# which made the polled time land anywhere between the script's end and the charts.
RENDER_CLOCK = """
window.__render = {sawRunning: false, done: null, first: null, charts: null};
new MutationObserver(() => {
  const r = window.__render;
  const app = document.querySelector('[data-testid="stApp"]');
  const state = app && app.getAttribute('data-test-script-state');
  if (state === 'running') r.sawRunning = true;
  if (state === 'notRunning' && r.sawRunning && r.done === null) r.done = performance.now();
  const plots = document.querySelectorAll('.js-plotly-plot');
  const drawn = [...plots].filter(p => p.querySelector('.main-svg')).length;
  if (drawn && r.first === null) r.first = performance.now();
  if (plots.length && drawn === plots.length) r.charts = performance.now();
}).observe(document, {subtree: true, childList: true, attributes: true,
                      attributeFilter: ['data-test-script-state']});
"""
NAVIGATION = [
    ("Train", "train"),
    ("Alignment", "alignment"),
    ("Training curves", "training_curves"),
    ("Recommendations", "recommendations"),
    ("Evaluation", "evaluation"),
    ("Compare runs", "compare"),
    ("Home", "home"),
]

pytestmark = pytest.mark.browser


def _missing_browser(reason: str):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"browser test cannot run under CI: {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_server(port: int, proc: subprocess.Popen, timeout: float) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{port}/_stcore/health"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited early with status {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    raise TimeoutError(f"streamlit did not answer on port {port} within {timeout:.0f}s")


@pytest.fixture(scope="module")
def checkpoint_dir(tmp_path_factory) -> Path:
    """RECGURU_CHECKPOINT_DIR when set; else the repository's checkpoints/ when the shipped
    demo exists; else a temporary folder whose demo.pt is a tiny freshly trained checkpoint."""
    if os.environ.get("RECGURU_CHECKPOINT_DIR"):
        return Path(os.environ["RECGURU_CHECKPOINT_DIR"])
    if (ROOT / "checkpoints" / "demo.pt").is_file():
        return ROOT / "checkpoints"
    from helpers.app import tiny_checkpoint_file  # the same tiny run as the AppTest suite

    folder = tmp_path_factory.mktemp("browser-checkpoints")
    shutil.copy(tiny_checkpoint_file(tmp_path_factory), folder / "demo.pt")
    return folder


@pytest.fixture(scope="module")
def server(checkpoint_dir, tmp_path_factory):
    port = _free_port()
    env = {
        **os.environ,
        "RECGURU_CHECKPOINT_DIR": str(checkpoint_dir),
        "RECGURU_RUNS_DIR": str(tmp_path_factory.mktemp("browser-runs")),
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = open(ARTIFACTS / "streamlit-server.log", "w")  # noqa: SIM115  (closed in finally)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(ROOT / "app.py"),
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for_server(port, proc, SERVER_START_S)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        log.close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).is_file():
        _missing_browser(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing_browser("the playwright Python package is not installed")
    with sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        except Exception as exc:  # noqa: BLE001  (a broken install reads like a missing one)
            _missing_browser(f"Chromium at {CHROMIUM} did not start: {str(exc).splitlines()[0]}")
        try:
            yield b
        finally:
            b.close()


def wait_for_run(page, timeout_s: float = PAGE_TIMEOUT_S) -> None:
    """Until the app's script run has finished: the app root reports 'notRunning' and no
    running indicator is shown, twice in a row 300 ms apart (a rerun may follow a run)."""
    deadline = time.monotonic() + timeout_s
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_s * 1000)
    calm = 0
    while time.monotonic() < deadline:
        state = page.get_attribute('[data-testid="stApp"]', "data-test-script-state")
        running = page.locator('[data-testid="stStatusWidget"]').count() > 0
        calm = calm + 1 if state == "notRunning" and not running else 0
        if calm >= 2:
            return
        time.sleep(0.3)
    raise TimeoutError(f"page still running after {timeout_s:.0f}s")


def wait_until_settled(page, timeout_s: float = 20) -> None:
    """Lazily loaded elements (tables, graphviz, uploaders) show skeletons for a moment."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if page.locator('[data-testid="stSkeleton"], [data-testid="stSkeletonElement"]').count() == 0:
            return
        time.sleep(0.2)
    raise TimeoutError(f"page still running after {timeout_s:.0f}s")


def screenshot_whole_page(page, path: Path, max_height: int = 3600) -> None:
    """Streamlit scrolls inside its main container, so grow the viewport to the content."""
    width = page.viewport_size["width"] if page.viewport_size else 1440
    height = page.evaluate(
        "() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
        " return m ? m.scrollHeight : document.body.scrollHeight; }"
    )
    page.set_viewport_size({"width": width, "height": int(min(max(height, 600), max_height))})
    page.wait_for_timeout(400)  # plotly relayouts on resize
    page.screenshot(path=str(path))


def test_every_page_renders(browser, server):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    update = os.environ.get("UPDATE_SCREENSHOTS") == "1"
    if update:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, device_scale_factor=1)
    context.add_init_script(RENDER_CLOCK)
    timings, in_app, clock = {}, {}, {}
    try:
        page = context.new_page()
        # Warm-up: the first page load of a fresh server pays for imports and the checkpoint load.
        started = time.monotonic()
        page.goto(server + "/", wait_until="domcontentloaded", timeout=PAGE_TIMEOUT_S * 1000)
        wait_for_run(page)
        timings["(server warm-up, home)"] = time.monotonic() - started
        for path, name, charts, ready_text in PAGES:
            page = context.new_page()
            started = time.monotonic()
            page.goto(f"{server}/{path}", wait_until="domcontentloaded", timeout=PAGE_TIMEOUT_S * 1000)
            wait_for_run(page)
            timings[name] = time.monotonic() - started
            if ready_text:
                page.get_by_text(ready_text).first.wait_for(timeout=BACKGROUND_WAIT_S * 1000)
                wait_for_run(page)
            wait_until_settled(page)
            if charts:
                try:
                    page.wait_for_selector(".js-plotly-plot", timeout=30_000)
                except Exception:  # noqa: BLE001  (reported by the assertion below)
                    pass
                page.wait_for_timeout(600)  # let plotly finish drawing before the screenshot
            clock[name] = page.evaluate("() => window.__render")
            exceptions = page.locator('[data-testid="stException"]')
            assert exceptions.count() == 0, f"{name}: {exceptions.first.inner_text()[:500]}"
            shot = ARTIFACTS / f"{name}.png"
            screenshot_whole_page(page, shot)
            if charts:
                assert page.locator(".js-plotly-plot").count() > 0, f"{name}: no plotly chart drawn"
            if update:
                shutil.copy(shot, SCREENSHOTS / f"{name}.png")
            page.close()
        # The way people move around: the sidebar, inside one loaded app (no page reload).
        page = context.new_page()
        page.goto(server + "/", wait_until="domcontentloaded", timeout=PAGE_TIMEOUT_S * 1000)
        wait_for_run(page)
        for label, name in NAVIGATION:
            started = time.monotonic()
            page.locator(f'[data-testid="stSidebar"] a:has-text("{label}")').first.click()
            wait_for_run(page)
            in_app[name] = time.monotonic() - started
            exceptions = page.locator('[data-testid="stException"]')
            assert exceptions.count() == 0, f"{name}: {exceptions.first.inner_text()[:500]}"
    finally:
        context.close()
        print(
            "\ntime to first render (s), direct load of the URL in a new tab: polled by the "
            "test / script run done / first chart drawn / every chart drawn (page time, from "
            "navigation start); and via the sidebar inside one loaded app (polled)"
        )
        for name, seconds in timings.items():
            seen = clock.get(name) or {}
            done, first, charts = (
                f"{seen[k] / 1000:6.2f}" if seen.get(k) else "     -" for k in ("done", "first", "charts")
            )
            via = f"{in_app[name]:6.2f}" if name in in_app else ""
            print(f"  {name:<28} {seconds:6.2f} {done} {first} {charts}   {via}")


def open_page(browser, url: str):
    context = browser.new_context(viewport={"width": 1440, "height": 1100})
    page = context.new_page()
    page.goto(url, wait_until="domcontentloaded", timeout=PAGE_TIMEOUT_S * 1000)
    wait_for_run(page)
    wait_until_settled(page)
    return context, page


def test_alignment_lasso_selection_opens_recommendations(browser, server):
    """The plotly selection round trip AppTest cannot do: lasso in the left panel, the users
    are listed, the button opens their recommendations."""
    context, page = open_page(browser, f"{server}/Alignment")
    try:
        page.wait_for_selector(".js-plotly-plot", timeout=30_000)
        area = page.locator(".js-plotly-plot .nsewdrag").first.bounding_box()
        assert area, "no drag layer on the alignment chart"
        page.mouse.move(area["x"] + 3, area["y"] + 3)
        page.mouse.down()
        for fx, fy in ((0.97, 0.03), (0.97, 0.97), (0.03, 0.97), (0.02, 0.02)):
            page.mouse.move(area["x"] + fx * area["width"], area["y"] + fy * area["height"], steps=6)
        page.mouse.up()
        page.wait_for_selector("text=points selected", timeout=30_000)
        wait_for_run(page)
        assert page.locator('[data-testid="stException"]').count() == 0
        page.get_by_role("button", name="Recommendations for user").click()
        page.wait_for_url(re.compile(r".*/Recommendations(\?.*)?$"), timeout=30_000)  # URL carries the view
        wait_for_run(page)
        wait_until_settled(page)
        assert page.locator('[data-testid="stException"]').count() == 0
        assert page.get_by_text("one of your Alignment selection").count() == 1
        assert page.get_by_label("User id", exact=True).input_value()
    finally:
        context.close()


def test_bad_uploaded_csvs_show_an_error(browser, server, tmp_path):
    bad = tmp_path / "Books.csv"
    bad.write_text("foo,bar\n1,2\n")
    other = tmp_path / "Movies.csv"
    other.write_text("foo,bar\n1,2\n")
    context, page = open_page(browser, f"{server}/Train")
    try:
        page.get_by_text("Two uploaded CSVs").click()
        wait_for_run(page)
        inputs = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
        inputs.nth(0).set_input_files(str(bad))
        wait_for_run(page)
        inputs.nth(1).set_input_files(str(other))
        wait_for_run(page)
        page.get_by_role("button", name="Check data").click()
        page.wait_for_selector('[data-testid="stAlert"]:has-text("missing column")', timeout=30_000)
        assert page.locator('[data-testid="stException"]').count() == 0
    finally:
        context.close()


def test_non_checkpoint_on_the_checkpoint_uploader_is_one_error_line(browser, server, tmp_path):
    """A CSV (and random bytes named .pt) dropped on Home's .pt uploader: one error line, no
    Streamlit exception, and the page keeps working."""
    import os

    files = {"ratings.csv": b"user_id,item_id,timestamp\nu,i,1\n", "random.pt": os.urandom(2048)}
    context, page = open_page(browser, server)
    try:
        for name, data in files.items():
            path = tmp_path / name
            path.write_bytes(data)
            page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(path))
            page.wait_for_selector(f'[data-testid="stAlert"]:has-text("{name}")', timeout=30_000)
            wait_for_run(page)
            assert page.locator('[data-testid="stException"]').count() == 0
        page.get_by_role("link", name="Evaluation").first.click()
        page.wait_for_url(re.compile(r".*/Evaluation(\?.*)?$"), timeout=30_000)
        wait_for_run(page)
        assert page.locator('[data-testid="stException"]').count() == 0
    finally:
        context.close()


def test_two_sessions_explain_different_users_at_once(browser, server, checkpoint_dir):
    """Two browser sessions ask for explanations of two different users at the same moment:
    both finish (no model lock: attention weights come back from the layer when asked)."""
    from recguru_core.analysis.inference import LoadedRun

    users = LoadedRun.load(checkpoint_dir / "demo.pt").users("A")
    picks = [str(users[len(users) // 3]), str(users[2 * len(users) // 3])]
    sessions = [open_page(browser, f"{server}/Recommendations") for _ in picks]
    try:
        for (_, page), user in zip(sessions, picks):
            box = page.get_by_label("User id", exact=True)
            box.fill(user)
            box.press("Enter")
        started = time.monotonic()
        for _, page in sessions:
            page.get_by_text("Influence (faithful)").first.wait_for(timeout=BACKGROUND_WAIT_S * 1000)
            wait_for_run(page)
            assert page.locator('[data-testid="stException"]').count() == 0
        print(f"\ntwo concurrent explanations done in {time.monotonic() - started:.1f} s")
        for (_, page), user in zip(sessions, picks):
            assert page.get_by_label("User id", exact=True).input_value() == user
    finally:
        for context, _ in sessions:
            context.close()


def test_shared_link_opens_the_same_view_in_a_fresh_browser(browser, server, checkpoint_dir):
    """A link copied from one session (Recommendations: user + domain + k; the checkpoint by
    name) opened in a new browser context shows that user, and the share box holds the link."""
    from urllib.parse import urlencode

    from recguru_core.analysis.inference import LoadedRun

    run = LoadedRun.load(checkpoint_dir / "demo.pt")
    both = sorted(set(run.users("A")) & set(run.users("B")))
    user = str(both[len(both) // 2])
    query = urlencode({"ckpt": "demo", "user": user, "domain": "B", "k": "7"})
    started = time.monotonic()
    context, page = open_page(browser, f"{server}/Recommendations?{query}")
    try:
        print(f"\nshared link rendered in {time.monotonic() - started:.2f} s")
        assert page.locator('[data-testid="stException"]').count() == 0
        assert page.get_by_label("User id", exact=True).input_value() == user
        assert page.get_by_label("Top k", exact=True).input_value() == "7"
        assert page.get_by_text("Top 7 in", exact=False).count() >= 1
        assert f"user={user}" in page.url and "domain=B" in page.url
        page.get_by_text("Share this view").first.click()
        page.wait_for_selector('[data-testid="stCode"]', timeout=10_000)
        shared = page.locator('[data-testid="stCode"]').first.inner_text()
        assert "Recommendations?" in shared and f"user={user}" in shared, shared
    finally:
        context.close()
    stale = browser.new_context(viewport={"width": 1440, "height": 1100})
    try:
        page = stale.new_page()
        page.goto(
            f"{server}/Training_curves?ckpt=nope&smooth=abc",
            wait_until="domcontentloaded",
            timeout=PAGE_TIMEOUT_S * 1000,
        )
        page.get_by_text("not on this server").first.wait_for(timeout=PAGE_TIMEOUT_S * 1000)
        wait_for_run(page)
        assert page.locator('[data-testid="stException"]').count() == 0
        assert "ckpt=demo" in page.url and "smooth=0.6" in page.url  # the defaults, shareable
    finally:
        stale.close()
