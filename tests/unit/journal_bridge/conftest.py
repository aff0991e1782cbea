"""A small exam-rating statement and a translator over this package's own catalogs.

The project's translator merges every package's catalog, first one wins, so another
package's "Student" could shadow ours; the statement tests read only ours, to check
the journal's own words.
"""

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

import journal_bridge
from journal_bridge.grading import ExamStatus
from journal_bridge.statement import Statement, StatementHeader, StudentEntry, build_statement

HEADER = StatementHeader(
    institution="Қостанай академиясы",
    faculty="Тергеу факультеті",
    group="ТК-21",
    discipline="Қылмыстық құқық",
    discipline_code="KK1201",
    credits=5,
    exam_date=date(2026, 1, 15),
    examiner="Әбдіғалиев Өмірзақ Ұланұлы",
)
# Names use every Kazakh-specific letter: ә ғ қ ң ө ұ ү һ і.
ENTRIES = [
    StudentEntry("s1", "Үмбетова Іңкәр", 82, 2),
    StudentEntry("s2", "Ғабитұлы Әлішер", 90, 95),
    StudentEntry("s3", "Һадиева Өміржан", 70, 50, ExamStatus.TIMED_OUT),
    StudentEntry("s4", "Аманов Қуаныш", 40),
    StudentEntry("s5", "Ұланов Ерсұлтан", 75, 88, ExamStatus.ANNULLED),
    StudentEntry("s6", "Ибраева Дана", 88, 91),
]


@pytest.fixture
def statement() -> Statement:
    return build_statement(HEADER, ENTRIES)


def _own_catalog(language: str) -> dict[str, str]:
    po = Path(journal_bridge.__file__).parent / "locale" / language / "LC_MESSAGES" / "journal_bridge.po"
    with po.open("rb") as fh:
        return {m.id: m.string for m in read_po(fh, locale=language) if m.id}


@pytest.fixture(scope="session")
def translate() -> Callable[..., str]:
    catalogs = {language: _own_catalog(language) for language in ("kk", "ru")}

    def translate(language: str, msgid: str, /, **params: object) -> str:
        return catalogs[language].get(msgid, msgid).format(**params)

    return translate
