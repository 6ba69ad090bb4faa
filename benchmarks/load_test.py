"""Many users at once: N headless-Chromium sessions browse every page and explain a
recommendation while one training runs on the same machine; prints render times, server memory
and how often each checkpoint was loaded.

    python benchmarks/load_test.py [--sessions 8] [--no-training] [--timeout 900]

Loopback only (the server listens on 127.0.0.1), bounded in sessions and time. Steps:
  1. start `streamlit run app.py` on a free loopback port (the shipped checkpoints/ folder);
  2. one session alone: every page once to warm the caches, then every page again, timed
     (the single-user baseline);
  3. start one training (`python -m recguru_core train synthetic ... --threads 1`, a CPU job
     beside the server, as the app's own training child would be);
  4. N sessions at once, each: every page in turn, then an explanation of its own user;
  5. report the median/max render time per page (1 user vs N), exceptions seen in any page,
     'loaded checkpoint' lines in the server log per file, and the server's RSS (VmHWM).
The last line is one JSON object. Needs Chromium (CHROMIUM_PATH) and playwright.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _browser_helpers():
    """tests/e2e/test_browser.py's server and Chromium helpers, loaded from its file."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("test_browser", ROOT / "tests" / "e2e" / "test_browser.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_b = _browser_helpers()
CHROMIUM, CHROMIUM_ARGS, PAGES, _free_port, _wait_for_server = (
    _b.CHROMIUM,
    _b.CHROMIUM_ARGS,
    _b.PAGES,
    _b._free_port,
    _b._wait_for_server,
)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (its threads included) from /proc/<pid>/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def machine_busy_seconds() -> float:
    """CPU seconds all processes spent busy since boot (all cores)."""
    from recguru_core.common.threads import cpu_times

    return cpu_times()[0] / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> dict[str, float]:
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return out


async def wait_for_run(page, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    await page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_s * 1000)
    calm = 0
    while time.monotonic() < deadline:
        state = await page.get_attribute('[data-testid="stApp"]', "data-test-script-state")
        running = await page.locator('[data-testid="stStatusWidget"]').count() > 0
        calm = calm + 1 if state == "notRunning" and not running else 0
        if calm >= 2:
            return
        await asyncio.sleep(0.3)
    raise TimeoutError(f"page still running after {timeout_s:.0f}s")


async def visit(page, url: str, timeout_s: float) -> tuple[float, int]:
    """(seconds to a finished script run, exception boxes on the page)."""
    started = time.monotonic()
    await page.goto(url)
    await wait_for_run(page, timeout_s)
    seconds = time.monotonic() - started
    return seconds, await page.locator('[data-testid="stException"]').count()


