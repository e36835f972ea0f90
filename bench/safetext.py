"""Untrusted text (names from suites and result files) made safe to store and to print.

One definition of the characters a name may not hold, used by the suite's and the result's
validation (bench.suite, bench.schema), and one way to print any user-supplied string on a rich
console (bench.cli, report's CLI): control characters shown as visible escapes, rich markup
escaped. Standard library only (rich is imported where markup is escaped).
"""

from __future__ import annotations

import re

# C0 and C1 controls (with DEL) and the Unicode bidi embedding/override/isolate controls, which
# reorder what a reader sees (`abc\u202egnp.exe` shows as "abcexe.png").
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def unsafe_char(text: str) -> str | None:
    """The first control or bidi character in `text` as 'U+000C', or None when there is none."""
    found = _UNSAFE.search(text)
    return None if found is None else f"U+{ord(found.group()):04X}"


def check_name(text: str) -> str:
    """A pydantic after-validator for names: refuse control and bidi characters."""
    bad = unsafe_char(text)
    if bad is not None:
        raise ValueError(f"holds the control character {bad} (names may not hold control or bidi characters)")
    return text


def visible(text: str) -> str:
    """`text` with every control or bidi character replaced by its escape (`\\x0c`, `\\u202e`)."""
    return _UNSAFE.sub(
        lambda m: repr(m.group())[1:-1] if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text
    )


def markup_safe(text: object) -> str:
    """Any value as text a rich console prints literally: controls visible, markup escaped
    (`[/]`, `[bold]`, `[link=...]` and ESC/OSC-8 sequences come out as typed)."""
    from rich.markup import escape

    return escape(visible(str(text)))


def headline(message: str) -> str:
    """The first informative line of a multi-line message: pydantic and transformers put a
    header line ('1 validation error for X', 'Class validation error for validator ...:') before
    the reason; a table or a one-line error shows the reason."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if not lines:
        return ""
    head = lines[0]
    if len(lines) > 1 and (head.endswith(":") or re.match(r"^\d+ validation errors? for ", head)):
        return f"{lines[1]} ({head.rstrip(':')})"
    return head
