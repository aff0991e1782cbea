"""Every English msgid the package can emit, for catalog coverage checks and extraction."""

from __future__ import annotations

from question_bank.analysis import FLAG_MESSAGES, ITEM_TOO_FEW, KR20_NOT_AVAILABLE, SMALL_SAMPLE_CAUTION
from question_bank.analysis_xlsx import CAUTION_LABEL, ITEM_HEADERS, OPTION_HEADER, SHEET_NAMES, SUMMARY_LABELS
from question_bank.blueprint import BlueprintShortfall
from question_bank.export import UnexportableItem
from question_bank.formats.xlsx import TEMPLATE_INSTRUCTIONS
from question_bank.parse import UnknownFormatError
from question_bank.problems import MESSAGES


def all_msgids() -> tuple[str, ...]:
    found = [
        *(msgid for _, msgid in MESSAGES.values()),
        UnknownFormatError.msgid,
        UnexportableItem.msgid,
        BlueprintShortfall.msgid,
        *TEMPLATE_INSTRUCTIONS,
        *FLAG_MESSAGES.values(),
        *ITEM_HEADERS,
        OPTION_HEADER,
        *SUMMARY_LABELS,
        *SHEET_NAMES,
        CAUTION_LABEL,
        KR20_NOT_AVAILABLE,
        SMALL_SAMPLE_CAUTION,
        ITEM_TOO_FEW,
    ]
    return tuple(dict.fromkeys(found))
