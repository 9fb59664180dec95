"""A safe markdown subset for run descriptions: escape everything first, then convert.

Supported: paragraphs, ``#`` headings, ``-``/``*`` and numbered lists, fenced code blocks,
``inline code``, **bold**, *italic* and ``[text](http(s) URL)`` links. Because the text is
HTML-escaped before any conversion, nothing the user wrote can become markup except what these
rules produce; links accept only http(s) and relative targets and open without a referrer.
"""

from __future__ import annotations

import html
import re

from markupsafe import Markup

_LINK = re.compile(r"\[([^\]\n]+)\]\(([^)\s]+)\)")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ITALIC = re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])")
_CODE = re.compile(r"`([^`\n]+)`")
_SAFE_URL = re.compile(r"^(https?://|/|#)[^\s\"'<>`]*$", re.IGNORECASE)


def _inline(escaped: str) -> str:
    """Inline rules over already-escaped text; code spans are protected from the other rules."""
    spans: list[str] = []

    def keep_code(match: re.Match[str]) -> str:
        spans.append(f"<code>{match.group(1)}</code>")
        return f"\x00{len(spans) - 1}\x00"

    text = _CODE.sub(keep_code, escaped)

    def link(match: re.Match[str]) -> str:
        label, url = match.group(1), html.unescape(match.group(2))
        if not _SAFE_URL.match(url):
            return match.group(0)
        return (
            f'<a href="{html.escape(url, quote=True)}" rel="noopener noreferrer nofollow">'
            f"{label}</a>"
        )

    text = _LINK.sub(link, text)
    text = _BOLD.sub(r"<strong>\1</strong>", text)
    text = _ITALIC.sub(r"<em>\1</em>", text)
    return re.sub("\x00(\\d+)\x00", lambda m: spans[int(m.group(1))], text)


def render_markdown(source: str) -> Markup:
    out: list[str] = []
    paragraph: list[str] = []
    list_kind: str | None = None
    code: list[str] | None = None

    def flush_paragraph() -> None:
        if paragraph:
            out.append("<p>" + "<br>".join(_inline(line) for line in paragraph) + "</p>")
            paragraph.clear()

    def close_list() -> None:
        nonlocal list_kind
        if list_kind:
            out.append(f"</{list_kind}>")
            list_kind = None

    for raw in source.replace("\r\n", "\n").split("\n"):
        if code is not None:
            if raw.strip().startswith("```"):
                out.append("<pre><code>" + "\n".join(code) + "</code></pre>")
                code = None
            else:
                code.append(html.escape(raw))
            continue
        line = html.escape(raw.rstrip())
        stripped = line.strip()
        if stripped.startswith("```"):
            flush_paragraph()
            close_list()
            code = []
            continue
        if not stripped:
            flush_paragraph()
            close_list()
            continue
        heading = re.match(r"^(#{1,4})\s+(.*)$", stripped)
        item = re.match(r"^([-*]|\d+\.)\s+(.*)$", stripped)
        if heading:
            flush_paragraph()
            close_list()
            level = len(heading.group(1)) + 2  # the page owns h1/h2
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif item:
            flush_paragraph()
            kind = "ol" if item.group(1)[0].isdigit() else "ul"
            if list_kind != kind:
                close_list()
                out.append(f"<{kind}>")
                list_kind = kind
            out.append(f"<li>{_inline(item.group(2))}</li>")
        else:
            close_list()
            paragraph.append(stripped)
    if code is not None:
        out.append("<pre><code>" + "\n".join(code) + "</code></pre>")
    flush_paragraph()
    close_list()
    return Markup("\n".join(out))
