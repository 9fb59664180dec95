"""Tokens of the search grammar, with the character offset each one starts at.

The lexer knows nothing about entities or comparators; it only cuts the text into
words, quoted strings, numbers and punctuation so that the parser can point at the
exact character where something unexpected starts.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from mltrail.errors import MalformedFilter


class Kind(enum.Enum):
    WORD = "word"  # bare identifiers and keywords (AND, LIKE, metrics.rmse, ...)
    STRING = "string"  # '...' or "..."
    BACKQUOTED = "backquoted"  # `...` (identifiers only)
    NUMBER = "number"
    OP = "operator"  # = != < <= > >=
    LPAREN = "("
    RPAREN = ")"
    COMMA = ","
    END = "end of input"


@dataclass(frozen=True)
class Token:
    kind: Kind
    text: str  # the raw text as written
    value: str  # for strings: the unescaped content; otherwise the raw text
    start: int
    end: int

    def upper(self) -> str:
        return self.value.upper() if self.kind is Kind.WORD else ""

    def describe(self) -> str:
        if self.kind is Kind.END:
            return "the end of the filter"
        return repr(self.text)


# Metric/param/tag keys may hold letters, digits, '_', '-', '.', '/', ':' without quoting.
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_\-./:]*")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_OPS = ("!=", "<=", ">=", "<>", "==", "=", "<", ">")
_QUOTES = {"'": Kind.STRING, '"': Kind.STRING, "`": Kind.BACKQUOTED}
_ESCAPABLE = {"\\", "'", '"', "`"}


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch in _QUOTES:
            token = _quoted(text, i)
        elif ch in "(),":
            kind = {"(": Kind.LPAREN, ")": Kind.RPAREN, ",": Kind.COMMA}[ch]
            token = Token(kind, ch, ch, i, i + 1)
        elif (match := _NUMBER.match(text, i)) is not None and (
            ch.isdigit() or ch == "." or (ch in "+-" and match.end() > i + 1)
        ):
            end = match.end()
            if end < n and (text[end].isalnum() or text[end] in "_."):
                tail = _WORD.match(text, end) or re.compile(r"\S+").match(text, end)
                bad_end = tail.end() if tail else end + 1
                raise MalformedFilter(f"invalid number {text[i:bad_end]!r}", text=text, position=i)
            token = Token(Kind.NUMBER, text[i:end], text[i:end], i, end)
        elif (match := _WORD.match(text, i)) is not None:
            token = Token(Kind.WORD, match.group(), match.group(), i, match.end())
        elif (op := next((o for o in _OPS if text.startswith(o, i)), None)) is not None:
            token = Token(Kind.OP, op, op, i, i + len(op))
        else:
            raise MalformedFilter(f"unexpected character {ch!r}", text=text, position=i)
        tokens.append(token)
        i = token.end
    tokens.append(Token(Kind.END, "", "", n, n))
    return tokens


def _quoted(text: str, start: int) -> Token:
    """A quoted string; the quote is escaped by doubling it or with a backslash."""
    quote = text[start]
    out: list[str] = []
    i, n = start + 1, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n:
            nxt = text[i + 1]
            # Other escapes keep their backslash: LIKE patterns use \% and \_.
            out.append(nxt if nxt in _ESCAPABLE else ch + nxt)
            i += 2
            continue
        if ch == quote:
            if i + 1 < n and text[i + 1] == quote:
                out.append(quote)
                i += 2
                continue
            return Token(_QUOTES[quote], text[start : i + 1], "".join(out), start, i + 1)
        out.append(ch)
        i += 1
    what = "identifier" if quote == "`" else "string"
    raise MalformedFilter(
        f"unterminated {what}: no closing {quote} for the one opened here",
        text=text,
        position=start,
    )
