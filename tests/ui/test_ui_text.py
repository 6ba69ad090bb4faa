"""ui/text.py: escaping and formatting."""

from __future__ import annotations

from pathlib import Path

from ui import text

ROOT = Path(__file__).resolve().parents[2]


def test_markdown_escaping_of_data_text():
    assert text.md("Price $9.99 *now*") == r"Price \$9\.99 \*now\*"
    assert text.md(":material/home: [x](y)") == r"\:material/home\: \[x\]\(y\)"
    assert text.md(42) == "42"


def test_figure_text_escapes_plotly_html():
    assert text.figure_text("<b>x</b> & <a href='javascript:1'>") == (
        "&lt;b&gt;x&lt;/b&gt; &amp; &lt;a href='javascript:1'&gt;"
    )
    assert text.md("<script>") == r"\<script\>"
