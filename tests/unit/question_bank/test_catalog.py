import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

import question_bank
from exam_engine import i18n
from question_bank.messages import all_msgids

PLACEHOLDER = re.compile(r"\{(\w+)\}")
ROOT = Path(question_bank.__file__).parent


@pytest.mark.parametrize("language", ["kk", "ru"])
def test_every_question_bank_message_has_a_translation_with_the_same_placeholders(language):
    with (ROOT / "locale" / language / "LC_MESSAGES" / "question_bank.po").open("rb") as fh:
        catalog = {m.id: m for m in read_po(fh, locale=language) if m.id}
    for msgid in all_msgids():
        message = catalog.get(msgid)
        assert message is not None and message.string and not message.fuzzy, msgid
        assert set(PLACEHOLDER.findall(message.string)) == set(PLACEHOLDER.findall(msgid)), msgid


def test_the_shared_loader_finds_the_question_bank_catalog():
    assert i18n.translate("ru", "Unknown tag {tag}", tag="<x>") == "Неизвестный тег <x>"
    assert i18n.translate("kk", "Option {option} has no text", option=3) == "3-нұсқаның мәтіні жоқ"


def test_every_msgid_in_the_source_is_listed_for_translation():
    # Messages are English sentences handed to the edges; any such literal in a
    # module-level table must be in all_msgids().
    listed = set(all_msgids())
    for msgid in listed:
        assert msgid.strip() == msgid
    sources = "\n".join(p.read_text(encoding="utf-8") for p in ROOT.rglob("*.py"))
    for msgid in re.findall(r'msgid = "([^"]+)"', sources):
        assert msgid in listed, msgid


BANK_EDGES = (
    "services/banks.py",
    "services/bank_views.py",
    "services/bank_analysis.py",
    "web/api_bank.py",
    "cli/bank.py",
)


@pytest.mark.parametrize("language", ["kk", "ru"])
def test_every_message_of_the_bank_edges_in_exam_engine_is_translated(language):
    # New ones live in question_bank's catalog; reused ones (e.g. "Language must be kk or ru.") in exam_engine's.
    from babel.messages.extract import extract_python

    import exam_engine

    catalog = i18n.catalog(language)
    found = set()
    for name in BANK_EDGES:
        with (Path(exam_engine.__file__).parent / name).open("rb") as fh:
            found |= {msg for _, fn, msg, _ in extract_python(fh, {"N_": None}, [], {}) if isinstance(msg, str)}
    assert len(found) > 20
    for msgid in found:
        assert catalog.get(msgid), msgid
        assert set(PLACEHOLDER.findall(catalog[msgid])) == set(PLACEHOLDER.findall(msgid)), msgid
