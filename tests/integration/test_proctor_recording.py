"""The exam's video recording (issue 21): chunks in (idempotent, bounded, only the student's own),
ranges out (only to the exam's proctor, audited), and a tampered chunk named by evidence verify."""

from __future__ import annotations

import asyncio
import os
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import func, select

from exam_engine.domain.roles import Role
from exam_engine.services import proctor_admin
from exam_engine.services.proctoring import runtime_of
from exam_engine.tables import audit_log
from proctor.config import MIB
from proctor.tables import evidence_items, proctor_recording_chunks
from tests.factories import Api, make_user, make_world, new_api, open_client
from tests.integration.proctor_world import BASE, proctored_attempt, verify_cli

HEADER = b"\x1a\x45\xdf\xa3" + b"\x00" * 28  # a WebM stream starts with the EBML header's id


def chunk(n: int, size: int = 3000) -> bytes:
    body = os.urandom(size)
    return HEADER + body[len(HEADER) :] if n == 1 else body


async def _count(services, table, *where) -> int:
    async with services.engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(table).where(*where))).scalar_one()


async def _segment(world, api: Api | None = None) -> tuple[int, dict]:
    return await (api or world.student).call(
        "POST",
        f"{BASE}/attempts/{world.attempt_id}/recording",
        json={"started_at": world.services.clock.now().isoformat(), "media_type": "video/webm;codecs=vp8,opus"},
    )


async def _put(
    world, segment: int, seq: int, data: bytes, *, offset_ms: int | None = None, api: Api | None = None
) -> tuple[int, dict]:
    offset = (seq - 1) * 5000 if offset_ms is None else offset_ms
    return await (api or world.student).call(
        "POST",
        f"{BASE}/attempts/{world.attempt_id}/recording/{segment}?seq={seq}&offset_ms={offset}&duration_ms=5000",
        data=data,
    )


async def _recorded(services, chunks: int = 3) -> tuple[object, list[bytes]]:
    world = await proctored_attempt(services)
    status, seg = await _segment(world)
    assert status == 200 and seg["segment"] == 1, seg
    data = [chunk(i + 1, 3000 + 500 * i) for i in range(chunks)]
    for i, piece in enumerate(data):
        status, body = await _put(world, 1, i + 1, piece)
        assert status == 200 and body["items"][0]["stored"], body
    return world, data


async def test_chunks_are_stored_once_out_of_order_and_a_different_resend_is_refused(services):
    world = await proctored_attempt(services)
    try:
        status, seg = await _segment(world)
        assert status == 200 and seg["segment"] == 1 and seg["kbps"] == 250 and seg["chunk_s"] == 5, seg
        one, two = chunk(1), chunk(2)
        status, body = await _put(world, 1, 2, two)  # the second arrives first (a retry overtook it)
        assert status == 200 and body["items"][0]["stored"] is True, body
        status, body = await _put(world, 1, 1, one)
        assert status == 200 and body["items"][0]["stored"] is True, body
        first_receipt = body["items"][0]
        status, body = await _put(world, 1, 1, one)  # the answer was lost: the page sends it again
        assert status == 200, body
        assert body["items"][0]["stored"] is False
        assert body["items"][0]["evidence_seq"] == first_receipt["evidence_seq"]
        status, body = await _put(world, 1, 1, chunk(1))  # other bytes under a used number
        assert status == 409 and body["error"]["code"] == "recording_chunk_conflict", body
        assert "1" in body["error"]["message"] and "{" not in body["error"]["message"]
        assert await _count(services, evidence_items, evidence_items.c.kind == "recording") == 2
        # A reload opens segment 2; its chunks start again at 1.
        status, seg = await _segment(world)
        assert status == 200 and seg["segment"] == 2, seg
        status, body = await _put(world, 2, 1, chunk(1))
        assert status == 200 and body["items"][0]["stored"], body
        # The first chunk of a segment must be WebM; a chunk of a segment never opened is refused.
        status, _ = await _segment(world)
        assert status == 200
        status, body = await _put(world, 3, 1, b"not webm at all")
        assert status == 422 and body["error"]["code"] == "recording_invalid", body
        status, body = await _put(world, 9, 1, chunk(1))
        assert status == 404 and body["error"]["code"] == "recording_segment_not_found", body
        async with services.engine.begin() as conn:
            verdict = await proctor_admin.verify(
                conn, runtime_of(services), UUID(world.attempt_id), "tests", now=services.clock.now()
            )
        assert verdict.ok and verdict.checked == 3, verdict
    finally:
        await world.close()


