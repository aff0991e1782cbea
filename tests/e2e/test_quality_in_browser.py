"""The quality department in real headless Chromium: a Platonus .docx with errors, then a good one, published."""

from __future__ import annotations

import io
import re

import aiohttp
import docx
import pytest

from exam_engine.domain.roles import Role
from exam_engine.services import catalog
from question_bank import api as bank_api
from tests.e2e.conftest import served_page, shot
from tests.factories import ADMIN, PASSWORD, make_user, make_world, new_api, open_client
from tests.integration.test_journal_world import JournalWorld, make_journal_world, sit_exam

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("backend", ["postgres"])]

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# Paragraph 3 repeats option 1 of question 1; question 2 (paragraph 5) has a single option.
BAD_BANK = [
    "<question>Қылмыстық құқықтың негізгі міндеті қандай?",
    "<variant>Қорғау",
    "<variant>Қорғау",
    "<variant>Жазалау",
    "<question>Екінші сұрақ?",
    "<variant>Бір",
]
GOOD_BANK = [
    "<question>Қылмыстық құқықтың негізгі міндеті қандай?",
    "<variant>Қорғау",
    "<variant>Жазалау",
    "<variant>Тәрбиелеу",
    "<question>Заң қашан күшіне енеді?",
    "<variant>Жарияланғаннан кейін",
    "<variant>Қабылданған күні",
    "<variant>Ешқашан",
]


def platonus_docx(paragraphs: list[str]) -> bytes:
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


async def sign_in(page, base: str, login: str, then: str) -> None:  # type: ignore[no-untyped-def]
    await page.goto(f"{base}/login?next={then}")
    await page.fill("#login", login)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit].primary")
    await page.wait_for_url(f"{base}{then}")


# Latin a kk/ru reader of a bank report legitimately sees: the file's name and the discipline code (as
# typed), format names and extensions. Anything else Latin of three letters or more, or a code
# (snake_case, dotted, "platonus-docx"), is something left untranslated.
_LATIN = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]*[A-Za-z0-9]")
_SHOWN_AS_IS = {"Platonus", "docx", "txt", "xlsx", "XLSX", "zip", "GIFT", "Moodle", "XML", "Aiken", "QTI", "LAW-201"}


async def assert_nothing_raw(page, *file_names: str) -> None:  # type: ignore[no-untyped-def]
    text = await page.inner_text("main")
    for name in file_names:
        text = text.replace(name, "")
    raw = [t for t in _LATIN.findall(text) if t not in _SHOWN_AS_IS and (len(t) >= 3 or "-" in t or "_" in t)]
    assert raw == [], raw


async def upload(page, name: str, paragraphs: list[str], language: str) -> None:  # type: ignore[no-untyped-def]
    await page.set_input_files(
        "#bank-file", files=[{"name": name, "mimeType": DOCX, "buffer": platonus_docx(paragraphs)}]
    )
    await page.fill("#discipline", "LAW-201")
    await page.select_option("#lang", language)
    await page.click("#upload-submit")
    await page.wait_for_selector("#verdict")


