"""Text a command prints, as a terminal is to show it.

A stored name or a file's text may hold C0 and C1 control characters (an escape
sequence, which a terminal obeys: round 51) and the bidirectional controls (marks,
embeddings, overrides, isolates), which a terminal obeys by laying out the text after
them reversed (round 52). A command writes each as its escape (`\\x1b`, `\\u202e`),
so the terminal shows the text and obeys nothing in it. Round 54 made this one
module, for the organizations' lookups and the rate card commands alike.
"""

from __future__ import annotations

import re

_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def shown(text: str) -> str:
    """`text` with each control character written as its escape: one line, obeying nothing."""
    return _CONTROLS.sub(_escaped, text)


def _escaped(found: re.Match[str]) -> str:
    code = ord(found.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
