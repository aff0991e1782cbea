"""Exporters to GIFT and to Platonus markup that read back to the same items.

Export→import is lossless for text, options, key position, topic and difficulty
(a property test holds us to it). The key keeps its position: Platonus gets
``<variantright>`` where the key is not first, GIFT writes ``=`` in place.
"""

from __future__ import annotations

from collections.abc import Sequence

from exam_engine.export_cells import clean_text
from question_bank.formats.gift import FORMAT_MARKERS, WEIGHT
from question_bank.formats.platonus import INLINE_TAGS, TAG, tag_name
from question_bank.model import Item

_GIFT_SPECIAL = str.maketrans({c: "\\" + c for c in "~=#{}:"} | {"\n": "\\n"})


class UnexportableItem(ValueError):
    """An item whose text would read back as markup (a ``<variant>`` inside a Platonus question)."""

    code = "unexportable_text"
    msgid = "Question {number} contains the tag {tag} and cannot be written as Platonus markup"

    def __init__(self, number: int, tag: str) -> None:
        self.params = {"number": number, "tag": tag}
        super().__init__(self.msgid.format(**self.params))


def _gift_escape(text: str) -> str:
    # clean_text: the same rule as every export (import already drops such characters; an older
    # stored version may hold them, and Moodle's XML backups cannot).
    return clean_text(text).replace("\\", "\\\\").translate(_GIFT_SPECIAL)


def _gift_option(text: str, correct: bool) -> str:
    escaped = _gift_escape(text)
    if WEIGHT.match(escaped):  # text that starts like "%50%" must not read as a weight
        escaped = ("%100%" if correct else "%0%") + escaped
    return ("=" if correct else "~") + escaped


def export_gift(items: Sequence[Item]) -> str:
    """GIFT for Moodle or a re-import; difficulty travels in a ``// difficulty: N`` comment."""
    out: list[str] = []
    topic: str | None = None
    for number, item in enumerate(items, start=1):
        if item.topic != topic:
            out.append(f"$CATEGORY: {_gift_escape(item.topic or '')}".rstrip())
            topic = item.topic
        if item.difficulty is not None:
            out.append(f"// difficulty: {item.difficulty}")
        marker = "[moodle]" if item.text.lower().startswith(FORMAT_MARKERS) else ""
        out.append(f"::{number}::{marker}{_gift_escape(item.text)} {{")
        out.extend(_gift_option(text, i == item.correct) for i, text in enumerate(item.options))
        out.append("}")
        out.append("")
    return "\n".join(out)


def _check_platonus_text(number: int, text: str) -> str:
    text = clean_text(text)
    for match in TAG.finditer(text):
        if tag_name(match) not in INLINE_TAGS:
            raise UnexportableItem(number, match.group(0))
    return text


def export_platonus(items: Sequence[Item], *, include_topics: bool = True) -> str:
    """Platonus markup; ``include_topics`` adds this product's ``<topic>`` lines.

    Raises :class:`UnexportableItem` when a text holds a tag Platonus would read.
    """
    out: list[str] = []
    topic: str | None = None
    for number, item in enumerate(items, start=1):
        if include_topics and item.topic != topic:
            out.append(f"<topic>{clean_text(item.topic or '')}")
            topic = item.topic
        level = "" if item.difficulty is None else str(item.difficulty)
        out.append(f"<question{level}>{_check_platonus_text(number, item.text)}")
        for index, option in enumerate(item.options):
            tag = "variantright" if index == item.correct and item.correct != 0 else "variant"
            out.append(f"<{tag}>{_check_platonus_text(number, option)}")
        out.append("")
    return "\n".join(out)