async def test_a_quality_user_reads_paragraph_numbered_errors_in_kk_and_ru_then_publishes_a_good_bank(
    services, browser
):
    async with services.engine.begin() as conn:
        await catalog.add_discipline(
            conn, ADMIN, code="LAW-201", name="Criminal law", credits=5, now=services.clock.now()
        )
    await make_user(services, "quality1", Role.QUALITY, language="kk")
    client = await open_client(services)
    base = str(client.make_url("")).rstrip("/")
    context = await browser.new_context(locale="kk-KZ", viewport={"width": 1100, "height": 900})
    page = await context.new_page()
    try:
        await sign_in(page, base, "quality1", "/quality")
        await shot(page, "quality-upload-kk")
        await upload(page, "bad.docx", BAD_BANK, "kk")
        errors = await page.locator("#errors li").all_inner_texts()
        assert errors[0].startswith("3-абзац, 1-сұрақ:")
        assert errors[1].startswith("5-абзац, 2-сұрақ:")
        assert await page.inner_text("#error-count") == "2"
        # The format by its name in the reader's language, not the code "platonus-docx".
        assert await page.inner_text("#format") == ".docx құжатындағы Platonus белгілеуі"
        await assert_nothing_raw(page, "bad.docx")
        await shot(page, "quality-report-errors-kk")

        # The reader switches to Russian: the language sticks to the account, the report speaks Russian.
        await page.click("button[name=lang][value=ru]")
        await page.wait_for_url(f"{base}/quality")
        await upload(page, "bad.docx", BAD_BANK, "kk")
        errors = await page.locator("#errors li").all_inner_texts()
        assert errors[0].startswith("Абзац 3, вопрос 1:")
        assert errors[1].startswith("Абзац 5, вопрос 2:")
        assert await page.inner_text("#format") == "Разметка Platonus в документе .docx"
        await assert_nothing_raw(page, "bad.docx")
        await shot(page, "quality-report-errors-ru")
        async with services.engine.connect() as conn:
            assert await bank_api.list_versions(conn, "LAW-201") == []  # all or nothing: nothing stored

        await page.goto(f"{base}/quality")
        await upload(page, "good.docx", GOOD_BANK, "kk")
        assert not await page.locator("#errors").count()
        await assert_nothing_raw(page, "good.docx")
        await shot(page, "quality-report-stored-ru")
        await page.click("#publish")
        await page.wait_for_selector("#published-notice")
        await assert_nothing_raw(page, "good.docx", "Test quality1")  # the uploader by name
        await shot(page, "quality-version-published-ru")
        async with services.engine.connect() as conn:
            [stored] = await bank_api.list_versions(conn, "LAW-201")
        assert (stored.status, stored.item_count, stored.version) == ("published", 2, 1)

        # A second upload with one more question: the versions compare as one added question.
        await page.goto(f"{base}/quality")
        await upload(page, "good2.docx", [*GOOD_BANK, "<question>Жаңа сұрақ?", "<variant>Иә", "<variant>Жоқ"], "kk")
        await page.goto(f"{base}/quality")
        await assert_nothing_raw(page, "good2.docx", "good.docx", "Test quality1")
        await shot(page, "quality-banks-ru")
        await page.click(".compare-form button[type=submit]")
        await page.wait_for_selector("#diff-added")
        assert await page.locator("#diff-added li").all_inner_texts() == ["3. Жаңа сұрақ?"]
        await shot(page, "quality-compare-ru")
        await page.goto(f"{base}/quality")
        template = await page.request.get(base + await page.get_attribute("a[href$='/bank/template']", "href"))
        assert template.status == 200 and (await template.body())[:2] == b"PK"
    finally:
        await context.close()
        await client.close()


async def test_item_analysis_of_a_finished_exam_is_shown_and_downloads_as_xlsx(services, browser):
    jw: JournalWorld = await make_journal_world(services, students=2)
    for n, login in enumerate(jw.world.students):
        await sit_exam(services, jw, login, correct=2 + n)
    client = await open_client(services)
    base = str(client.make_url("")).rstrip("/")
    context = await browser.new_context(locale="ru-RU", viewport={"width": 1100, "height": 900})
    page = await context.new_page()
    try:
        await sign_in(page, base, "quality1", "/quality/analysis")
        await page.click(f"a[href='/quality/analysis/{jw.world.exam_id}']")
        await page.wait_for_selector("table.analysis")
        assert await page.inner_text("#attempt-count") == "2"
        assert await page.locator("table.analysis tbody tr").count() >= 5
        # Two attempts (issue 22): no KR-20, no flags, a caution in the reader's language.
        assert await page.inner_text("#kr20") in ("недостаточно попыток", "әрекеттер жеткіліксіз")
        assert await page.locator("#caution").is_visible()
        assert await page.locator("table.analysis .flag").count() == 0
        await shot(page, "quality-item-analysis-kk")
        download = await page.request.get(f"{base}/api/v1/bank/exams/{jw.world.exam_id}/analysis.xlsx")
        assert download.status == 200
        assert (await download.body())[:2] == b"PK"  # an XLSX is a zip
    finally:
        await context.close()
        await client.close()


