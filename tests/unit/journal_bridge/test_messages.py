"""Every message the journal shows exists in Kazakh and Russian with the same placeholders."""

import string
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

import journal_bridge
from journal_bridge.grading import DisciplineStatus, NeedVerdict
from journal_bridge.messages import MESSAGES
from journal_bridge.rules import Reason
from journal_bridge.statement import COLUMNS

PACKAGE = Path(journal_bridge.__file__).parent


def _catalog(language: str) -> dict[str, str]:
    with (PACKAGE / "locale" / language / "LC_MESSAGES" / "journal_bridge.po").open("rb") as fh:
        return {m.id: m.string for m in read_po(fh, locale=language) if m.id and not m.fuzzy}


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("language", ["kk", "ru"])
def test_every_registered_message_has_a_translation_with_the_same_placeholders(language):
    catalog = _catalog(language)
    for code, msgid in MESSAGES.items():
        assert catalog.get(msgid, "").strip(), f"{language}: no translation for {code}"
        assert _fields(catalog[msgid]) == _fields(msgid), f"{language}: placeholders differ in {code}"


@pytest.mark.parametrize("language", ["kk", "ru"])
def test_the_catalog_holds_no_message_the_code_no_longer_uses(language):
    assert set(_catalog(language)) == set(MESSAGES.values())


def test_every_reason_status_column_and_need_verdict_is_a_registered_message():
    codes = [r.value for r in Reason] + [f"status_{s}" for s in DisciplineStatus]
    codes += list(COLUMNS) + [f"need_{v}" for v in NeedVerdict]
    assert [c for c in codes if c not in MESSAGES] == []


def test_the_project_translator_finds_the_journal_catalog():
    from exam_engine.i18n import translate

    kk = translate("kk", MESSAGES["cell_out_of_range"], value=101)
    assert kk == "Балл 0-ден 100-ге дейін болуы керек, берілгені: 101"
    assert translate("ru", MESSAGES["statement_title"]) == "Экзаменационно-рейтинговая ведомость"
