"""Kazakh alphabetical order for names on journals and statements.

Python sorts by code point, which puts the Kazakh letters (ә ғ қ ң ө ұ ү һ і, all in
the Cyrillic Supplement range) after every Russian letter. Lists of students must
follow the Kazakh alphabet instead::

    а ә б в г ғ д е ё ж з и й к қ л м н ң о ө п р с т у ұ ү ф х һ ц ч ш щ ъ ы і ь э ю я

The key is case-insensitive; spaces and punctuation sort before any letter (so
"Ан Бота" comes before "Ана"), and characters outside the alphabet (Latin letters,
digits) come after it in code-point order. Text is NFC-normalised first so a
decomposed "й" or "ё" sorts like the composed letter. The original string is the
last tie-breaker, so the order is total and stable across runs.
"""

from __future__ import annotations

import unicodedata

KAZAKH_ALPHABET: tuple[str, ...] = tuple(
    "а ә б в г ғ д е ё ж з и й к қ л м н ң о ө п р с т у ұ ү ф х һ ц ч ш щ ъ ы і ь э ю я".split()
)

_SEPARATOR_RANK = 0
_FIRST_LETTER_RANK = 10
_OTHER_RANK = 1000
_RANK = {letter: _FIRST_LETTER_RANK + i for i, letter in enumerate(KAZAKH_ALPHABET)}


def _rank(char: str) -> int:
    if char in _RANK:
        return _RANK[char]
    if not char.isalnum():
        return _SEPARATOR_RANK
    return _OTHER_RANK + ord(char)


def kazakh_sort_key(text: str) -> tuple[tuple[int, ...], str]:
    """A sort key placing ``text`` in Kazakh alphabetical order (see the module doc)."""
    folded = unicodedata.normalize("NFC", text).casefold().strip()
    return tuple(_rank(c) for c in folded), text


def sorted_kazakh(names: list[str]) -> list[str]:
    """``names`` in Kazakh alphabetical order."""
    return sorted(names, key=kazakh_sort_key)