async def test_only_the_attempts_own_student_records(services):
    world = await proctored_attempt(services)
    try:
        status, body = await _segment(world, world.other_student)
        assert status == 404 and body["error"]["code"] == "attempt_not_found", body
        status, _ = await _segment(world)
        assert status == 200
        status, body = await _put(world, 1, 1, chunk(1), api=world.other_student)
        assert status == 404 and body["error"]["code"] == "attempt_not_found", body
        status, body = await _put(world, 1, 1, chunk(1), api=world.proctor)
        assert status == 403 and body["error"]["code"] == "forbidden", body
        assert await _count(services, evidence_items, evidence_items.c.kind == "recording") == 0
    finally:
        await world.close()


async def test_nothing_is_recorded_for_an_exam_that_is_not_proctored(services):
    plain = await make_world(services, students=1, requires_proctoring=False)
    client = await open_client(services)
    try:
        student = Api(client)
        await student.login(plain.students[0])
        status, started = await student.call("POST", f"/api/v1/exams/{plain.exam_id}/start", json={})
        assert status == 200, started
        base = f"{BASE}/attempts/{started['attempt']['id']}/recording"
        status, body = await student.call("POST", base, json={})
        assert status == 409 and body["error"]["code"] == "exam_not_proctored", body
        status, body = await student.call("POST", base + "/1?seq=1", data=chunk(1))
        assert status == 409 and body["error"]["code"] == "exam_not_proctored", body
        assert await _count(services, proctor_recording_chunks) == 0
    finally:
        await client.close()


async def test_a_chunk_over_its_bound_is_413_and_the_attempts_quota_is_429_recorded(services, monkeypatch):
    monkeypatch.setenv("EXAM_EVIDENCE_MAX_MB", str(20_000 / MIB))
    world = await proctored_attempt(services)
    try:
        await _segment(world)
        limit = runtime_of(services).config.max_chunk_bytes
        status, body = await _put(world, 1, 1, chunk(1, limit + 1))
        assert status == 413 and body["error"]["code"] == "upload_too_large", body
        status, body = await _put(world, 1, 1, chunk(1, 12_000))
        assert status == 200, body
        status, body = await _put(world, 1, 2, chunk(2, 12_000))
        assert status == 429 and body["error"]["code"] == "evidence_quota_exceeded", body
        assert "МБ" in body["error"]["message"]  # kk
        assert await _count(services, audit_log, audit_log.c.action == "proctor.evidence_quota") == 1
        assert [i for i in (await world.timeline())["items"] if i["trigger"] == "evidence_quota"]
        assert await _count(services, evidence_items, evidence_items.c.kind == "recording") == 1
    finally:
        await world.close()


async def _get(api: Api, url: str, range_: str | None = None):
    headers = {"Range": range_} if range_ else {}
    resp = await api.client.request("GET", url, headers=headers)
    return resp, await resp.read()