async def test_only_the_quality_department_and_the_academic_admin_open_the_bank_pages(services):
    await make_world(services, students=1)
    for login, role in (
        ("teacher1", Role.TEACHER),
        ("proctor1", Role.PROCTOR),
        ("root1", Role.SYSADMIN),
        ("quality1", Role.QUALITY),
        ("admin1", Role.ACADEMIC_ADMIN),
    ):
        await make_user(services, login, role)
    client = await open_client(services)
    try:
        for login, allowed in (
            ("student1", False),
            ("teacher1", False),
            ("proctor1", False),
            ("root1", False),
            ("quality1", True),
            ("admin1", True),
        ):
            api = await new_api(client)
            await api.login(login)
            for path in (
                "/quality",
                "/quality/analysis",
                "/quality/versions/1",
                "/quality/compare?old=1&new=1",
                "/quality/analysis/1",
            ):
                resp = await api.client.request("GET", path, allow_redirects=False)
                assert (resp.status != 403) is allowed, (login, path, resp.status)
            form = aiohttp.FormData({"_csrf": api.csrf, "discipline": "NOPE-1", "lang": "kk"})
            form.add_field("file", platonus_docx(GOOD_BANK), filename="good.docx", content_type=DOCX)
            resp = await api.client.request("POST", "/quality/upload", data=form, allow_redirects=False)
            assert resp.status == (404 if allowed else 403), login
            if allowed:  # the discipline must exist before its bank is stored: said on the form, in kk
                assert "NOPE-1" in await resp.text()
            await api.client.close()
    finally:
        await client.close()


async def _submit_file(page, name: str, paragraphs: list[str], language: str) -> None:  # type: ignore[no-untyped-def]
    await page.set_input_files(
        "#bank-file", files=[{"name": name, "mimeType": DOCX, "buffer": platonus_docx(paragraphs)}]
    )
    await page.fill("#discipline", "LAW-201")
    await page.select_option("#lang", language)
    await page.click("#upload-submit")


async def test_a_replace_that_drops_a_question_asks_for_confirmation_in_kk_and_ru(services, browser):
    async with services.engine.begin() as conn:
        await catalog.add_discipline(
            conn, ADMIN, code="LAW-201", name="Criminal law", credits=5, now=services.clock.now()
        )
    await make_user(services, "quality1", Role.QUALITY, language="kk")
    client = await open_client(services)
    base = str(client.make_url("")).rstrip("/")
    context = await browser.new_context(locale="kk-KZ", viewport={"width": 1100, "height": 900})
    page = await context.new_page()
    shorter = GOOD_BANK[:4]  # the second question ("Заң қашан күшіне енеді?") is gone
    try:
        await sign_in(page, base, "quality1", "/quality")
        await upload(page, "good.docx", GOOD_BANK, "kk")
        await page.goto(f"{base}/quality")
        await _submit_file(page, "short.docx", shorter, "kk")
        await page.wait_for_selector("#replace-losses")
        assert await page.locator("#replace-losses li").all_inner_texts() == [
            "2-сұрақ алынып тасталады: «Заң қашан күшіне енеді?»"
        ]
        assert "1 сұрақты алып тастайды" in await page.inner_text("#replace-message")
        await shot(page, "quality-replace-confirm-kk")

        await page.click("button[name=lang][value=ru]")
        await page.wait_for_url(f"{base}/quality")
        await _submit_file(page, "short.docx", shorter, "kk")
        await page.wait_for_selector("#replace-losses")
        assert await page.locator("#replace-losses li").all_inner_texts() == [
            "Вопрос 2 удаляется: «Заң қашан күшіне енеді?»"
        ]
        await shot(page, "quality-replace-confirm-ru")
        async with services.engine.connect() as conn:
            assert len(await bank_api.list_versions(conn, "LAW-201")) == 1  # nothing stored yet

        # The confirmation step: the same file again, the box ticked.
        await page.set_input_files(
            "#bank-file", files=[{"name": "short.docx", "mimeType": DOCX, "buffer": platonus_docx(shorter)}]
        )
        await page.check("#confirm-box")
        await page.click("#confirm-submit")
        await page.wait_for_selector("#verdict")
        async with services.engine.connect() as conn:
            versions = await bank_api.list_versions(conn, "LAW-201")
        assert [(v.version, v.item_count) for v in versions] == [(1, 2), (2, 1)]
        await shot(page, "quality-replace-stored-ru")
    finally:
        await context.close()
        await client.close()


