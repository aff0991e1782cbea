"""The exam's video recording in real headless Chromium (issue 21): a fake camera and microphone are
recorded with MediaRecorder, the page is reloaded mid-exam (a new segment), the connection drops and
comes back (the queued chunks arrive), and the proctor plays the recording at a flag's moment."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import math
import os
import re
import statistics
import struct
import time
import wave
from pathlib import Path

import pytest
from sqlalchemy import select

from exam_engine.domain.roles import Role
from exam_engine.services import proctor_admin
from exam_engine.services.proctoring import runtime_of
from exam_engine.tables import attempts, audit_log
from proctor.config import load_config
from proctor.runtime import ProctorRuntime
from proctor.tables import proctor_flags, proctor_recording_chunks, proctor_recording_segments
from tests.e2e.conftest import CHROMIUM, CHROMIUM_FLAGS, face_frames, shot, sign_in, write_y4m
from tests.factories import (
    ADMIN,
    assign_proctor,
    make_user,
    make_world,
    open_client,
)

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("backend", ["postgres"])]

CHUNK_S = 2.0
"""The test records 2 s chunks (the default is 5 s) so that a reload and an outage fit in a minute."""


def write_wav(path: Path, seconds: float = 6.0, rate: int = 48_000) -> Path:
    """A 16-bit mono tone that rises and falls (Chromium's fake microphone loops it)."""
    with wave.open(str(path), "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(rate)
        n = int(seconds * rate)
        samples = (0.3 * 32767 * math.sin(2 * math.pi * (330 + 110 * math.sin(i / rate)) * i / rate) for i in range(n))
        fh.writeframes(b"".join(struct.pack("<h", int(s)) for s in samples))
    return path


async def _until(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.5)


async def _chunks(services) -> dict[int, list[int]]:  # type: ignore[no-untyped-def]
    c = proctor_recording_chunks.c
    async with services.engine.connect() as conn:
        found: dict[int, list[int]] = {}
        for r in await conn.execute(select(c.segment, c.chunk).order_by(c.segment, c.chunk)):
            found.setdefault(r.segment, []).append(r.chunk)
        return found


async def _proctored_exam(services, tmp_path, *, duration_s: int = 1200, frames: int = 20, **config):  # type: ignore[no-untyped-def]
    """One student's proctored exam recorded in chunks of CHUNK_S, and a fake camera and microphone."""
    world = await make_world(services, students=1, question_count=3, duration_s=duration_s, requires_proctoring=True)
    loaded = load_config(os.environ, services.settings.data_dir, None)
    services.proctor = ProctorRuntime.build(
        dataclasses.replace(loaded, pool_workers=1, recording_chunk_s=CHUNK_S, **config),
        services.engine,
        now=services.clock.now(),
    )
    async with services.engine.begin() as conn:
        await proctor_admin.set_exam_settings(
            conn,
            runtime_of(services),
            ADMIN,
            world.exam_id,
            {"frame_interval_s": 5, "screen_interval_s": 600, "room_scan_at_start": False, "screen_policy": "off"},
            now=services.clock.now(),
        )
    camera = write_y4m(tmp_path / "face.y4m", face_frames(frames), fps=10)
    return world, camera, write_wav(tmp_path / "tone.wav")


async def _chromium(pw, camera, microphone, *args: str):  # type: ignore[no-untyped-def]
    return await pw.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[
            *CHROMIUM_FLAGS,
            f"--use-file-for-fake-video-capture={camera}",
            f"--use-file-for-fake-audio-capture={microphone}",
            *args,
        ],
    )


# The tests' way to the exam page's recorder (the page keeps none on window): a script that runs
# before the page's own wraps the Recorder class recorder.js publishes, so the recorder capture.js
# makes is window.__recorder (its info(): what is queued, how the picture is scaled).
RECORDER_SPY = """
(() => {
  let published;
  Object.defineProperty(window, "ProctorRecorder", {
    configurable: true,
    get() { return published; },
    set(value) {
      if (value && value.Recorder) {
        const Recorder = value.Recorder;
        value = { ...value, Recorder: class extends Recorder {
          constructor(...args) { super(...args); if (!this.sendOnly) window.__recorder = this; }
        } };
      }
      published = value;
    },
  });
})();
"""
INFO = "window.__recorder.info()"


@contextlib.asynccontextmanager
async def _student_in_chromium(services, camera, microphone, *args: str):  # type: ignore[no-untyped-def]
    """The app served (with its sweeper), Chromium with the fake camera and microphone, and a kk
    context for the student: (base URL, browser, student context); everything closed after."""
    from playwright.async_api import async_playwright

    client = await open_client(services, run_sweeper=True)
    try:
        async with async_playwright() as pw:
            browser = await _chromium(pw, camera, microphone, *args)
            try:
                student = await browser.new_context(locale="kk-KZ", viewport={"width": 1280, "height": 720})
                yield str(client.make_url("")).rstrip("/"), browser, student
            finally:
                await browser.close()
    finally:
        await client.close()


async def _to_the_exam(page, base: str, exam_id: int) -> None:  # type: ignore[no-untyped-def]
    """Signed in as the student, through the rules and the camera check, consent given: the exam page
    (with RECORDER_SPY in every page the tab loads from now on)."""
    await page.add_init_script(RECORDER_SPY)
    await sign_in(page, base, "student1", "/student")
    await page.click(f"a[href='/exam/{exam_id}/rules']")
    await page.click("#rules-continue")
    await page.wait_for_selector('#camera-state[data-ok="true"]', timeout=15000)
    await page.check("#consent")
    await page.click("#continue")
    await page.wait_for_url(f"{base}/exam/{exam_id}", timeout=40000)


async def test_the_exam_is_recorded_through_a_reload_and_an_outage_and_played_at_a_flag(services, tmp_path):
    world, camera, microphone = await _proctored_exam(services, tmp_path)
    await make_user(services, "proctor1", Role.PROCTOR, language="ru")
    await assign_proctor(services, "proctor1", world.exam_id)
    async with _student_in_chromium(services, camera, microphone, "--autoplay-policy=no-user-gesture-required") as (
        base,
        browser,
        student,
    ):
        page = await student.new_page()
        await _to_the_exam(page, base, world.exam_id)
        await page.wait_for_selector('#recording-indicator[data-state="recording"]', timeout=15000)
        assert "Бейнежазба жүріп жатыр" in await page.inner_text("#recording-indicator")
        async with services.engine.connect() as conn:
            attempt_id = (await conn.execute(select(attempts.c.id))).scalar_one()

        async def first_segment() -> bool:
            return len((await _chunks(services)).get(1, [])) >= 3

        await _until(first_segment, 30, "three chunks of the first segment")
        await shot(page, "rec_student_indicator_kk")

        # The student switches to Russian and the page is reloaded: a new segment, numbered by the server.
        await page.evaluate("""async () => {
            const csrf = JSON.parse(document.getElementById("exam-config").textContent).proctoring.csrf;
            const form = new FormData(); form.append("lang", "ru"); form.append("_csrf", csrf);
            await fetch("/language", {method: "POST", body: form, redirect: "manual", credentials: "same-origin"});
        }""")
        await page.reload()
        await page.wait_for_selector('#recording-indicator[data-state="recording"]', timeout=15000)
        assert "Идёт видеозапись" in await page.inner_text("#recording-indicator")

        async def second_segment() -> bool:
            return len((await _chunks(services)).get(2, [])) >= 3

        await _until(second_segment, 30, "chunks of the second segment after the reload")
        await shot(page, "rec_student_indicator_ru")
        await page.evaluate("document.dispatchEvent(new Event('paste'))")  # a flag in the middle of segment 2

        # The recording's uploads fail (the connection is down for them) and the page is reloaded
        # while they still fail: the chunks queued in the page survive the reload in IndexedDB, and
        # once the uploads go through every chunk reaches its own segment, oldest first.
        info = await page.evaluate(INFO)
        # The page itself hands its recorder to no one (any script on the page could stop it).
        assert await page.evaluate("!('current' in window.ProctorRecorder.Recorder)")
        # Scaled frame by frame (the fake camera's track claims 320×240 but delivers 640×480):
        # the recorded picture's size is checked in the player below.
        assert info["scaler"] == "frames", info
        assert info["persistent"], info
        before = len((await _chunks(services))[2])
        blocked = "**/api/v1/proctor/attempts/*/recording**"
        await page.route(blocked, lambda route: route.abort("internetdisconnected"))
        await page.wait_for_selector('#recording-indicator[data-state="offline"]', timeout=20000)

        async def queued_in_page() -> bool:
            return (await page.evaluate(INFO))["queued"] >= 3

        await _until(queued_in_page, 20, "three chunks queued while offline")
        during = len((await _chunks(services))[2])
        await page.reload()
        await page.wait_for_selector('#recording-indicator[data-state="offline"]', timeout=20000)

        async def kept_over_the_reload() -> bool:
            info = await page.evaluate(INFO)
            return info["queued"] >= 5  # the earlier page's chunks and this page's first ones

        await _until(kept_over_the_reload, 20, "the earlier page's chunks in the reloaded page")
        assert "Идёт видеозапись" in await page.inner_text("#recording-indicator")
        await shot(page, "h21r_rec_offline_reload_ru")
        # Reloaded once more, still failing: the second page's segment never got a number from
        # the server; the third page opens it for those chunks, before its own, in their order.
        second_page = (await page.evaluate(INFO))["queued"]
        await page.reload()

        async def third_page_recording() -> bool:
            return await page.evaluate(f"!!window.__recorder && {INFO}.queued >= {second_page + 2}")

        await _until(third_page_recording, 20, "the third page's chunks after the earlier two pages'")
        await page.unroute(blocked)

        async def caught_up() -> bool:
            stored = await _chunks(services)
            return len(stored[2]) >= during + 3 and len(stored.get(3, [])) >= 2 and len(stored.get(4, [])) >= 2

        await _until(caught_up, 60, "the chunks queued before and after the reloads")
        stored = await _chunks(services)
        assert during <= before + 1  # nothing (or the one in flight) got through while offline
        for segment in (1, 2, 3, 4):  # contiguous from 1: nothing lost
            assert stored[segment] == list(range(1, len(stored[segment]) + 1)), (segment, stored[segment])
        s = proctor_recording_segments.c
        async with services.engine.connect() as conn:
            starts = [r.started_at for r in await conn.execute(select(s.started_at).order_by(s.segment))]
        assert starts == sorted(starts), starts  # the parts keep their order on the timeline
        print(f"\nsegment 2: {before} chunks before the outage, {len(stored[2])} after; then {stored[3]}, {stored[4]}")

        c = proctor_recording_chunks.c
        async with services.engine.connect() as conn:
            sizes = [
                (r.size, r.duration_ms)
                for r in await conn.execute(select(c.size, c.duration_ms).where(c.chunk > 1, c.duration_ms > 1000))
            ]
        kbps = statistics.median(size * 8 / duration for size, duration in sizes)
        print(
            f"\nrecorded chunks: {len(sizes)}, median {statistics.median(s for s, _ in sizes)} bytes "
            f"per {CHUNK_S} s chunk, median {kbps:.0f} kbit/s (target {services.proctor.config.recording_kbps})"
        )
        assert 10 < kbps < services.proctor.config.recording_kbps * 1.6

        async def flagged() -> bool:
            async with services.engine.connect() as conn:
                return (
                    await conn.execute(select(proctor_flags.c.id).where(proctor_flags.c.kind == "paste"))
                ).first() is not None

        await _until(flagged, 20, "the paste flag")

        reviewer = await browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 900})
        desk = await reviewer.new_page()
        statuses: list[int] = []
        parts: list[int] = []  # the part (segment) each answered request was for
        desk.on(
            "response",
            lambda r: (
                (statuses.append(r.status), parts.append(int(r.url.rsplit("/", 1)[1])))
                if "/recording/" in r.url
                else None
            ),
        )
        await sign_in(desk, base, "proctor1", "/")
        await desk.goto(f"{base}/proctor/attempts/{attempt_id}")
        await desk.wait_for_selector("#recording")
        button = await desk.wait_for_selector("#flags li[data-kind=paste] button.play-at")
        segment, offset = (
            int(await button.get_attribute("data-segment")),
            float(await button.get_attribute("data-offset")),
        )
        assert segment == 2 and offset > 1, (segment, offset)
        await button.click()
        await desk.wait_for_function(
            """(t) => { const v = document.getElementById("recording");
                       return v.dataset.segment === "2" && v.readyState >= 2 && Math.abs(v.currentTime - t) < 1.5; }""",
            arg=offset,
            timeout=20000,
        )
        state = await desk.evaluate("""() => { const v = document.getElementById("recording");  // w: the recorded width
            return {t: v.currentTime, ready: v.readyState, error: v.error && v.error.code, w: v.videoWidth,
                    h: v.videoHeight}; }""")
        assert state["ready"] >= 2 and state["error"] is None, state
        assert (state["w"], state["h"]) == (320, 240), state  # the recording is the configured size
        print(f"player: {state}")
        assert 206 in statuses, statuses
        assert "Часть 2 записи" in await desk.inner_text("#recording-at")
        await desk.evaluate("document.getElementById('recording').pause()")
        await shot(desk, "rec_proctor_player_ru")
        await desk.click("button[value=kk]")
        await desk.wait_for_selector("html[lang=kk]")
        await desk.click("#flags li[data-kind=paste] button.play-at")
        await desk.wait_for_function(
            """(t) => { const v = document.getElementById("recording");
                       return v.readyState >= 2 && Math.abs(v.currentTime - t) < 1.5; }""",
            arg=offset,
            timeout=20000,
        )
        await desk.evaluate("document.getElementById('recording').pause()")
        await shot(desk, "rec_proctor_player_kk")
        # The player's many range requests are one audited viewing of the part it played.
        async with services.engine.connect() as conn:
            viewed = [
                (r.actor, r.after["segment"])
                for r in await conn.execute(
                    select(audit_log.c.actor, audit_log.c.after).where(audit_log.c.action == "recording.viewed")
                )
            ]
        print(f"player: {len(parts)} requests for parts {parts}, audit rows {viewed}")
        # One row per part the player asked for, however many ranges it read of it.
        assert sorted(viewed) == [("user:proctor1", part) for part in sorted(set(parts))], (viewed, parts)
        assert ("user:proctor1", 2) in viewed
        async with services.engine.begin() as conn:
            verdict = await proctor_admin.verify(
                conn, runtime_of(services), attempt_id, "tests", now=services.clock.now()
            )
        assert verdict.ok, verdict