async def test_the_proctor_plays_a_segment_by_ranges_and_the_viewing_is_audited(services):
    world, data = await _recorded(services)
    whole = b"".join(data)
    try:
        status, listed = await world.proctor.call("GET", f"{BASE}/attempts/{world.attempt_id}/recording")
        assert status == 200, listed
        (seg,) = listed["segments"]
        assert (seg["segment"], seg["chunks"], seg["bytes"], seg["duration_s"], seg["missing"]) == (
            1,
            3,
            len(whole),
            15.0,
            [],
        )
        url = seg["url"]
        resp, body = await _get(world.proctor, url)
        assert resp.status == 200 and body == whole
        assert resp.headers["Content-Type"] == "video/webm" and resp.headers["Accept-Ranges"] == "bytes"
        assert "no-store" in resp.headers["Cache-Control"]
        resp, body = await _get(world.proctor, url, "bytes=0-")
        assert resp.status == 206 and body == whole
        assert resp.headers["Content-Range"] == f"bytes 0-{len(whole) - 1}/{len(whole)}"
        resp, body = await _get(world.proctor, url, "bytes=2990-3010")  # across the first two chunks
        assert resp.status == 206 and body == whole[2990:3011]
        assert resp.headers["Content-Range"] == f"bytes 2990-3010/{len(whole)}"
        assert int(resp.headers["Content-Length"]) == 21
        resp, body = await _get(world.proctor, url, "bytes=-100")
        assert resp.status == 206 and body == whole[-100:]
        resp, body = await _get(world.proctor, url, f"bytes=100-{len(whole) + 500}")
        assert resp.status == 206 and body == whole[100:]
        for bad in (f"bytes={len(whole)}-", "bytes=50-10", "bytes=0-1,5-9", "bytes=x-1", "bytes=-0"):
            resp, body = await _get(world.proctor, url, bad)
            assert resp.status == 416, bad
            assert resp.headers["Content-Range"] == f"bytes */{len(whole)}"
        resp, _ = await _get(world.proctor, url.replace("/recording/1", "/recording/7"))
        assert resp.status == 404
        viewed = await _count(services, audit_log, audit_log.c.action == "recording.viewed")
        assert viewed == 1  # one viewing (five requests in its window); refusals serve nothing
        # A student, and a proctor of another exam, are refused; nothing is served to them.
        resp, body = await _get(world.student, url, "bytes=0-")
        assert resp.status == 403 and whole[:100] not in body
        await make_user(services, "proctor2", Role.PROCTOR)
        stranger = await new_api(world.client)
        await stranger.login("proctor2")
        resp, body = await _get(stranger, url, "bytes=0-")
        assert resp.status == 404 and whole[:100] not in body
        status, _ = await stranger.call("GET", f"{BASE}/attempts/{world.attempt_id}/recording")
        assert status == 404
        assert await _count(services, audit_log, audit_log.c.action == "recording.viewed") == viewed
        await stranger.client.close()  # type: ignore[attr-defined]
    finally:
        await world.close()


async def test_a_tampered_chunk_is_named_by_evidence_verify_with_exit_1(services):
    world, data = await _recorded(services)
    attempt_id = UUID(world.attempt_id)
    try:
        ok = verify_cli(services, attempt_id)
        assert ok.returncode == 0 and "3" in ok.stdout, (ok.stdout, ok.stderr)
        async with services.engine.connect() as conn:
            seq = (
                await conn.execute(
                    select(proctor_recording_chunks.c.evidence_seq).where(proctor_recording_chunks.c.chunk == 2)
                )
            ).scalar_one()
        path = runtime_of(services).store.chunk_path(attempt_id, 1, 2)
        blob = bytearray(path.read_bytes())
        blob[100] ^= 0x01
        path.write_bytes(bytes(blob))
        broken = verify_cli(services, attempt_id)
        assert broken.returncode == 1, (broken.stdout, broken.stderr)
        assert str(seq) in broken.stderr and "изменён" in broken.stderr.lower(), broken.stderr
        # Playback of the altered chunk is cut short rather than served as if intact.
        resp = await world.proctor.client.request("GET", f"{BASE}/attempts/{world.attempt_id}/recording/1")
        try:
            body = await resp.read()
        except Exception:  # noqa: BLE001 - the connection is dropped mid-body
            body = b""
        assert body != b"".join(data)
    finally:
        await world.close()