async def session(browser, base: str, user: str | None, timeout_s: float, log: list) -> None:
    context = await browser.new_context(viewport={"width": 1440, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(timeout_s * 1000)  # a crowded 2-core server answers slowly
    try:
        for path, name, _charts, _wait in PAGES:
            seconds, exceptions = await visit(page, f"{base}/{path}", timeout_s)
            log.append({"page": name, "seconds": seconds, "exceptions": exceptions})
        if user is not None:
            await visit(page, f"{base}/Recommendations", timeout_s)
            box = page.get_by_label("User id", exact=True)
            started = time.monotonic()
            await box.fill(user)
            await box.press("Enter")
            await page.get_by_text("Influence (faithful)").first.wait_for(timeout=timeout_s * 1000)
            await wait_for_run(page, timeout_s)
            log.append(
                {
                    "page": "explanation",
                    "seconds": time.monotonic() - started,
                    "exceptions": await page.locator('[data-testid="stException"]').count(),
                }
            )
    finally:
        await context.close()


def summary(log: list[dict]) -> dict[str, dict[str, float]]:
    pages: dict[str, list[float]] = {}
    for row in log:
        pages.setdefault(row["page"], []).append(row["seconds"])
    return {
        p: {"median_s": round(statistics.median(v), 2), "max_s": round(max(v), 2), "n": len(v)}
        for p, v in pages.items()
    }


async def main_async(args) -> dict:
    from playwright.async_api import async_playwright

    from recguru_core.analysis.inference import LoadedRun

    checkpoint_dir = ROOT / "checkpoints"
    users = LoadedRun.load(checkpoint_dir / "demo.pt").users("A")
    picks = [str(users[(i + 1) * len(users) // (args.sessions + 1)]) for i in range(args.sessions)]
    port = _free_port()
    work = Path(tempfile.mkdtemp(prefix="recguru-load-"))
    server_log = work / "server.log"
    env = {
        **os.environ,
        "RECGURU_CHECKPOINT_DIR": str(checkpoint_dir),
        "RECGURU_RUNS_DIR": str(work / "runs"),
    }
    with open(server_log, "w") as log_file:
        server = subprocess.Popen(
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
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    training = None
    try:
        _wait_for_server(port, server, 60)
        base = f"http://127.0.0.1:{port}"
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            warm: list = []
            # warm the caches; then the baseline with a user nobody else asks for, so its
            # explanation is computed, as each crowd session's is
            await session(browser, base, str(users[0]), args.timeout, warm)
            alone: list = []
            await session(browser, base, str(users[-1]), args.timeout, alone)
            print(f"1 session: {summary(alone)}", file=sys.stderr)
            if not args.no_training:
                training = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "recguru_core",
                        "train",
                        "synthetic",
                        "--out",
                        str(work / "load-train.pt"),
                        "--quiet",
                        "--threads",
                        "1",
                    ],
                    cwd=ROOT,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            crowd: list = []
            server_cpu0, machine_cpu0 = cpu_seconds(server.pid), machine_busy_seconds()
            started = time.monotonic()
            await asyncio.wait_for(
                asyncio.gather(*(session(browser, base, u, args.timeout, crowd) for u in picks)),
                timeout=args.timeout,
            )
            crowd_s = time.monotonic() - started
            server_cpu = cpu_seconds(server.pid) - server_cpu0
            machine_cpu = machine_busy_seconds() - machine_cpu0
            await browser.close()
        training_alive = training is not None and training.poll() is None
        loads = Counter(
            m.group(1) for m in re.finditer(r"recguru: loaded checkpoint (\S+)", server_log.read_text())
        )
        memory = rss_mib(server.pid)
        one, many = summary(alone), summary(crowd)
        ratio = statistics.median(many[p]["median_s"] / max(one[p]["median_s"], 1e-3) for p in one)
        return {
            "sessions": args.sessions,
            "training_running": training_alive,
            "wall_s": round(crowd_s, 1),
            # where the crowd phase's CPU went: the server (one Python process: its script runs
            # and background jobs) vs everything else (Chromium, the training, this script)
            "server_cpu_s": round(server_cpu, 1),
            "machine_cpu_s": round(machine_cpu, 1),
            "server_cores_used": round(server_cpu / crowd_s, 2),
            "exceptions": sum(r["exceptions"] for r in warm + alone + crowd),
            "checkpoint_loads": dict(loads),
            "server_rss_mib": round(memory.get("VmRSS", float("nan")), 1),
            "server_peak_rss_mib": round(memory.get("VmHWM", float("nan")), 1),
            "one_user": one,
            "many_users": many,
            "median_ratio_many_to_one": round(ratio, 2),
        }
    finally:
        if training is not None and training.poll() is None:
            training.terminate()
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--no-training", action="store_true")
    parser.add_argument("--timeout", type=float, default=900, help="seconds, whole crowd phase")
    args = parser.parse_args()
    if not 1 <= args.sessions <= 16:
        parser.error("--sessions: 1..16 (the test is bounded)")
    result = asyncio.run(main_async(args))
    print(f"{'page':<18}{'1 user median s':>16}{f'{args.sessions} users median s':>20}{'max s':>8}")
    for page, one in result["one_user"].items():
        many = result["many_users"].get(page, {})
        print(
            f"{page:<18}{one['median_s']:>16.2f}{many.get('median_s', float('nan')):>20.2f}"
            f"{many.get('max_s', float('nan')):>8.2f}"
        )
    print(
        f"checkpoint loads: {result['checkpoint_loads']}; server RSS {result['server_rss_mib']} MiB "
        f"(peak {result['server_peak_rss_mib']}); exceptions: {result['exceptions']}; "
        f"training running throughout: {result['training_running']}"
    )
    print(
        f"crowd phase {result['wall_s']} s: server used {result['server_cpu_s']} CPU s "
        f"({result['server_cores_used']} cores), the whole machine {result['machine_cpu_s']} CPU s"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
