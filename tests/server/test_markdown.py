"""Run descriptions: CommonMark in, only safe HTML out."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from mltrail.server.ui.markdown import render_markdown


def test_commonmark_renders_with_headings_under_the_page_ones() -> None:
    html = render_markdown(
        "# Title\n\nSome **bold**, *italic*, ~~gone~~ and `code`.\n\n"
        "1. one\n2. two\n\n- a\n- b\n\n> quoted\n\n```\nx = 1\n```\n\n"
        "| a | b |\n|---|---|\n| 1 | 2 |\n\n[docs](https://example.org/x) [here](/runs/1)"
    )
    for piece in ("<h3>Title</h3>", "<strong>bold</strong>", "<em>italic</em>", "<s>gone</s>",
                  "<code>code</code>", "<ol>", "<li>two</li>", "<ul>", "<blockquote>",
                  "<pre><code>x = 1", "<table>", "<td>2</td>"):  # fmt: skip
        assert piece in html, piece
    assert '<a href="https://example.org/x" rel="noopener noreferrer nofollow">docs</a>' in html
    assert '<a href="/runs/1" rel="noopener noreferrer nofollow">here</a>' in html


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        '<a href="javascript:alert(1)">x</a>',
        "![img](https://evil.example/p.png)",
        "<iframe src=https://evil.example></iframe>",
        '[x](https://a.b "t" onmouseover=alert(1))',
    ],
)
def test_nothing_a_user_writes_becomes_active_markup(source: str) -> None:
    found = _Elements()
    found.feed(render_markdown(source))
    for tag, attrs in found.elements:
        assert tag in ("p", "a", "code", "pre"), tag
        for name, value in attrs:
            assert not name.startswith("on"), (name, value)
            if name == "href":
                assert (value or "").startswith(("http://", "https://", "/", "#")), value


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))