async def test_purge_after_retention_deletes_the_recording_with_the_other_evidence(services):
    world, _ = await _recorded(services, chunks=2)
    attempt_id = UUID(world.attempt_id)
    try:
        runtime = runtime_of(services)
        assert runtime.store.chunk_path(attempt_id, 1, 2).is_file()
        status, _ = await world.student.call("POST", f"/api/v1/attempts/{world.attempt_id}/submit")
        assert status == 200
        services.clock.advance(400 * 86400)
        async with services.engine.begin() as conn:
            purged = await proctor_admin.purge_expired(conn, runtime, "tests", now=services.clock.now())
        assert [(p.attempt_id, p.items) for p in purged] == [(attempt_id, 2)]
        assert not (runtime.store.root / world.attempt_id).exists()
        assert await _count(services, proctor_recording_chunks) == 0
        await world.proctor.login("proctor1")  # a year later: a new session
        status, listed = await world.proctor.call("GET", f"{BASE}/attempts/{world.attempt_id}/recording")
        assert status == 200 and listed["segments"] == [], listed
    finally:
        await world.close()


async def test_two_different_chunks_racing_for_one_number_store_one_and_refuse_the_other(services):
    world = await proctored_attempt(services)
    try:
        await _segment(world)
        first, second = chunk(1), chunk(1)
        results = await asyncio.gather(
            _put(world, 1, 1, first),
            _put(world, 1, 1, second),
            _put(world, 1, 2, chunk(2)),
            _put(world, 1, 2, chunk(2)),
        )
        statuses = sorted(status for status, _ in results[:2])
        assert statuses == [200, 409], results[:2]
        assert sorted(status for status, _ in results[2:]) == [200, 409], results[2:]
        won = first if results[0][0] == 200 else second
        resp = await world.proctor.client.request(
            "GET", f"{BASE}/attempts/{world.attempt_id}/recording/1", headers={"Range": f"bytes=0-{len(won) - 1}"}
        )
        assert resp.status == 206 and await resp.read() == won
        async with services.engine.begin() as conn:
            verdict = await proctor_admin.verify(
                conn, runtime_of(services), UUID(world.attempt_id), "tests", now=services.clock.now()
            )
        assert verdict.ok and verdict.checked == 2, verdict
        leftovers = list((runtime_of(services).store.root / world.attempt_id / "rec").glob("*.tmp"))
        assert leftovers == []  # the loser's staged file is gone
    finally:
        await world.close()


async def _views(services) -> list[tuple[str, int, str]]:
    async with services.engine.connect() as conn:
        rows = await conn.execute(
            select(audit_log.c.actor, audit_log.c.after, audit_log.c.at)
            .where(audit_log.c.action == "recording.viewed")
            .order_by(audit_log.c.id)
        )
        return [(r.actor, r.after["segment"], r.at.isoformat()) for r in rows]


async def test_a_viewing_is_one_audit_row_per_reviewer_and_segment_per_window(services, clock):
    from tests.factories import assign_proctor

    world, _ = await _recorded(services)
    try:
        status, _ = await _segment(world)
        assert status == 200
        status, _ = await _put(world, 2, 1, chunk(1))
        assert status == 200
        url = f"{BASE}/attempts/{world.attempt_id}/recording"
        started = clock.now().isoformat()
        for n in range(20):  # a player reading forward: twenty ranges, one viewing
            resp, _ = await _get(world.proctor, f"{url}/1", f"bytes={n * 100}-")
            assert resp.status == 206
            clock.advance(5)
        assert await _views(services) == [("user:proctor1", 1, started)]
        # Another segment is another viewing; so is another reviewer of the same segment.
        resp, _ = await _get(world.proctor, f"{url}/2")
        assert resp.status == 200
        await make_user(services, "proctor2", Role.PROCTOR)
        await assign_proctor(services, "proctor2", world.exam_id)
        second = await new_api(world.client)
        await second.login("proctor2")
        resp, _ = await _get(second, f"{url}/1", "bytes=0-")
        assert resp.status == 206
        views = await _views(services)
        assert [(who, seg) for who, seg, _ in views] == [
            ("user:proctor1", 1),
            ("user:proctor1", 2),
            ("user:proctor2", 1),
        ]
        # After the window (5 minutes by default) a request is a new viewing, with its time.
        clock.advance(300)
        resp, _ = await _get(world.proctor, f"{url}/1", "bytes=0-99")
        assert resp.status == 206
        views = await _views(services)
        assert views[-1] == ("user:proctor1", 1, clock.now().isoformat()) and len(views) == 4
        await second.client.close()  # type: ignore[attr-defined]
    finally:
        await world.close()