async def test_a_browser_without_mediarecorder_sits_the_exam_and_the_proctor_is_told(services, tmp_path):
    from proctor.tables import evidence_items

    world, camera, microphone = await _proctored_exam(services, tmp_path, frames=10)
    async with _student_in_chromium(services, camera, microphone) as (base, browser, student):
        await student.add_init_script("delete window.MediaRecorder;")  # an old or locked-down browser
        page = await student.new_page()
        await _to_the_exam(page, base, world.exam_id)
        await page.wait_for_selector('#recording-indicator[data-state="failed"]', timeout=15000)
        assert "бейнежазба жұмыс істемейді" in (await page.inner_text("#recording-indicator")).lower()
        # The exam goes on: a question answered and saved, frames still sent.
        await page.click("#q-options label.option >> nth=0")
        await page.wait_for_function("() => !document.getElementById('save-status').textContent.includes('…')")

        async def reported() -> bool:
            async with services.engine.connect() as conn:
                return (
                    await conn.execute(
                        select(evidence_items.c.seq).where(evidence_items.c.trigger == "recording_failed")
                    )
                ).first() is not None

        await _until(reported, 20, "the recording_failed event")
        assert (await _chunks(services)) == {}
        await shot(page, "rec_student_unsupported_kk")


# The browser refusing to store (its own quota: IndexedDB's put fails with QuotaExceededError).
BROWSER_QUOTA = """
  const put = IDBObjectStore.prototype.put;
  IDBObjectStore.prototype.put = function (value, key) {
    if (this.name === "chunks" && window.__quotaFull) throw new DOMException("the quota is used up", "QuotaExceededError");
    return put.call(this, value, key);
  };
"""


