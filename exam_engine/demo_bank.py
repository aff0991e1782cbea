"""The demo's bilingual bank, read from real Platonus files shipped with the package.

``demo_data/bank_kk.txt`` and ``bank_ru.txt`` hold the same ten questions in the same
order (``<question1>`` = difficulty 1, the first ``<variant>`` is the key), so they go
through the same importer and checks as a department's upload. Platonus markup has no
twin keys, so question *n* of both files gets the twin key ``demo-n``.
"""

from __future__ import annotations

import dataclasses
from importlib import resources

from question_bank.model import Item
from question_bank.parse import parse_bank

TOPIC = "негіздер / основы"  # shown to kk and ru readers of the bank pages
LANGUAGES = ("kk", "ru")


class DemoBankInvalid(RuntimeError):
    """A shipped demo file fails the bank checks: a packaging mistake, never the operator's."""


def demo_file(language: str) -> bytes:
    return resources.files("exam_engine.demo_data").joinpath(f"bank_{language}.txt").read_bytes()


def load_demo_items(language: str) -> tuple[Item, ...]:
    report = parse_bank(
        demo_file(language), filename=f"bank_{language}.txt", format="platonus", language=language, default_topic=TOPIC
    )
    if not report.accepted:
        raise DemoBankInvalid("; ".join(p.english() for p in report.errors))
    return tuple(dataclasses.replace(it, twin_key=f"demo-{n}") for n, it in enumerate(report.items, start=1))


DEMO_ITEMS: dict[str, tuple[Item, ...]] = {lang: load_demo_items(lang) for lang in LANGUAGES}