async def test_a_window_of_zero_audits_every_range(services, monkeypatch):
    monkeypatch.setenv("EXAM_RECORDING_VIEW_AUDIT_MIN", "0")
    world, _ = await _recorded(services)
    try:
        for _ in range(3):
            resp, _ = await _get(world.proctor, f"{BASE}/attempts/{world.attempt_id}/recording/1", "bytes=0-")
            assert resp.status == 206
        assert len(await _views(services)) == 3
    finally:
        await world.close()


async def test_late_chunks_of_an_earlier_segment_are_stored_while_the_attempt_accepts_evidence(services, clock):
    """A reloaded page sends what the previous page left queued, to that page's segment: the server
    takes chunks of any opened segment of the attempt, in any order, under the same rules as any
    upload (until the deadline and its grace; nothing after)."""
    from exam_engine.tables import attempts

    world = await proctored_attempt(services)
    try:
        assert (await _segment(world))[0] == 200
        assert (await _put(world, 1, 1, chunk(1)))[0] == 200
        assert (await _segment(world))[1]["segment"] == 2  # the page was reloaded
        assert (await _put(world, 2, 1, chunk(1)))[0] == 200
        for seq in (2, 3):  # the earlier page's queue, sent by the new page
            status, body = await _put(world, 1, seq, chunk(seq))
            assert status == 200 and body["items"][0]["stored"] and body["items"][0]["segment"] == 1, body
        status, listed = await world.proctor.call("GET", f"{BASE}/attempts/{world.attempt_id}/recording")
        assert [(s["segment"], s["chunks"], s["missing"]) for s in listed["segments"]] == [(1, 3, []), (2, 1, [])]
        async with services.engine.connect() as conn:
            deadline = (
                await conn.execute(select(attempts.c.deadline_at).where(attempts.c.id == UUID(world.attempt_id)))
            ).scalar_one()
        grace = services.settings.network_grace_s
        clock.advance((deadline - clock.now()).total_seconds() + grace / 2)  # past the deadline, within grace
        assert (await _put(world, 1, 4, chunk(4)))[0] == 200
        status, seg = await _segment(world)  # a page opens a segment in the grace, after the deadline
        assert status == 200 and seg["segment"] == 3, seg
        clock.advance(grace)
        # Past the grace the attempt is over at its deadline; what was recorded before it still
        # arrives in the recording's tail (EXAM_RECORDING_TAIL_S), what began after it does not.
        status, body = await _put(world, 1, 5, chunk(5))
        assert status == 200 and body["items"][0]["stored"], body
        status, body = await _put(world, 3, 1, chunk(1))
        assert status == 409 and body["error"]["code"] == "recording_after_end", body
        clock.advance(runtime_of(services).config.recording_tail_s)
        status, body = await _put(world, 1, 6, chunk(6))
        assert status == 409 and body["error"]["code"] == "deadline_passed", body
        assert await _count(services, proctor_recording_chunks, proctor_recording_chunks.c.segment == 1) == 5
        assert await _count(services, proctor_recording_chunks, proctor_recording_chunks.c.segment == 3) == 0
    finally:
        await world.close()