@pytest.mark.parametrize("full", ["queue_bytes", "browser_quota"])
async def test_a_full_recording_queue_pauses_the_recording_says_so_and_the_exam_goes_on(services, tmp_path, full):
    """The page keeps at most queue_bytes of recording while uploads fail, and no more than the
    browser lets it store: beyond it the recording pauses (nothing recorded earlier is evicted), the
    student reads why, the proctor gets an event, the exam is answered as usual, and once the uploads
    go through a new segment starts."""
    from proctor.tables import evidence_items

    world, camera, microphone = await _proctored_exam(
        services, tmp_path, recording_queue_bytes=80_000 if full == "queue_bytes" else 48 * 2**20
    )
    async with _student_in_chromium(services, camera, microphone) as (base, browser, student):
        await student.add_init_script(BROWSER_QUOTA)
        page = await student.new_page()
        await _to_the_exam(page, base, world.exam_id)

        async def first_chunk() -> bool:
            return len((await _chunks(services)).get(1, [])) >= 1

        await _until(first_chunk, 30, "the first chunk")
        blocked = "**/api/v1/proctor/attempts/*/recording**"
        await page.route(blocked, lambda route: route.abort("internetdisconnected"))
        if full == "browser_quota":
            await page.evaluate("window.__quotaFull = true")
        await page.wait_for_selector('#recording-indicator[data-state="full"]', timeout=40000)
        text = await page.inner_text("#recording-indicator")
        assert "Бейнежазба тоқтатыла тұрды" in text and "Емтиханды жалғастырыңыз" in text, text
        info = await page.evaluate(INFO)
        assert info["full"] and info["bytes"] <= 80_000 and info["queued"] >= 1, info
        if full == "queue_bytes":
            await shot(page, "h21r_rec_queue_full_kk")
        # The exam goes on: an answer is saved while the recording is paused.
        await page.click("#q-options label.option >> nth=0")
        await page.wait_for_function("() => !document.getElementById('save-status').textContent.includes('…')")

        async def reported() -> bool:
            async with services.engine.connect() as conn:
                rows = await conn.execute(
                    select(evidence_items.c.seq).where(evidence_items.c.trigger == "recording_paused")
                )
                return rows.first() is not None

        await _until(reported, 20, "the proctor's recording_paused event")
        async with services.engine.connect() as conn:  # a pause, not a failure
            failed = await conn.execute(
                select(evidence_items.c.seq).where(evidence_items.c.trigger == "recording_failed")
            )
            assert failed.first() is None
        await page.evaluate("window.__quotaFull = false")
        await page.unroute(blocked)

        async def resumed() -> bool:
            return len((await _chunks(services)).get(2, [])) >= 2

        await _until(resumed, 60, "a new segment after the queue drained")
        await page.wait_for_selector('#recording-indicator[data-state="recording"]', timeout=20000)
        stored = await _chunks(services)
        assert stored[1] == list(range(1, len(stored[1]) + 1)), stored[1]  # kept chunks all arrived
        assert stored[2] == list(range(1, len(stored[2]) + 1)), stored[2]
        print(f"\n{full} full: segment 1 {stored[1]}, then segment 2 {stored[2]}")
        if full == "queue_bytes":
            # The proctor's timeline names the pause as a pause (a low flag), not as a failure.
            await make_user(services, "proctor1", Role.PROCTOR, language="ru")
            await assign_proctor(services, "proctor1", world.exam_id)
            async with services.engine.connect() as conn:
                attempt_id = (await conn.execute(select(attempts.c.id))).scalar_one()
            reviewer = await browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 900})
            desk = await reviewer.new_page()
            await sign_in(desk, base, "proctor1", "/")

            async def paused_flag() -> bool:
                await desk.goto(f"{base}/proctor/attempts/{attempt_id}")
                return await desk.query_selector("#flags li[data-kind=recording_paused]") is not None

            await _until(paused_flag, 30, "the recording_paused flag on the timeline")
            flag = await desk.inner_text("#flags li[data-kind=recording_paused]")
            assert "Видеозапись приостановлена" in flag and "низк" in flag.lower(), flag
            assert "не удалась" not in await desk.inner_text("#flags")
            await desk.locator("#flags li[data-kind=recording_paused]").scroll_into_view_if_needed()
            await shot(desk, "h21r_rec_paused_timeline_ru")


