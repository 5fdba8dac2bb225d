"""Finding stored words in text people read: a vocabulary identifier, a state or a
rule's id where a page, a document or an email should say it in words (rounds 37-42).

The pages' tests looked for named phrases one at a time; documents and emails are
searched whole: every `snake_case` identifier (`internal_use`, `pending_payment`,
`percent_of_revenue`) and every rule id used as a name (`distribution-software`
but beside its description, as "(Installed, hosted ...; rule distribution-software)"
and "Clinic Pad (rule distribution-software) Installed, hosted ..." name it).
Addresses and links are left out first: their words are a machine's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# A stored identifier: two or more lower-case words joined by "_".
_IDENTIFIER = re.compile(r"(?<![\w./@-])[a-z]+(?:_[a-z0-9]+)+(?![\w@-])")
_LINK = re.compile(r"(?:https?://|/)\S+|\S+@\S+")


def stored_words(text: str, rule_ids: Iterable[str] = ()) -> list[str]:
    """The stored words in `text`, each with a little of what surrounds it: empty
    when the text says everything in words. `rule_ids` are the ids a rule may be
    named by; each is allowed only as "(rule id" or "; rule id", beside the rule's
    description."""
    plain = _LINK.sub(" ", " ".join(text.split()))
    found = [_around(plain, match) for match in _IDENTIFIER.finditer(plain)]
    # A rule id that is a word of its own ("development") is not told from the word.
    for rule in (rule for rule in rule_ids if "-" in rule):
        for match in re.finditer(rf"(?<![\w-]){re.escape(rule)}(?![\w-])", plain):
            if not plain[: match.start()].endswith(("(rule ", "; rule ")):
                found.append(_around(plain, match))
    return found


def _around(text: str, match: re.Match[str]) -> str:
    return text[max(match.start() - 40, 0) : match.end() + 40]
