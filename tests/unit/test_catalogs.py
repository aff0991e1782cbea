"""Every message the code can show a person has a Kazakh and a Russian translation (S1)."""

from __future__ import annotations

import importlib.util
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir

from exam_engine.i18n import DOMAINS, LANGUAGES, catalog, normalise_language, translate

METHOD_MAP = [("**/templates/**.html", "jinja2.ext:babel_extract"), ("**.py", "python")]


def _msgids(package: str) -> set[str]:
    """Every msgid marked N_() in the code or _() in the package's templates."""
    spec = importlib.util.find_spec(package)
    assert spec and spec.submodule_search_locations
    root = Path(next(iter(spec.submodule_search_locations)))
    return {
        message
        for _f, _l, message, _c, _x in extract_from_dir(root, keywords={"N_": None, "_": None}, method_map=METHOD_MAP)
        if isinstance(message, str) and message
    }


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("package", ["exam_engine", "admin_ui"])
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_and_page_text_is_translated_with_the_same_placeholders(language, package):
    ids = _msgids(package)
    assert len(ids) > 50
    translated = catalog(language)
    missing = sorted(m for m in ids if m not in translated)
    assert not missing, f"untranslated in {language}: {missing}"
    for msgid in ids:
        assert _fields(translated[msgid]) == _fields(msgid), msgid


def test_translate_fills_placeholders_and_falls_back_to_english():
    assert (
        translate("ru", "Question {position} is not part of this attempt.", position=7)
        == "Вопрос 7 не входит в эту попытку."
    )
    assert translate("kk", "no such message {x}", x=1) == "no such message 1"


def test_language_is_picked_from_an_accept_language_header():
    assert normalise_language("ru-RU,ru;q=0.9,en;q=0.5") == "ru"
    assert normalise_language("en-US") == "kk"
    assert normalise_language(None) == "kk"


def test_the_domains_list_names_every_package_of_ours():
    assert set(DOMAINS) == {"exam_engine", "question_bank", "proctor", "journal_bridge", "admin_ui"}