@pytest.mark.parametrize("outage", ["until_the_hand_in", "past_the_page"])
async def test_the_recording_runs_to_the_hand_in_and_its_last_chunks_arrive_after_it(services, tmp_path, outage):
    """At the hand-in the recorder stops, its last chunk is queued with whatever was still waiting
    (here: the uploads failed for the last seconds before the click), and the page sends them before
    it leaves, for a few seconds at most: the server takes them after the hand-in (the recording's
    tail), so the recording reaches the moment of the hand-in without a gap and verifies. When the
    uploads still fail as the page leaves (``past_the_page``), the result page sends what is left."""
    world, camera, microphone = await _proctored_exam(services, tmp_path)
    async with _student_in_chromium(services, camera, microphone) as (base, browser, student):
        page = await student.new_page()
        await _to_the_exam(page, base, world.exam_id)
        await page.wait_for_selector('#recording-indicator[data-state="recording"]', timeout=15000)

        async def recording() -> bool:
            return len((await _chunks(services)).get(1, [])) >= 3

        await _until(recording, 30, "three chunks of the recording")
        await page.click("#q-options label.option >> nth=0")
        # The last seconds before the hand-in wait in the page (their uploads fail).
        blocked = "**/api/v1/proctor/attempts/*/recording**"
        await page.route(blocked, lambda route: route.abort("internetdisconnected"))

        async def queued() -> bool:
            return (await page.evaluate(INFO))["queued"] >= 2

        await _until(queued, 20, "two chunks queued before the hand-in")
        await page.click("#submit")
        await page.wait_for_selector("#confirm-dialog[open]")
        clicked = time.monotonic()
        await page.click("#confirm-yes")
        if outage == "until_the_hand_in":
            await page.unroute(blocked)
        else:
            # While the page waits for the recording (up to 5 s), it says the answers are in.
            alert = await page.wait_for_function(
                "() => document.querySelector('#alert') && document.querySelector('#alert').textContent",
                timeout=5000,
            )
            said = await alert.json_value()
            assert "Жауаптарыңыз тапсырылды" in said, said
        await page.wait_for_url(f"{base}/attempt/*/result", timeout=20000)
        left_after = time.monotonic() - clicked
        assert left_after < 12, left_after  # the hand-in never hangs on the recording (≤ 5 s wait)
        if outage == "past_the_page":
            # The exam page left with the chunks unsent; the result page says it sends them.
            await page.wait_for_selector("#recording-tail:not([hidden])", timeout=10000)
            note = await page.inner_text("#recording-tail")
            assert "соңғы секундтары жіберілуде" in note, note
            assert "жіберілмеген" not in note, note  # the last seconds, not a part never sent
            await shot(page, "h21r_rec_result_sending_kk")
            await page.unroute(blocked)
            await page.wait_for_selector("#recording-tail[data-state=sent]", state="attached", timeout=30000)
            done = await page.inner_text("#recording-tail")  # the note now says it is done
            assert "бейнежазбасы жіберілді" in done and "жабуға болады" in done, done
            assert "жіберілуде" not in done, done

        c = proctor_recording_chunks.c
        s = proctor_recording_segments.c
        async with services.engine.connect() as conn:
            attempt = (await conn.execute(select(attempts.c.id, attempts.c.submitted_at, attempts.c.status))).one()
            segment = (await conn.execute(select(s.segment, s.started_at))).one()
            rows = (
                await conn.execute(
                    select(c.chunk, c.offset_ms, c.duration_ms, c.received_at).order_by(c.segment, c.chunk)
                )
            ).all()
        assert attempt.status == "submitted", attempt
        numbers = [r.chunk for r in rows]
        assert numbers == list(range(1, len(numbers) + 1)), numbers  # no gap up to the last chunk
        last = rows[-1]
        recorded_to = segment.started_at.timestamp() + (last.offset_ms + last.duration_ms) / 1000
        to_hand_in = attempt.submitted_at.timestamp() - recorded_to
        after = [r.chunk for r in rows if r.received_at > attempt.submitted_at]
        print(
            f"\nhand-in: {len(numbers)} chunks, the recording ends {to_hand_in:+.2f} s from the hand-in; "
            f"chunks received after it: {after}; the page left {left_after:.1f} s after the click"
        )
        assert abs(to_hand_in) <= CHUNK_S, to_hand_in  # the recording reaches the hand-in
        assert len(after) >= 2, after  # the queued ones and the recorder's last, taken in the tail
        async with services.engine.begin() as conn:
            verdict = await proctor_admin.verify(
                conn, runtime_of(services), attempt.id, "tests", now=services.clock.now()
            )
        assert verdict.ok and verdict.checked >= len(numbers), verdict