async def test_on_an_english_computer_the_forms_own_words_are_still_kk_or_ru(services, browser):
    # Chromium words its form checks and file fields in its own language ("Please fill out this field.",
    # "Choose File", "No file chosen"): a hall computer left on English showed them on kk/ru pages.
    await make_user(services, "quality1", Role.QUALITY, language="ru")
    english = {"locale": "en-US", "viewport": {"width": 1100, "height": 900}}
    async with served_page(services, browser, **english) as (base, page):
        await page.goto(f"{base}/login")  # an English browser: the page is kk, the default
        await page.click("button[type=submit].primary")  # nothing filled in: the browser's own check
        assert await page.eval_on_selector("#login", "e => e.validationMessage") == "Бұл өрісті толтырыңыз."
        assert page.url.startswith(f"{base}/login")  # nothing was sent
        await sign_in(page, base, "quality1", "/quality")
        native = await page.eval_on_selector("#bank-file", "e => [e.getBoundingClientRect().width, e.tabIndex]")
        assert native == [1, -1]  # the browser's control is out of sight and out of the tab order
        assert await page.inner_text("#bank-file-choose") == "Выбрать файл"
        assert await page.inner_text("#bank-file ~ .file-name") == "Файл не выбран"
        await page.fill("#discipline", "LAW-201")
        await page.click("#upload-submit")  # no file chosen
        assert await page.eval_on_selector("#bank-file", "e => e.validationMessage") == "Выберите файл."
        await page.set_input_files(
            "#bank-file", files=[{"name": "права.docx", "mimeType": DOCX, "buffer": platonus_docx(["?"])}]
        )
        assert await page.inner_text("#bank-file ~ .file-name") == "права.docx"
        assert await page.eval_on_selector("#bank-file", "e => e.validationMessage") == ""
        await shot(page, "quality-upload-english-computer-ru")


async def test_a_word_bank_with_a_bold_key_shows_found_ready_and_refused_before_anything_is_stored(services, browser):
    # The clerk marked the right answer of question 2 in bold and left it third: the report
    # must say 3 found, 2 ready, 1 refused, name paragraph and question, and store nothing.
    async with services.engine.begin() as conn:
        await catalog.add_discipline(
            conn, ADMIN, code="LAW-201", name="Criminal law", credits=5, now=services.clock.now()
        )
    await make_user(services, "quality1", Role.QUALITY, language="kk")
    document = docx.Document()
    for text in [*GOOD_BANK, "<question>Конституция қай жылы қабылданды?", "<variant>1993", "<variant>1995"]:
        document.add_paragraph(text)
    document.paragraphs[7].runs[0].bold = True  # "<variant>Ешқашан" of question 2
    buffer = io.BytesIO()
    document.save(buffer)
    client = await open_client(services)
    base = str(client.make_url("")).rstrip("/")
    context = await browser.new_context(locale="kk-KZ", viewport={"width": 1100, "height": 900})
    page = await context.new_page()
    expected = {
        "kk": ("8-абзац, 2-сұрақ: 3-нұсқа жуан қаріппен", "bank-refused-question-kk"),
        "ru": ("Абзац 8, вопрос 2: Вариант 3 выделен полужирным", "bank-refused-question-ru"),
    }
    try:
        await sign_in(page, base, "quality1", "/quality")
        for language, (message, name) in expected.items():
            if language == "ru":
                await page.click("button[name=lang][value=ru]")
                await page.wait_for_url(f"{base}/quality")
            await page.set_input_files(
                "#bank-file", files=[{"name": "bank.docx", "mimeType": DOCX, "buffer": buffer.getvalue()}]
            )
            await page.fill("#discipline", "LAW-201")
            await page.select_option("#lang", "kk")
            await page.check("input[name=dry_run]")
            await page.click("#upload-submit")
            await page.wait_for_selector("#verdict")
            assert await page.inner_text("#found-count") == "3"
            assert await page.inner_text("#ready-count") == "2"
            assert await page.inner_text("#refused-count") == "1"
            [error] = await page.locator("#errors li").all_inner_texts()
            assert error.startswith(message)
            await shot(page, name)
            await page.goto(f"{base}/quality")
        async with services.engine.connect() as conn:
            assert await bank_api.list_versions(conn, "LAW-201") == []
    finally:
        await context.close()
        await client.close()


