"""ui/text.py: escaping and formatting."""

from __future__ import annotations

from pathlib import Path

from ui import text

ROOT = Path(__file__).resolve().parents[2]


def test_markdown_escaping_of_data_text():
    assert text.md("Price $9.99 *now*") == r"Price \$9\.99 \*now\*"
    assert text.md(":material/home: [x](y)") == r"\:material/home\: \[x\]\(y\)"
    assert text.md(42) == "42"