async def test_the_recording_runs_to_the_deadline_when_time_runs_out_with_the_page_open(services, tmp_path):
    """Time runs out with the exam page open: the recorder stops at the deadline, its last chunk is
    sent while the page waits for the server to close the attempt (and after, in the tail), and the
    recording reaches the deadline without a gap."""
    world, camera, microphone = await _proctored_exam(services, tmp_path, duration_s=40)
    async with _student_in_chromium(services, camera, microphone) as (base, browser, student):
        page = await student.new_page()
        await _to_the_exam(page, base, world.exam_id)
        await page.wait_for_selector('#recording-indicator[data-state="recording"]', timeout=15000)
        await page.wait_for_url(f"{base}/attempt/*/result", timeout=90000)  # time ran out

        c = proctor_recording_chunks.c
        s = proctor_recording_segments.c
        async with services.engine.connect() as conn:
            attempt = (await conn.execute(select(attempts.c.id, attempts.c.deadline_at, attempts.c.status))).one()
            segment = (await conn.execute(select(s.segment, s.started_at))).one()
            rows = (await conn.execute(select(c.chunk, c.offset_ms, c.duration_ms).order_by(c.segment, c.chunk))).all()
        assert attempt.status == "timed_out", attempt
        numbers = [r.chunk for r in rows]
        assert numbers == list(range(1, len(numbers) + 1)), numbers
        last = rows[-1]
        recorded_to = segment.started_at.timestamp() + (last.offset_ms + last.duration_ms) / 1000
        to_deadline = attempt.deadline_at.timestamp() - recorded_to
        print(f"\ndeadline: {len(numbers)} chunks, the recording ends {to_deadline:+.2f} s from the deadline")
        assert abs(to_deadline) <= CHUNK_S, to_deadline
        async with services.engine.begin() as conn:
            verdict = await proctor_admin.verify(
                conn, runtime_of(services), attempt.id, "tests", now=services.clock.now()
            )
        assert verdict.ok, verdict


