"""A report's Markdown comes from an LLM: the HTML the analyst page shows must not carry
anything the Markdown smuggles in."""

from __future__ import annotations

from newspeech.analysis.reports.render import report_html


def test_html_in_the_markdown_comes_out_as_text() -> None:
    html = report_html(
        "# Findings\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n"
        'Text with <a href="javascript:alert(1)">a link</a> inside.'
    )

    assert "<h1>Findings</h1>" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<script" not in html
    assert "<img" not in html
    assert "<a " not in html


def test_script_links_are_not_links_and_images_are_not_fetched() -> None:
    html = report_html(
        "[run](javascript:alert(1)) [vb](vbscript:msgbox) [data](data:text/html,x) "
        "![pixel](https://tracker.example/p.png) [site](https://example.org/a)"
    )

    assert html.count("<a ") == 2  # the image's link text and the real link
    assert 'href="https://example.org/a"' in html
    assert 'href="javascript' not in html
    assert "vbscript:msgbox" in html
    assert 'href="vbscript' not in html
    assert 'href="data:' not in html
    assert "<img" not in html


def test_the_reports_markdown_keeps_its_structure() -> None:
    html = report_html("## Part\n\n- one\n- **two**\n\n| a | b |\n| --- | --- |\n| 1 | 2 |\n")

    assert "<h2>Part</h2>" in html
    assert "<li><strong>two</strong></li>" in html
    assert "<td>1</td>" in html
