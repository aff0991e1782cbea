"""A proctored exam in real headless Chromium: the fake webcam shows a face, then nobody, then two
faces; the shared "entire screen" is Chromium's fake desktop; the proctor reviews the timeline.

The webcam file is built from the proctoring fixture scenes (public-domain scikit-image
pictures, ``tests/unit/proctor/scenes.py``). Analysis runs in the embedded process pool (the
Redis worker path has its own integration tests), with a 1 s frame interval set on the exam.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import func, select

from exam_engine.domain.roles import Role
from exam_engine.services import proctor_admin
from exam_engine.services.proctoring import runtime_of
from exam_engine.tables import attempts
from proctor.analysis.screen import analyze_screenshot
from proctor.config import load_config
from proctor.runtime import ProctorRuntime
from proctor.tables import evidence_items, proctor_attempts, proctor_decisions, proctor_flags
from tests.e2e.conftest import CHROMIUM, CHROMIUM_FLAGS, shot, sign_in, write_y4m
from tests.factories import ADMIN, assign_proctor, make_user, make_world, open_client
from tests.unit.proctor import scenes as sc

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("backend", ["postgres"])]

FPS = 1
SEGMENTS = (("face", 16), ("nobody", 8), ("two faces", 8))
"""Seconds of each scene in the looped webcam file: the face lasts through the pre-exam check."""


def _two_faces() -> np.ndarray:
    a, c = sc.astronaut(), sc.cameraman()
    return sc.place(
        sc.place(sc.wall(), sc.crop(a, sc.ASTRONAUT_FACE), 40, 120, 300), sc.crop(c, sc.CAMERAMAN_FACE), 360, 120, 300
    )


def webcam_frames() -> list[np.ndarray]:
    """RGB frames with fresh sensor noise each (a still picture would be a frozen camera)."""
    scenes = {"face": sc.person(), "nobody": sc.wall(), "two faces": _two_faces()}
    frames = []
    for name, seconds in SEGMENTS:
        for _ in range(seconds * FPS):
            jpeg = sc.live(scenes[name], seed=len(frames))
            frames.append(
                cv2.cvtColor(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
            )
    return frames


async def _count(services, table, *where) -> int:  # type: ignore[no-untyped-def]
    async with services.engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(table).where(*where))).scalar_one()


async def _flag_kinds(services) -> set[str]:  # type: ignore[no-untyped-def]
    async with services.engine.connect() as conn:
        return {r.kind for r in await conn.execute(select(proctor_flags.c.kind))}


async def _until(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.5)


async def _hide_tab(page, seconds: float) -> None:  # type: ignore[no-untyped-def]
    """Headless Chromium never hides a tab: flip what the page reads, and fire its event."""
    script = """(state) => {
        Object.defineProperty(document, "visibilityState", {configurable: true, get: () => state});
        document.dispatchEvent(new Event("visibilitychange"));
    }"""
    await page.evaluate(script, "hidden")
    await asyncio.sleep(seconds)
    await page.evaluate(script, "visible")


@pytest.fixture
def proctored_browser_args(tmp_path: Path) -> list[str]:
    webcam = write_y4m(tmp_path / "three-scenes.y4m", webcam_frames(), fps=FPS)
    return [
        *CHROMIUM_FLAGS,
        f"--use-file-for-fake-video-capture={webcam}",
        "--auto-select-desktop-capture-source=Entire screen",
    ]


async def test_a_proctored_exam_is_captured_flagged_and_reviewed_in_the_browser(services, proctored_browser_args):
    from playwright.async_api import async_playwright

    world = await make_world(services, students=1, question_count=3, duration_s=1200, requires_proctoring=True)
    await make_user(services, "proctor1", Role.PROCTOR, language="ru")
    await assign_proctor(services, "proctor1", world.exam_id)
    # The embedded analysis pool, one warm process: fast enough for a 1 s frame interval.
    config = load_config(os.environ, services.settings.data_dir, None)
    services.proctor = ProctorRuntime.build(
        dataclasses.replace(config, pool_workers=1), services.engine, now=services.clock.now()
    )
    async with services.engine.begin() as conn:
        await proctor_admin.set_exam_settings(
            conn,
            runtime_of(services),
            ADMIN,
            world.exam_id,
            {"frame_interval_s": 1, "screen_interval_s": 2, "room_scan_at_start": True, "screen_policy": "require"},
            now=services.clock.now(),
        )
    client = await open_client(services, run_sweeper=True)
    base = str(client.make_url("")).rstrip("/")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=proctored_browser_args)
        student = await browser.new_context(locale="kk-KZ", viewport={"width": 1280, "height": 720})
        page = await student.new_page()
        try:
            await sign_in(page, base, "student1", "/student")
            await page.click(f"a[href='/exam/{world.exam_id}/rules']")  # the rules first (issue 20)
            await page.click("#rules-continue")
            await page.wait_for_selector('#camera-state[data-ok="true"]', timeout=15000)
            await page.check("#consent")
            await page.click("#continue")
            # Screen shared (a monitor), consent, enrolment photo checked, room scanned: the exam opens in place.
            await page.wait_for_url(f"{base}/exam/{world.exam_id}", timeout=40000)
            await page.wait_for_selector("#exam:not([hidden])")
            await page.wait_for_selector("#capture-status")
            async with services.engine.connect() as conn:
                attempt_id = (await conn.execute(select(attempts.c.id))).scalar_one()
                enrolment = (await conn.execute(select(proctor_attempts.c.enrolment_state))).scalar_one()
            assert enrolment == "usable"
            assert await _count(services, evidence_items, evidence_items.c.kind == "roomscan") == 1
            await shot(page, "exam-proctored-kk")
            # The exam page as the student's screen shows it is recognised as the exam (no other application).
            report = analyze_screenshot(await page.screenshot())
            assert report.found == frozenset(), report

            await _hide_tab(page, 6)
            second = await student.new_page()
            await second.goto(f"{base}/exam/{world.exam_id}")
            await second.wait_for_selector("#capture-dialog[open]")
            refusal = await second.inner_text("#capture-dialog-text")
            assert "басқа" in refusal  # "already open in another tab or browser", in Kazakh
            await shot(second, "exam-second-tab-refused-kk")
            await second.close()

            async def segments_flagged() -> bool:
                return {"no_face", "several_faces", "tab_hidden", "second_tab"} <= await _flag_kinds(services)

            await _until(segments_flagged, 60, "the no-face, two-face, hidden-tab and second-tab flags")
            assert await _count(services, evidence_items, evidence_items.c.kind == "screen") >= 3
            assert await _count(services, evidence_items, evidence_items.c.kind == "frame") >= 10

            reviewer = await browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 900})
            desk = await reviewer.new_page()
            await sign_in(desk, base, "proctor1", "/")
            await desk.goto(f"{base}/proctor")
            await desk.wait_for_selector(f"a[href='/proctor/attempts/{attempt_id}']")
            await shot(desk, "proctor-live-ru")
            await desk.goto(f"{base}/proctor/queue")
            await shot(desk, "proctor-queue-ru")
            await desk.click(f"a[href='/proctor/attempts/{attempt_id}']")
            await desk.click("#request-room-scan")  # the student's page sees it at its next heartbeat (≤ 15 s)
            await desk.wait_for_selector("#action-done")
            for kind in ("no_face", "several_faces", "tab_hidden", "second_tab"):
                await desk.wait_for_selector(f"#flags li[data-kind={kind}]")
            assert "В кадре несколько лиц" in await desk.inner_text("#flags li[data-kind=several_faces] h3")
            thumbs = await desk.eval_on_selector_all(
                "#timeline img.thumb", "imgs => imgs.filter(i => i.complete && i.naturalWidth > 0).length"
            )
            assert thumbs >= 2  # camera and screen thumbnails from the authenticated evidence endpoint
            assert await desk.query_selector("#timeline tr.kind-screen img.thumb") is not None

            await desk.click("#flags li[data-kind=several_faces] button[value=confirmed]")
            await desk.wait_for_selector("#action-done")
            await desk.wait_for_selector("#flags li[data-kind=several_faces].status-confirmed")
            await shot(desk, "proctor-timeline-ru")

            async def rescanned() -> bool:
                return await _count(services, evidence_items, evidence_items.c.kind == "roomscan") == 2

            await _until(rescanned, 30, "the room scan the proctor asked for")
            await desk.check("#decision-form input[value=suspicious]")
            await desk.fill("#reason", "Два лица в кадре на 40-й секунде")
            await desk.click("#decision-form button[type=submit]")
            await desk.wait_for_selector("#action-done")
            assert await _count(services, proctor_decisions, proctor_decisions.c.decision == "suspicious") == 1
            await desk.click("button[value=kk]")
            await desk.wait_for_selector("html[lang=kk]")
            await shot(desk, "proctor-timeline-kk")
            await desk.goto(f"{base}/proctor")
            await shot(desk, "proctor-live-kk")
        finally:
            await browser.close()
            await client.close()
