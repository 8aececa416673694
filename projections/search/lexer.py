"""Split a filter string into tokens that remember where they start."""

from __future__ import annotations

import re

import msgspec

from trackledger.projections.search.errors import FilterError

__all__ = ["Token", "tokenize"]


class Token(msgspec.Struct, frozen=True):
    #: WORD, STRING (single or double quoted), BACKTICK, NUMBER, OP, LPAREN, RPAREN, COMMA,
    #: DOT or END.
    kind: str
    text: str
    position: int
    #: The string's content without its quotes (STRING and BACKTICK only).
    value: str = ""
    quote: str = ""


_NUMBER = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPS = ("!=", "<>", "<=", ">=", "==", "=", "<", ">")
_SIGN_FOLLOWS = {"OP", "LPAREN", "COMMA"}


def _quoted(text: str, start: int, quote: str) -> tuple[str, int]:
    """The content of the quoted run at ``start`` and the index after it.

    A doubled quote inside continues the string and stays as written: MLflow strips the
    outer quotes and unescapes nothing (``'it''s'`` is ``it''s``).
    """
    i = start + 1
    while True:
        end = text.find(quote, i)
        if end < 0:
            raise FilterError(f"unterminated {quote} quote", start, text[start : start + 20])
        if end + 1 < len(text) and text[end + 1] == quote and quote != "`":
            i = end + 2
            continue
        return text[start + 1 : end], end + 1


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        prev = tokens[-1].kind if tokens else "OP"
        if ch in "'\"`":
            value, end = _quoted(text, i, ch)
            kind = "BACKTICK" if ch == "`" else "STRING"
            tokens.append(Token(kind, text[i:end], i, value=value, quote=ch))
            i = end
            continue
        if ch in "+-" and prev in _SIGN_FOLLOWS:
            match = _NUMBER.match(text, i + 1)
            if match:
                tokens.append(Token("NUMBER", text[i : match.end()], i))
                i = match.end()
                continue
        # str.isdigit() also holds for digits no number is written with ("²"): only what
        # the number pattern takes is a number; anything else is an unexpected character.
        match = _NUMBER.match(text, i) if ch.isdigit() or (ch == "." and prev != "WORD") else None
        if match:
            tokens.append(Token("NUMBER", match.group(), i))
            i = match.end()
            continue
        if ch == ".":
            tokens.append(Token("DOT", ".", i))
            i += 1
            continue
        word = _WORD.match(text, i)
        if word:
            tokens.append(Token("WORD", word.group(), i))
            i = word.end()
            continue
        if ch in "(),":
            kind = {"(": "LPAREN", ")": "RPAREN", ",": "COMMA"}[ch]
            tokens.append(Token(kind, ch, i))
            i += 1
            continue
        op = next((op for op in _OPS if text.startswith(op, i)), None)
        if op is not None:
            tokens.append(Token("OP", op, i))
            i += len(op)
            continue
        raise FilterError("unexpected character", i, ch)
    tokens.append(Token("END", "", len(text)))
    return tokens
