"""Developer tool: extract our msgids and merge them into each package's kk/ru catalogs.

    python tools/po_sync.py exam_engine        # adds new msgids (empty), drops unused ones

Translations are then written into the .po files by hand (or any PO editor).
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
METHOD_MAP = [("**/templates/**.html", "jinja2.ext:babel_extract"), ("**.py", "python")]


def extract(package: str) -> list[str]:
    seen: dict[str, None] = {}
    for _file, _line, message, _comments, _ctx in extract_from_dir(
        ROOT / package,
        keywords={"N_": None, "_": None},
        method_map=METHOD_MAP,
        options_map={"**/templates/**.html": {"extensions": "jinja2.ext.do"}},
    ):
        if isinstance(message, str) and message:
            seen.setdefault(message, None)
    return list(seen)


def translated_elsewhere(package: str, lang: str) -> set[str]:
    """Msgids another package's catalog already translates (shared edge code uses them)."""
    found: set[str] = set()
    for po in ROOT.glob(f"*/locale/{lang}/LC_MESSAGES/*.po"):
        if po.stem == package:
            continue
        with po.open("rb") as fh:
            found |= {m.id for m in read_po(fh) if m.id and m.string}
    return found


def sync(package: str, languages: tuple[str, ...] = ("kk", "ru")) -> None:
    all_ids = extract(package)
    for lang in languages:
        elsewhere = translated_elsewhere(package, lang)
        path = ROOT / package / "locale" / lang / "LC_MESSAGES" / f"{package}.po"
        old: dict[str, str] = {}
        if path.exists():
            with path.open("rb") as fh:
                old = {m.id: m.string for m in read_po(fh) if m.id}
        cat = Catalog(locale=lang, domain=package, project="exam-engine", charset="utf-8")
        ids = [m for m in all_ids if old.get(m) or m not in elsewhere]
        for msgid in ids:
            cat.add(msgid, old.get(msgid, ""))
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            write_po(fh, cat, width=0, omit_header=False, sort_output=False)
        missing = [m for m in ids if not old.get(m)]
        print(f"{path.relative_to(ROOT)}: {len(ids)} messages, {len(missing)} untranslated")


if __name__ == "__main__":
    for pkg in sys.argv[1:] or ["exam_engine"]:
        sync(pkg)
