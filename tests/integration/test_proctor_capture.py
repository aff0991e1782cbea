"""The student's page sends evidence: stored encrypted, idempotent, refused when it must be,
and analysed into flags that reach the proctor's timeline."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

from exam_engine.services.proctoring import runtime_of
from tests.integration.proctor_world import (
    BASE,
    analyse_everything,
    enrolment_photo,
    frame_empty,
    frame_person,
    frame_two_faces,
    proctored_attempt,
)
from tests.unit.proctor import scenes as sc


async def test_a_frame_is_stored_encrypted_on_disk_and_a_resend_is_not_stored_twice(services):
    world = await proctored_attempt(services)
    try:
        jpeg = frame_person(1)
        status, first = await world.upload("frames", jpeg, seq=1)
        assert status == 200, first
        status, again = await world.upload("frames", jpeg, seq=1)
        assert status == 200
        assert first["items"][0]["stored"] is True and again["items"][0]["stored"] is False
        assert again["items"][0]["evidence_seq"] == first["items"][0]["evidence_seq"]

        path = runtime_of(services).store.path(UUID(world.attempt_id), first["items"][0]["evidence_seq"])
        on_disk = Path(path).read_bytes()
        assert on_disk[:2] != b"\xff\xd8" and jpeg[200:264] not in on_disk
        timeline = await world.timeline()
        assert [item["kind"] for item in timeline["items"]] == ["frame"]
        resp = await world.proctor.client.request("GET", timeline["items"][0]["url"])
        assert resp.status == 200 and resp.content_type == "image/jpeg" and await resp.read() == jpeg
    finally:
        await world.close()


async def test_a_ten_megabyte_frame_gets_413_and_a_broken_jpeg_a_clear_422_and_nothing_is_stored(services):
    world = await proctored_attempt(services)
    try:
        status, body = await world.upload("frames", b"\xff\xd8" + b"\0" * (10 * 1024 * 1024), seq=1)
        assert status == 413 and body["error"]["code"] == "upload_too_large"
        status, body = await world.upload("frames", frame_person(1)[:4000], seq=2)
        assert status == 422 and body["error"]["code"] == "image_invalid"
        assert body["error"]["message"]
        status, body = await world.upload("frames", b"GIF89a not a jpeg at all", seq=3)
        assert status == 422 and body["error"]["code"] == "image_invalid"
        assert (await world.timeline())["items"] == []
        assert not (runtime_of(services).store.root / world.attempt_id).exists()
    finally:
        await world.close()


async def test_uploads_need_consent_the_students_own_attempt_and_one_still_running(services):
    world = await proctored_attempt(services, consent=False)
    try:
        status, body = await world.upload("frames", frame_person(1), seq=1)
        assert status == 409 and body["error"]["code"] == "consent_required"
        status, body = await world.student.call(
            "POST", f"{BASE}/attempts/{world.attempt_id}/consent", json={"consent": True}
        )
        assert status == 200 and body["consented"] is True and body["frame_interval_s"] == 5.0
        status, body = await world.upload("frames", frame_person(1), seq=1, api=world.other_student)
        assert status == 404 and body["error"]["code"] == "attempt_not_found"
        status, _ = await world.student.call("POST", f"/api/v1/attempts/{world.attempt_id}/submit")
        assert status == 200
        status, body = await world.upload("frames", frame_person(2), seq=2)
        assert status == 409 and body["error"]["code"] == "attempt_finished"
    finally:
        await world.close()


async def test_a_no_face_and_a_two_face_segment_become_flags_on_the_proctors_timeline(services):
    world = await proctored_attempt(services)
    try:
        status, body = await world.upload("enrolment", enrolment_photo(), seq=1)
        assert status == 200, body
        await analyse_everything(services)
        segments = [frame_person] * 2 + [frame_empty] * 3 + [frame_person] * 2 + [frame_two_faces] * 3
        seqs = [(await world.frame(make(i)))["evidence_seq"] for i, make in enumerate(segments)]
        await analyse_everything(services)

        timeline = await world.timeline()
        flags = {flag["kind"]: flag for flag in timeline["flags"]}
        assert set(flags) == {"no_face", "several_faces"}, timeline["flags"]
        assert flags["no_face"]["evidence_seqs"] == seqs[2:5]
        assert flags["several_faces"]["evidence_seqs"] == seqs[7:10]
        assert flags["no_face"]["end_s"] - flags["no_face"]["start_s"] == 10.0
        assert timeline["risk_score"] > 0 and timeline["attempt"]["frames_analysed"] == 10
        status, plan = await world.student.call("GET", f"{BASE}/attempts/{world.attempt_id}/plan")
        assert plan["enrolment"]["state"] == "usable"

        status, queue = await world.proctor.call("GET", f"{BASE}/queue")
        assert [a["attempt_id"] for a in queue["attempts"]] == [world.attempt_id]
        status, live = await world.proctor.call("GET", f"{BASE}/live")
        assert {f["kind"] for f in live["attempts"][0]["latest_flags"]} == {"no_face", "several_faces"}
    finally:
        await world.close()


async def test_browser_events_and_loud_noise_become_flags_and_unknown_events_are_refused(services):
    world = await proctored_attempt(services)
    try:
        start = services.clock.now()
        services.clock.advance(120)
        events = [
            {"seq": 1, "type": "tab_hidden", "started_at": start.isoformat(), "duration_s": 40},
            {"seq": 2, "type": "paste", "started_at": start.isoformat()},
        ]
        status, body = await world.student.call(
            "POST", f"{BASE}/attempts/{world.attempt_id}/events", json={"events": events}
        )
        assert status == 200 and [i["stored"] for i in body["items"]] == [True, True]
        status, body = await world.student.call(
            "POST", f"{BASE}/attempts/{world.attempt_id}/events", json={"events": [{"seq": 3, "type": "coffee_break"}]}
        )
        assert status == 422 and body["error"]["code"] == "invalid_event_type"
        status, body = await world.student.call(
            "POST",
            f"{BASE}/attempts/{world.attempt_id}/noise",
            json={
                "seq": 1,
                "started_at": start.isoformat(),
                "interval_s": 1,
                "dbfs": [-50, -12, -11, -10, -12, -13, -60],
            },
        )
        assert status == 200, body

        flags = {f["kind"]: f for f in (await world.timeline())["flags"]}
        assert set(flags) == {"tab_hidden", "paste", "loud_noise"}
        assert flags["tab_hidden"]["severity"] == "high" and flags["loud_noise"]["peak"] == -10
    finally:
        await world.close()


async def test_a_second_exam_page_is_refused_and_the_refusal_is_flagged(services):
    world = await proctored_attempt(services)
    try:
        url = f"{BASE}/attempts/{world.attempt_id}/heartbeat"
        assert (await world.student.call("POST", url, json={"page_id": "tab-a"}))[0] == 200
        status, body = await world.student.call("POST", url, json={"page_id": "tab-b"})
        assert status == 409 and body["error"]["code"] == "second_exam_page"
        assert (await world.student.call("POST", url, json={"page_id": "tab-a"}))[0] == 200
        assert [f["kind"] for f in (await world.timeline())["flags"]] == ["second_tab"]
    finally:
        await world.close()


async def test_a_room_scan_requested_live_is_pending_until_the_burst_arrives_as_one_item(services):
    world = await proctored_attempt(services)
    try:
        status, body = await world.proctor.call("POST", f"{BASE}/attempts/{world.attempt_id}/room-scan-requests")
        assert status == 200, body
        url = f"{BASE}/attempts/{world.attempt_id}/heartbeat"
        status, plan = await world.student.call("POST", url, json={"page_id": "tab-a"})
        assert [r["kind"] for r in plan["pending_requests"]] == ["room_scan"]
        burst = [frame_empty(1), frame_person(2), frame_empty(3)]
        status, body = await world.room_scan(burst, seq=1)
        assert status == 200 and body["items"][0]["kind"] == "roomscan", body
        status, plan = await world.student.call("POST", url, json={"page_id": "tab-a"})
        assert plan["pending_requests"] == []
        seq = body["items"][0]["evidence_seq"]
        resp = await world.proctor.client.request("GET", f"{BASE}/attempts/{world.attempt_id}/evidence/{seq}?frame=1")
        assert resp.status == 200 and await resp.read() == burst[1]
        timeline = await world.timeline()
        assert timeline["requests"][0]["fulfilled_seq"] == seq
    finally:
        await world.close()


async def test_someone_else_sitting_down_after_an_empty_chair_is_checked_at_once(services):
    """Identity runs on every 20th frame, and on the first frame after one without a face:
    the swap is seen on its first frame, not up to a minute later. One frame is not a flag
    (a hand over the mouth can push one frame's distance up): the frame after a "different"
    one is checked too, and the second confirms it."""
    world = await proctored_attempt(services)
    try:
        status, body = await world.upload("enrolment", enrolment_photo(), seq=1)
        assert status == 200, body
        await analyse_everything(services)
        stranger = lambda seed: sc.live(sc.place(sc.wall(), sc.cameraman(), 80, 0, 480), seed)  # noqa: E731
        seqs = []
        for i, make in enumerate([frame_person, frame_person, frame_empty, stranger]):
            seqs.append((await world.frame(make(i)))["evidence_seq"])
            await analyse_everything(services)  # frames arrive 5 s apart; each is analysed before the next
        after_one = await world.timeline()
        seqs.append((await world.frame(stranger(4)))["evidence_seq"])
        await analyse_everything(services)
        timeline = await world.timeline()
    finally:
        await world.close()
    assert "identity_mismatch" not in {flag["kind"] for flag in after_one["flags"]}, after_one["flags"]
    flags = {flag["kind"]: flag for flag in timeline["flags"]}
    assert "identity_mismatch" in flags, timeline["flags"]
    # the 4th frame (not a scheduled one) and the 5th, checked because the 4th said "different"
    assert flags["identity_mismatch"]["evidence_seqs"] == [seqs[3], seqs[4]]


async def test_concurrent_uploads_to_one_attempt_chain_one_after_another_and_a_resend_is_stored_once(services):
    """Frames of one attempt arriving together (a slow network, a retry racing its original) each
    follow the item stored just before them, whoever waited for the lock."""
    import asyncio

    from exam_engine.services import proctor_admin

    world = await proctored_attempt(services)
    try:
        jpeg = frame_person(1)
        seqs = [1, 2, 3, 4, 5, 6, 7, 8, 3, 5]  # two resends racing their originals
        results = await asyncio.gather(*(world.upload("frames", jpeg, seq=seq) for seq in seqs))
        assert [status for status, _ in results] == [200] * len(seqs), results
        stored = [body["items"][0] for _, body in results]
        assert sum(item["stored"] for item in stored) == 8
        by_seq: dict[int, set[int]] = {}
        for seq, item in zip(seqs, stored, strict=True):
            by_seq.setdefault(seq, set()).add(item["evidence_seq"])
        assert all(len(evidence) == 1 for evidence in by_seq.values())  # a resend names the original
        async with services.engine.begin() as conn:
            verdict = await proctor_admin.verify(
                conn, runtime_of(services), UUID(world.attempt_id), "tests", now=services.clock.now()
            )
        assert verdict.ok and verdict.checked == 8, verdict
    finally:
        await world.close()


async def test_a_room_scan_whose_part_header_is_over_the_bound_is_a_422_not_a_framing_error(services):
    """A part's header line over aiohttp's bound (a file name of 20,000 characters) escaped the scan's
    reader and was answered as if the request's length or chunks were malformed (400)."""
    world = await proctored_attempt(services)
    try:
        body = (
            b'--sc4n\r\nContent-Disposition: form-data; name="frame"; filename="'
            + b"n" * 20_000
            + b'.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
            + sc.live(sc.wall(), 0)
            + b"\r\n--sc4n--\r\n"
        )
        resp = await world.client.post(
            f"{BASE}/attempts/{world.attempt_id}/room-scans?seq=1",
            data=body,
            headers={**world.student._headers(), "Content-Type": "multipart/form-data; boundary=sc4n"},
        )
        answer = await resp.json()
        assert resp.status == 422 and answer["error"]["code"] == "multipart_expected", (resp.status, answer)
    finally:
        await world.close()
