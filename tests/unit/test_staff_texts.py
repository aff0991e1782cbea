"""Issue 20: what staff pages show instead of codes (pure helpers of admin_ui)."""

from __future__ import annotations

import re
from pathlib import Path

from admin_ui import exam_day, journal, staff


def test_a_mark_in_the_review_queue_is_its_symbol_and_label_never_its_code():
    assert journal.cell_text({"score": None, "mark": "ill"}, "ru") == "а (болезнь)"
    assert journal.cell_text({"score": None, "mark": "ill"}, "kk") == "а (ауру)"
    assert journal.cell_text({"score": 80, "mark": None}, "kk") == "80"
    assert journal.cell_text({"score": None, "mark": "no-such-mark"}, "ru") == "отметка"


def test_an_annulled_exam_reads_annulled_with_the_raw_score_kept():
    assert journal.exam_text({"score": 20, "status": "annulled"}, "kk") == "күші жойылды (20)"
    assert journal.exam_text({"score": 20, "status": "annulled"}, "ru") == "аннулирован (20)"
    assert journal.exam_text({"score": 85, "status": "passed"}, "ru") == "85"
    assert journal.exam_text(None, "ru") == "—"


def test_lessons_are_numbered_so_one_date_twice_is_two_headings():
    lessons = [
        {"kind": "lesson", "held_on": "2026-12-07"},
        {"kind": "lesson", "held_on": "2026-12-07"},
        {"kind": "midterm1", "held_on": "2026-12-07"},
        {"kind": "lesson", "held_on": "2026-12-07"},
    ]
    assert [x["label"] for x in journal.lesson_labels(lessons, "kk")] == [
        "Сабақ 1 · 7 жел.",
        "Сабақ 2 · 7 жел.",
        "Аралық бақылау 1 · 7 жел.",
        "Сабақ 3 · 7 жел.",
    ]
    assert journal.lesson_labels(lessons, "ru")[3]["label"].startswith("Занятие 3 · 7 ")


def test_audit_actions_and_subjects_are_words_and_an_unknown_action_is_not_shown_as_code():
    assert staff.action_name("attempt.paused", "ru") == "экзамен приостановлен"
    assert staff.action_name("journal.something_new", "kk") == "журнал: басқа әрекет"
    assert "something_new" not in staff.action_name("journal.something_new", "ru")
    assert staff.subject_name("journal:7", "ru") == "журнал 7"


def test_live_actions_follow_the_attempts_state():
    def row(status, *, bound=True, creditable=0.0):  # type: ignore[no-untyped-def]
        return {
            "state": "writing",
            "attempt": {
                "status": status,
                "bound_to_device": bound,
                "open_elsewhere": {"count": 0},
                "downtime": {"creditable_s": creditable},
            },
        }

    assert exam_day.actions_for({"attempt": None, "state": "absent"}) == []
    assert exam_day.actions_for(row("in_progress")) == ["pause", "extra-time", "release-device", "terminate"]
    assert exam_day.actions_for(row("paused", bound=False, creditable=30)) == [
        "resume",
        "extra-time",
        "downtime-credit",
        "terminate",
    ]
    assert exam_day.actions_for(row("annulled")) == []


def test_no_requirement_id_or_language_code_is_left_in_a_page_template():
    templates = Path(exam_day.__file__).parent / "templates"
    found = []
    for path in templates.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        found += [f"{path.name}: {m}" for m in re.findall(r"\((?:[EJRSQ]\d+)\)|[ ,(][EJRSQ]\d+\)", text)]
        found += [f"{path.name}: {m}" for m in re.findall(r"\(\{\{ *\w+\.language *\}\}\)", text)]
    assert found == []


def test_timeline_triggers_and_browser_events_are_named_not_coded():
    from admin_ui import proctoring

    assert proctoring._code_title("room_scan", "kk") == "сұрау бойынша бөлмені шолу"
    assert proctoring._code_title("reference", "ru") == "фото, загруженное администрацией"
    paste = proctoring._code_title("paste", "ru")
    assert paste and paste != "paste" and re.search("[а-я]", paste)
    assert proctoring._code_title("something_else", "kk") == "браузер оқиғасы"
