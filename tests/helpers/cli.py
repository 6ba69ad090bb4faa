"""Running the real CLI entry point in-process and asserting the house's error contract: exactly
one `error:` line on stderr, exit status 2, no traceback; and byte snapshots of a folder."""

from __future__ import annotations

from pathlib import Path

from recguru_core import cli


def run_cli(argv, capsys) -> tuple[int, list[str]]:
    try:
        rc = cli.main([str(a) for a in argv])
    except SystemExit as exc:  # argparse exits; anything else propagates and fails the test
        rc = exc.code
    err = capsys.readouterr().err
    return rc, [line for line in err.splitlines() if line.strip()]


def assert_one_error(argv, capsys, *, contains: str = "") -> str:
    rc, lines = run_cli(argv, capsys)
    assert rc == 2, (rc, lines)
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert "Traceback" not in lines[0]
    assert contains.lower() in lines[0].lower(), lines[0]
    return lines[0]


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p): (p.read_bytes(), p.stat().st_mode) for p in sorted(folder.rglob("*")) if p.is_file()}
