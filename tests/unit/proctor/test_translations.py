"""Every message the proctoring package can show has a Kazakh and a Russian translation."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

import proctor
from proctor import errors

PACKAGE = Path(proctor.__file__).parent
ERROR_CLASSES = {name for name, obj in vars(errors).items() if isinstance(obj, type) and issubclass(obj, Exception)}


def used_msgids() -> set[str]:
    """English msgids in ``N_("…")`` marks and in ``SomeError("code", "msgid", …)`` raises."""
    found: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            position = 0 if name == "N_" else 1 if name in ERROR_CLASSES else None
            if position is not None and len(node.args) > position:
                arg = node.args[position]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.add(arg.value)
    return found


def catalog(language: str) -> dict[str, str]:
    with (PACKAGE / "locale" / language / "LC_MESSAGES" / "proctor.po").open("rb") as fh:
        return {m.id: m.string for m in read_po(fh, locale=language) if m.id}


def placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


def test_the_package_uses_messages_from_titles_reasons_chain_and_errors() -> None:
    ids = used_msgids()
    assert {"No face in view", "Identity not checked: no face found", "Evidence item {seq} was removed"} <= ids
    assert "The image cannot be decoded" in ids


@pytest.mark.parametrize("language", ["kk", "ru"])
def test_every_message_has_a_translation_with_the_same_placeholders(language: str) -> None:
    translations = catalog(language)
    missing = sorted(m for m in used_msgids() if not translations.get(m))
    assert missing == []
    broken = [m for m in used_msgids() if placeholders(m) != placeholders(translations[m])]
    assert broken == []
    assert all(re.search(r"[а-яәғқңөұүһі]", t, re.IGNORECASE) for t in translations.values())