async def test_the_quality_department_sees_a_result_that_reached_no_journal_in_kk_and_ru(services, browser):
    from sqlalchemy import select, update

    from exam_engine.tables import exam_groups, group_members, groups
    from tests.integration.test_journal_world import KAZAKH_NAMES, relay_now, release_exam

    jw: JournalWorld = await make_journal_world(services, students=2)
    async with services.engine.begin() as conn:  # moved to a group with no journal of the discipline
        faculty = (await conn.execute(select(groups.c.faculty_id).where(groups.c.code == "G1"))).scalar()
        g9 = await catalog.ensure_group(conn, ADMIN, code="G9", faculty_id=faculty, now=services.clock.now())
        await conn.execute(
            update(group_members)
            .where(group_members.c.student_id == jw.ids["student2"])
            .values(left_at=services.clock.now())
        )
        await catalog.add_member(
            conn, ADMIN, group_id=g9, user_id=jw.ids["student2"], role=Role.STUDENT, now=services.clock.now()
        )
        await conn.execute(exam_groups.insert().values(exam_id=jw.world.exam_id, group_id=g9))  # the exam is G9's too
    await sit_exam(services, jw, "student2", correct=4)  # sat in G9, which keeps no LAW-101 journal
    await release_exam(services, jw)
    assert (await relay_now(services)).delivered == 1
    client = await open_client(services)
    base = str(client.make_url("")).rstrip("/")
    context = await browser.new_context(locale="kk-KZ", viewport={"width": 1100, "height": 800})
    page = await context.new_page()
    try:
        await sign_in(page, base, "quality1", "/quality/holds")
        for language, heading in (
            ("kk", "Ешбір журналға түспеген нәтижелер"),
            ("ru", "Результаты, не попавшие ни в один журнал"),
        ):
            if language == "ru":
                await page.click("button[name=lang][value=ru]")
                await page.wait_for_selector("#unplaced")
            assert await page.inner_text("#unplaced-h") == heading
            [shown] = await page.locator("#unplaced tbody tr").all_inner_texts()
            assert KAZAKH_NAMES[1] in shown and "(student2)" in shown and "LAW-101" in shown and "80" in shown
            await shot(page, f"quality-results-without-journal-{language}")
    finally:
        await context.close()
        await client.close()


async def test_files_word_or_excel_cannot_give_us_say_what_to_do_in_kk_and_ru(services, browser):
    # A password-protected .docx (Office writes it as an OLE file with an EncryptedPackage stream) said
    # "old .doc file"; a PDF or an Excel sheet with a broken key letter needs its own words too.
    from question_bank.formats.detect import OLE_MAGIC

    protected = OLE_MAGIC + b"\0" * 200 + "EncryptedPackage".encode("utf-16-le") + b"\0" * 800
    async with services.engine.begin() as conn:
        await catalog.add_discipline(
            conn, ADMIN, code="LAW-201", name="Criminal law", credits=5, now=services.clock.now()
        )
    await make_user(services, "quality1", Role.QUALITY, language="kk")
    client = await open_client(services)
    base = str(client.make_url("")).rstrip("/")
    context = await browser.new_context(locale="kk-KZ", viewport={"width": 1100, "height": 900})
    page = await context.new_page()

    async def send(name: str, data: bytes) -> list[str]:
        await page.goto(f"{base}/quality")
        await page.set_input_files("#bank-file", files=[{"name": name, "mimeType": DOCX, "buffer": data}])
        await page.fill("#discipline", "LAW-201")
        await page.select_option("#lang", "kk")
        await page.click("#upload-submit")
        await page.wait_for_selector("#verdict")
        await assert_nothing_raw(page, name, "Word", "Excel", "PDF", "RTF")
        return await page.locator("#errors li").all_inner_texts()

    try:
        await sign_in(page, base, "quality1", "/quality")
        [said] = await send("bank.docx", protected)
        assert said.startswith("Файл құпиясөзбен қорғалған") and ".docx" in said
        await shot(page, "quality-report-password-kk")
        [said] = await send("bank.docx", b"%PDF-1.4\n1 0 obj<<>>endobj\n")
        assert said.startswith("Файлдың атауы .docx, бірақ ішінде Word немесе Excel файлы емес")
        await page.click("button[name=lang][value=ru]")
        await page.wait_for_url(f"{base}/quality")
        [said] = await send("bank.docx", protected)
        assert said.startswith("Файл защищён паролем") and "снимите пароль" in said
        await shot(page, "quality-report-password-ru")
        [said] = await send("bank.docx", b"%PDF-1.4\n1 0 obj<<>>endobj\n")
        assert said.startswith("Файл назван .docx, но внутри это не файл Word или Excel")
        await shot(page, "quality-report-not-office-ru")
        async with services.engine.connect() as conn:
            assert await bank_api.list_versions(conn, "LAW-201") == []
    finally:
        await context.close()
        await client.close()