# The page's IndexedDB records of the recording (what still waits to be sent), in the page.
QUEUED_RECORDS = """() => new Promise((ok, fail) => {
  const req = indexedDB.open("exam-recording");
  req.onerror = () => fail(req.error);
  req.onsuccess = () => {
    const tx = req.result.transaction(["chunks", "segments"], "readonly");
    const chunks = tx.objectStore("chunks").count(), segments = tx.objectStore("segments").count();
    tx.oncomplete = () => { req.result.close(); ok([chunks.result, segments.result]); };
  };
})"""


@pytest.mark.parametrize("start", ["before_the_end", "claimed_after_the_end"])
async def test_a_page_offline_from_its_load_gets_its_recording_to_the_server_from_the_result_page(
    services, tmp_path, start
):
    """The recording's uploads fail from the exam page's load until after the hand-in, so its part
    never gets a number from the server before the end. Once the connection is back, the result page
    opens that part (it started before the end) and sends its chunks in the recording's tail: the
    proctor has the exam up to the hand-in without a gap, and evidence verify passes.
    ``claimed_after_the_end``: the opening reaches the server saying the part started after the end
    (as from a page whose clock is wrong): the server refuses it, nothing is stored, and the result
    page drops that part's chunks instead of sending them again and again."""
    world, camera, microphone = await _proctored_exam(services, tmp_path)
    async with _student_in_chromium(services, camera, microphone) as (base, browser, student):
        page = await student.new_page()
        blocked = "**/api/v1/proctor/attempts/*/recording**"
        await page.route(blocked, lambda route: route.abort("internetdisconnected"))
        await _to_the_exam(page, base, world.exam_id)
        await page.wait_for_selector('#recording-indicator[data-state="offline"]', timeout=20000)

        async def queued() -> bool:
            return (await page.evaluate(INFO))["queued"] >= 3

        await _until(queued, 30, "three chunks queued on a page that never reached the server")
        assert (await page.evaluate(INFO))["segment"] is None  # the server never numbered its part
        await page.click("#q-options label.option >> nth=0")
        await page.click("#submit")
        await page.wait_for_selector("#confirm-dialog[open]")
        await page.click("#confirm-yes")
        await page.wait_for_url(f"{base}/attempt/*/result", timeout=20000)
        await page.wait_for_selector("#recording-tail:not([hidden])", timeout=10000)
        note = await page.inner_text("#recording-tail")
        # A whole part the exam page never sent, not "the last seconds of the recording".
        assert "Емтихан кезінде жіберілмеген бейнежазба бөлігі қазір жіберілуде" in note, note
        assert "Жіберу аяқталғанша бұл бетті жаппаңыз" in note, note
        assert "соңғы секундтары" not in note, note
        assert await _chunks(services) == {}  # nothing of the recording reached the server yet
        if start == "before_the_end":
            await shot(page, "h21l_rec_result_offline_part_kk")
        answers: list[tuple[int, str]] = []
        if start == "claimed_after_the_end":

            async def after_the_end(route) -> None:  # type: ignore[no-untyped-def]
                claim = {**route.request.post_data_json, "started_at": "2100-01-01T00:00:00+00:00"}
                response = await route.fetch(post_data=json.dumps(claim))
                answers.append((response.status, (await response.json())["error"]["code"]))
                await route.fulfill(response=response)

            await page.route("**/api/v1/proctor/attempts/*/recording", after_the_end)
        await page.unroute(blocked)
        await page.wait_for_selector("#recording-tail[data-state=sent]", state="attached", timeout=40000)
        if start == "claimed_after_the_end":
            assert await page.is_hidden("#recording-tail")  # refused, so nothing to call done
            assert answers == [(409, "recording_after_end")], answers  # asked once, not again and again
            await asyncio.sleep(3)
            assert len(answers) == 1, answers
            assert await _chunks(services) == {}
            async with services.engine.connect() as conn:
                assert (await conn.execute(select(proctor_recording_segments.c.segment))).first() is None
            # The page keeps nothing it can never send (the part's record goes at the next load).
            assert (await page.evaluate(QUEUED_RECORDS))[0] == 0
            return

        done = await page.inner_text("#recording-tail")  # the note now says the part is sent
        assert "бейнежазбасы жіберілді" in done and "жабуға болады" in done, done
        assert "жіберілуде" not in done, done
        await shot(page, "h21s_rec_result_offline_part_sent_kk")

        c = proctor_recording_chunks.c
        s = proctor_recording_segments.c
        async with services.engine.connect() as conn:
            attempt = (await conn.execute(select(attempts.c.id, attempts.c.submitted_at, attempts.c.status))).one()
            segment = (await conn.execute(select(s.segment, s.started_at, s.created_at))).one()
            rows = (await conn.execute(select(c.chunk, c.offset_ms, c.duration_ms).order_by(c.segment, c.chunk))).all()
        assert attempt.status == "submitted", attempt
        # Opened after the hand-in, for a part that started before it.
        assert segment.started_at < attempt.submitted_at < segment.created_at, segment
        numbers = [r.chunk for r in rows]
        assert len(numbers) >= 4 and numbers == list(range(1, len(numbers) + 1)), numbers
        last = rows[-1]
        recorded_to = segment.started_at.timestamp() + (last.offset_ms + last.duration_ms) / 1000
        to_hand_in = attempt.submitted_at.timestamp() - recorded_to
        print(
            f"\noffline from the load: {len(numbers)} chunks sent from the result page, the part opened "
            f"{(segment.created_at - attempt.submitted_at).total_seconds():.1f} s after the hand-in; "
            f"the recording ends {to_hand_in:+.2f} s from the hand-in"
        )
        assert abs(to_hand_in) <= CHUNK_S, to_hand_in  # the recording reaches the hand-in
        async with services.engine.begin() as conn:
            verdict = await proctor_admin.verify(
                conn, runtime_of(services), attempt.id, "tests", now=services.clock.now()
            )
        assert verdict.ok and verdict.checked >= len(numbers), verdict


