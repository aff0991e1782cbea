"""Kazakh and Russian messages from gettext catalogs (S1).

Every package of ours ships its own catalog as plain ``.po`` files:
``<package>/locale/<lang>/LC_MESSAGES/<package>.po`` (and, for a large package, further
``*.po`` files beside it, one per area). The msgid is the English
text (which is also what logs show), with ``{name}`` placeholders filled by
``str.format``. Pure cores never translate: they carry a stable code, the English
msgid and the parameters; the edges (HTTP, CLI, pages) call :func:`translate`.

The ``.po`` files are read with Babel at first use, so there is no compile step
and no binary ``.mo`` in the repository.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po

LANGUAGES: tuple[str, ...] = ("kk", "ru")
DEFAULT_LANGUAGE = "kk"
DOMAINS: tuple[str, ...] = ("exam_engine", "question_bank", "proctor", "journal_bridge", "admin_ui")


def N_(msgid: str) -> str:
    """Mark a string for extraction without translating it here."""
    return msgid


class Word(str):
    """A parameter value that is itself a message (a type name, say): translated before it
    fills its placeholder, so a kk/ru sentence never carries an English word."""


def normalise_language(value: str | None) -> str:
    """Pick a supported language from a code or an Accept-Language header."""
    if not value:
        return DEFAULT_LANGUAGE
    for part in value.split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return DEFAULT_LANGUAGE


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


@functools.cache
def catalog(language: str) -> dict[str, str]:
    """All translated messages of one language, merged across our packages."""
    messages: dict[str, str] = {}
    for domain in DOMAINS:
        root = _package_dir(domain)
        if root is None:
            continue
        folder = root / "locale" / language / "LC_MESSAGES"
        # The package's own catalog first, then any further ones (one per area of the package).
        files = sorted(folder.glob("*.po"), key=lambda p: (p.stem != domain, p.name)) if folder.is_dir() else []
        for po in files:
            with po.open("rb") as fh:
                cat = read_po(fh, locale=language, domain=domain)
            for message in cat:
                if message.id and message.string and not message.fuzzy:
                    key = message.id if isinstance(message.id, str) else message.id[0]
                    text = message.string if isinstance(message.string, str) else message.string[0]
                    messages.setdefault(key, text)
    return messages


def gettext(language: str, msgid: str) -> str:
    return catalog(normalise_language(language)).get(msgid, msgid)


def translate(language: str, msgid: str, /, **params: Any) -> str:
    """Translate ``msgid`` and fill its ``{placeholders}``.

    A missing translation falls back to the English text rather than failing: a
    message must always reach the person, and a test checks catalog coverage.
    """
    text = gettext(language, msgid)
    if not params:
        return text
    params = {k: gettext(language, v) if isinstance(v, Word) else v for k, v in params.items()}
    try:
        return text.format(**params)
    except (KeyError, IndexError, ValueError):
        return msgid.format(**params)