async def test_the_recording_up_to_the_hand_in_is_stored_after_it_within_the_tail(services, clock):
    """The page's last chunks (the one being recorded at the hand-in, and any still queued) upload
    after the attempt is handed in: they are stored for EXAM_RECORDING_TAIL_S after the hand-in,
    encrypted and chained like every other, and evidence verify passes. What lies after the end,
    a new segment, answers and frames are refused; after the tail the chunks are refused too."""
    from tests.integration.proctor_world import frame_person

    world = await proctored_attempt(services)
    attempt_id = UUID(world.attempt_id)
    try:
        assert (await _segment(world))[0] == 200
        clock.advance(12)  # 12 s recorded: chunks 1 and 2 sent, chunk 3 (10–12 s) still in the page
        for seq in (1, 2):
            assert (await _put(world, 1, seq, chunk(seq)))[0] == 200
        status, body = await world.student.call("POST", f"/api/v1/attempts/{world.attempt_id}/submit")
        assert status == 200, body
        clock.advance(30)
        last = chunk(3)
        status, body = await _put(world, 1, 3, last)
        assert status == 200 and body["items"][0]["stored"] is True, body
        status, body = await _put(world, 1, 3, last)  # its answer was lost: sent again
        assert status == 200 and body["items"][0]["stored"] is False, body
        status, body = await _put(world, 1, 3, chunk(3))
        assert status == 409 and body["error"]["code"] == "recording_chunk_conflict", body
        # A number the 12 s before the end cannot hold, and a chunk starting long after the end.
        for seq, offset in ((9, 15_000), (4, 60_000)):
            status, body = await _put(world, 1, seq, chunk(seq), offset_ms=offset)
            assert status == 409 and body["error"]["code"] == "recording_after_end", body
            assert "{" not in body["error"]["message"] and str(seq) in body["error"]["message"], body
        # Only the recording has a tail: no part that starts after the hand-in, no answer, no frame.
        status, body = await _segment(world)
        assert status == 409 and body["error"]["code"] == "recording_after_end", body
        assert "{" not in body["error"]["message"], body
        status, body = await world.student.call(
            "PUT", f"/api/v1/attempts/{world.attempt_id}/answers/1", {"choice": 0, "seq": 50}
        )
        assert status == 409 and body["error"]["code"] == "attempt_finished", body
        status, body = await world.upload("frames", frame_person(1))
        assert status == 409 and body["error"]["code"] == "attempt_finished", body
        ok = verify_cli(services, attempt_id)
        assert ok.returncode == 0 and "3" in ok.stdout, (ok.stdout, ok.stderr)
        # After the tail: refused like any upload after the end, nothing stored.
        clock.advance(runtime_of(services).config.recording_tail_s - 30 + 1)
        status, body = await _put(world, 1, 4, chunk(4))
        assert status == 409 and body["error"]["code"] == "attempt_finished", body
        assert await _count(services, proctor_recording_chunks) == 3
        status, listed = await world.proctor.call("GET", f"{BASE}/attempts/{world.attempt_id}/recording")
        assert [(s["segment"], s["chunks"], s["missing"]) for s in listed["segments"]] == [(1, 3, [])], listed
    finally:
        await world.close()


async def test_a_part_recorded_by_a_page_offline_from_its_load_is_opened_and_stored_after_the_end(services, clock):
    """A reloaded page lost the connection at its load and got it back only after the hand-in: its
    part never got a number. In the tail the result page opens it with its start before the end and
    sends its chunks: stored, encrypted and chained (evidence verify passes), in timeline order after
    the earlier part. A part claimed to start at the end or after it is refused, so are chunks the
    time to the end cannot hold; after the tail the opening is refused like any upload."""
    world = await proctored_attempt(services)
    attempt_id = UUID(world.attempt_id)
    try:
        assert (await _segment(world))[0] == 200
        first_start = clock.now()
        clock.advance(12)
        for seq in (1, 2):
            assert (await _put(world, 1, seq, chunk(seq)))[0] == 200
        reloaded = clock.now()  # the page is reloaded: its recorder starts, its segment is never opened
        clock.advance(20)
        status, body = await world.student.call("POST", f"/api/v1/attempts/{world.attempt_id}/submit")
        assert status == 200, body
        clock.advance(30)  # the connection is back; the result page sends what the page left
        late = {"started_at": reloaded.isoformat(), "media_type": "video/webm;codecs=vp8,opus"}
        status, seg = await world.student.call("POST", f"{BASE}/attempts/{world.attempt_id}/recording", json=late)
        assert status == 200 and seg["segment"] == 2, seg
        assert datetime.fromisoformat(seg["started_at"]) == reloaded, seg
        for seq in range(1, 6):  # 20 s before the hand-in: four chunks of 5 s and the recorder's stop chunk
            status, body = await _put(world, 2, seq, chunk(seq))
            assert status == 200 and body["items"][0]["stored"] is True, (seq, body)
        status, body = await _put(world, 2, 9, chunk(9), offset_ms=40_000)  # lies after the end
        assert status == 409 and body["error"]["code"] == "recording_after_end", body
        # A part that starts after the end, or one claimed to start within what is recorded already
        # (kept after it: 25 s from the reload, after the end here), is refused; nothing is opened.
        for started in (clock.now(), first_start - timedelta(minutes=5), reloaded + timedelta(seconds=3)):
            claim = {"started_at": started.isoformat(), "media_type": "video/webm"}
            status, body = await world.student.call("POST", f"{BASE}/attempts/{world.attempt_id}/recording", json=claim)
            assert status == 409 and body["error"]["code"] == "recording_after_end", (started, body)
            assert "{" not in body["error"]["message"], body
        ok = verify_cli(services, attempt_id)
        assert ok.returncode == 0, (ok.stdout, ok.stderr)  # every chunk decrypts and the chain holds
        status, listed = await world.proctor.call("GET", f"{BASE}/attempts/{world.attempt_id}/recording")
        parts = [(s["segment"], s["chunks"], s["missing"]) for s in listed["segments"]]
        assert parts == [(1, 2, []), (2, 5, [])], listed
        assert listed["segments"][0]["t_start"] < listed["segments"][1]["t_start"], listed
        clock.advance(runtime_of(services).config.recording_tail_s)
        status, body = await world.student.call("POST", f"{BASE}/attempts/{world.attempt_id}/recording", json=late)
        assert status == 409 and body["error"]["code"] == "attempt_finished", body
    finally:
        await world.close()


