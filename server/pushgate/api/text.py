"""What a string from a request may hold: no control characters where none belong, whole tokens.

Every pattern is anchored with `\\A` and `\\Z`: `$` also matches before a final newline, so
`"en\\n"` would pass a `^...$` pattern.
"""

from __future__ import annotations

import re

# A tag name is embedded in a SQLite JSON path (`$."name"`), so it never needs quoting.
TAG_KEY = re.compile(r"\A[A-Za-z0-9_.:-]{1,64}\Z")
# C0 controls, DEL and C1 controls: never part of a title, tag, id, URL or language.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# The same, less tab, line feed and carriage return: a notification body may keep its lines.
CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Left in a decoded string only by a `\ud800`-style escape without its pair (RFC 8259 §8.2).
SURROGATE = re.compile(r"[\ud800-\udfff]")


def has_control(text: str, *, multiline: bool = False) -> bool:
    """True if `text` holds a control character (tab, LF and CR allowed when `multiline`)."""
    pattern = CONTROL_IN_TEXT if multiline else CONTROL
    return pattern.search(text) is not None