@pytest.mark.parametrize("lang", ["kk", "ru"])
async def test_a_recording_that_cannot_be_played_says_why_in_the_proctors_words(services, browser, lang):
    # A part of the recording the browser cannot open (here: bytes that are no video) said
    # «…cannot be played here: DEMUXER_ERROR_COULD_NOT_OPEN: FFmpegDemuxer: open context failed» —
    # Chromium's own English and code. The page words the kind of failure in kk/ru.
    from sqlalchemy import update as sql_update

    from exam_engine.tables import users
    from tests.integration.proctor_world import BASE as PROCTOR_API
    from tests.integration.proctor_world import proctored_attempt

    world = await proctored_attempt(services)
    async with services.engine.begin() as conn:
        await conn.execute(sql_update(users).where(users.c.login == "proctor1").values(language=lang))
    status, seg = await world.student.call(
        "POST",
        f"{PROCTOR_API}/attempts/{world.attempt_id}/recording",
        json={"started_at": services.clock.now().isoformat(), "media_type": "video/webm;codecs=vp8,opus"},
    )
    assert status == 200, seg
    webm_header = b"\x1a\x45\xdf\xa3" + b"\x00" * 28
    status, body = await world.student.call(
        "POST",
        f"{PROCTOR_API}/attempts/{world.attempt_id}/recording/{seg['segment']}?seq=1&offset_ms=0&duration_ms=5000",
        data=webm_header + os.urandom(4000),
    )
    assert status == 200, body
    base = str(world.client.make_url("")).rstrip("/")
    context = await browser.new_context(locale={"kk": "kk-KZ", "ru": "ru-RU"}[lang])
    page = await context.new_page()
    try:
        await sign_in(page, base, "proctor1", "/")
        await page.goto(f"{base}/proctor/attempts/{world.attempt_id}")
        await page.wait_for_selector("#recording")
        await page.evaluate("document.getElementById('recording').load()")
        await page.wait_for_selector("#recording-at:not(:empty)", timeout=15000)
        said = await page.inner_text("#recording-at")
    finally:
        await context.close()
        await world.client.close()
    assert {"kk": "ойнату мүмкін емес", "ru": "нельзя воспроизвести"}[lang] in said, said
    for name in ("WebM", "Chrome", "Edge", "Firefox"):  # named by their own names, as on the check page
        said = said.replace(name, "")
    assert not re.search(r"[A-Za-z]{3,}", said), said