async def test_a_part_opened_after_the_end_ends_the_part_before_it_even_one_with_no_chunks_yet(services, clock):
    """Two parts are opened in the tail, the second while the first has no chunks yet (so the server
    could only hold the second's start to the first's start). The second part ends the first: a chunk
    of the first that lies within the second's time (beyond the slack the end allows) is refused,
    nothing is stored for it, and the proctor's timeline has no two parts covering the same time.
    Chunks of the first part up to the second's start, and the second part's chunks up to the end,
    are stored."""
    world = await proctored_attempt(services)
    try:
        clock.advance(60)
        first_start = clock.now() - timedelta(seconds=30)  # the pages never reached the server
        second_start = clock.now() - timedelta(seconds=15)
        status, body = await world.student.call("POST", f"/api/v1/attempts/{world.attempt_id}/submit")
        assert status == 200, body
        clock.advance(10)
        opened = []
        for started in (first_start, second_start):
            claim = {"started_at": started.isoformat(), "media_type": "video/webm;codecs=vp8,opus"}
            status, seg = await world.student.call("POST", f"{BASE}/attempts/{world.attempt_id}/recording", json=claim)
            assert status == 200 and datetime.fromisoformat(seg["started_at"]) == started, seg
            opened.append(seg["segment"])
        first, second = opened
        status, body = await _put(world, first, 1, chunk(1))  # 0–5 s: before the second part
        assert status == 200 and body["items"][0]["stored"], body
        # 25–30 s of the first part, as chunk 6 or as chunk 3: the second part's time (15 s from the
        # first's start, with the slack of the end's rule: up to chunk 5, starting by 20.3 s).
        for seq in (6, 3):
            status, body = await _put(world, first, seq, chunk(seq), offset_ms=25_000)
            assert status == 409 and body["error"]["code"] == "recording_after_end", body
            assert "{" not in body["error"]["message"] and str(seq) in body["error"]["message"], body
        for seq in (1, 2, 3):  # the second part, up to the end
            status, body = await _put(world, second, seq, chunk(seq))
            assert status == 200 and body["items"][0]["stored"], (seq, body)
        assert await _count(services, proctor_recording_chunks, proctor_recording_chunks.c.segment == first) == 1
        status, listed = await world.proctor.call("GET", f"{BASE}/attempts/{world.attempt_id}/recording")
        parts = listed["segments"]
        assert [(s["segment"], s["chunks"]) for s in parts] == [(first, 1), (second, 3)], listed
        assert parts[0]["t_start"] + parts[0]["duration_s"] <= parts[1]["t_start"], listed  # no overlap
    finally:
        await world.close()
