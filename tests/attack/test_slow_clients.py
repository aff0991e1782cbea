"""Hostile and faulty clients cannot stall the server for everyone else (issue 18).

A client that sends its headers and then nothing — an attacker, or a student on a bad network
uploading a frame — used to take a database connection before its body was read and hold it
with no deadline: on SQLite (one connection) every other request waited 60 s and failed with a
plain-text 500; on PostgreSQL 25 such clients exhausted the pool. Now the body is read, bounded
in size and time, before any connection is taken; a body that does not arrive is a 408; a wait
for a connection that runs out is a JSON 503 with ``Retry-After``. On both databases.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from contextlib import AsyncExitStack

from exam_engine.bootstrap import build_services
from tests.factories import PASSWORD, Api, make_world, new_api, open_client, start_exam

SLOW_CLIENTS = 30  # more than PostgreSQL's pool (10 + 10 overflow); SQLite has one connection
BODY_DEADLINE_S = 3.0


async def _raw_login(client, login: str) -> tuple[str, str]:
    resp = await client.post("/api/v1/auth/login", json={"login": login, "password": PASSWORD})
    body = await resp.json()
    assert resp.status == 200, body
    return resp.cookies["exam_session"].value, body["csrf_token"]


async def _headers_only(
    port: int, path: str, cookie: str, csrf: str, length: int, ctype: str = "application/json", extra: str = ""
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A request whose headers promise ``length`` bytes of body that never come."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: exam_session={cookie}\r\n"
            f"X-CSRF-Token: {csrf}\r\nContent-Type: {ctype}\r\nContent-Length: {length}\r\n{extra}\r\n"
        ).encode()
    )
    await writer.drain()
    return reader, writer


async def _timed(coro) -> tuple[float, object]:
    t0 = time.perf_counter()
    result = await coro
    return time.perf_counter() - t0, result


async def test_clients_sending_headers_and_no_body_hold_nothing_that_others_need(services, backend):
    services.settings = services.settings.with_overrides(body_timeout_s=BODY_DEADLINE_S)
    # Not proctored, so the other student's start is writing at once (a proctored start waits in its
    # checks); the frame uploads below go to unknown attempts and are held at their body all the same.
    world = await make_world(services, students=3, requires_proctoring=False)
    client = await open_client(services)
    async with AsyncExitStack() as stack:
        stack.push_async_callback(client.close)
        cookie, csrf = await _raw_login(client, world.students[0])
        port = client.port
        # The hostile (or unlucky) student: JSON requests on transactional routes, a page's form, and
        # webcam frames, each announcing a body and sending none.
        slow = []
        for i in range(SLOW_CLIENTS):
            if i % 3 == 2:
                path, length, ctype = (
                    f"/api/v1/proctor/attempts/{uuid.uuid4()}/frames?seq={i + 1}",
                    1_900_000,
                    "image/jpeg",
                )
            elif i % 3 == 1:
                path, length, ctype = "/account", 120, "application/x-www-form-urlencoded"
            else:
                path, length, ctype = f"/api/v1/exams/{world.exam_id}/start", 100, "application/json"
            slow.append(await _headers_only(port, path, cookie, csrf, length, ctype))
        stack.callback(lambda: [w.close() for _, w in slow])
        await asyncio.sleep(0.5)  # every slow request has reached its handler by now

        # Everyone else goes on at their usual pace while the sockets stay open.
        other = await new_api(client)
        stack.push_async_callback(other.client.close)
        took, _ = await _timed(other.login(world.students[1]))
        assert took < 2.5, f"sign-in took {took:.1f} s behind {SLOW_CLIENTS} silent bodies"
        took, (status, exams) = await _timed(other.call("GET", "/api/v1/student/exams"))
        assert status == 200 and exams["exams"], exams
        assert took < 2.5, f"the exam list took {took:.1f} s"
        took, (status, started) = await _timed(other.call("POST", f"/api/v1/exams/{world.exam_id}/start", json={}))
        assert status == 200, started
        assert took < 2.5, f"a start took {took:.1f} s"
        took, (status, saved) = await _timed(
            other.call("PUT", f"/api/v1/attempts/{started['attempt']['id']}/answers/1", json={"choice": 0, "seq": 1})
        )
        assert status == 200 and saved["applied"], saved
        assert took < 2.5, f"an autosave took {took:.1f} s"

        # The silent ones are answered once the body deadline passes: a 408 in JSON, and the socket closed.
        for reader, _ in slow:
            raw = await asyncio.wait_for(reader.read(), timeout=BODY_DEADLINE_S + 10)
            head, _, body = raw.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 408"), head[:80]
            assert json.loads(body)["error"]["code"] == "body_timeout"
        # The hostile student's own requests stored nothing: no attempt was started by them.
        status, mine = await Api(client).call("GET", "/api/v1/student/exams")
        assert status == 200 and all(e.get("attempt") is None for e in mine["exams"]), mine


async def test_a_slow_body_is_refused_in_the_readers_language(services):
    """The body is awaited before the person is looked up (nothing is taken for a client that may
    never finish), so the refusal speaks the browser's language."""
    services.settings = services.settings.with_overrides(body_timeout_s=1.0)
    world = await make_world(services, students=1, student_language="ru")
    client = await open_client(services)
    try:
        cookie, csrf = await _raw_login(client, world.students[0])
        reader, writer = await _headers_only(
            client.port,
            f"/api/v1/exams/{world.exam_id}/start",
            cookie,
            csrf,
            50,
            extra="Accept-Language: ru-RU,ru;q=0.9\r\n",
        )
        writer.write(b'{"language":')  # part of the body, then silence
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), timeout=10)
        writer.close()
        head, _, body = raw.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408")
        error = json.loads(body)["error"]
        assert error["code"] == "body_timeout"
        assert "Запрос не был получен полностью за 1 с" in error["message"]
    finally:
        await client.close()


async def test_no_connection_within_the_bound_is_a_json_503_with_retry_after_never_a_500(services, backend):
    """Every database connection is taken (a stuck pool, SQLite's only one): requests are refused
    clearly after EXAM_DB_WAIT_S, and served again as soon as a connection is free."""
    world = await make_world(services, students=1)
    busy = build_services(services.settings.with_overrides(db_wait_s=1.0), clock=services.clock)
    client = await open_client(busy)
    held = []
    try:
        api = Api(client)
        await api.login(world.students[0])
        capacity = 1 if backend == "sqlite" else busy.engine.pool.size() + busy.engine.pool._max_overflow
        for _ in range(capacity):
            held.append(await busy.engine.connect())
        took, (status, body) = await _timed(api.call("GET", "/api/v1/student/exams"))
        assert status == 503, body
        assert body["error"]["code"] == "server_busy"
        assert body["error"]["message"] == "Сервер қазір бос емес. Бірнеше секундтан кейін қайталап көріңіз."
        assert took < 5
        resp = await client.get("/api/v1/student/exams")
        assert resp.status == 503 and resp.headers["Retry-After"] == "5"
        assert resp.headers["Content-Type"].startswith("application/json")
        for conn in held:
            await conn.close()
        held.clear()
        status, body = await api.call("GET", "/api/v1/student/exams")
        assert status == 200, body
    finally:
        for conn in held:
            await conn.close()
        await client.close()


async def test_a_row_lock_held_too_long_is_a_503_and_the_answer_is_saved_once_it_is_free(
    pg_database, redis_url, tmp_path
):
    """PostgreSQL: a statement that waits for a row lock waits at most EXAM_DB_WAIT_S (SQLite's one
    writer is its single connection, bounded by the pool test above)."""
    from sqlalchemy import text

    from exam_engine.clock import FakeClock
    from exam_engine.config import load_settings
    from tests.conftest import _truncate, settings_env

    services = build_services(
        load_settings({**settings_env(pg_database, str(tmp_path), redis_url), "EXAM_DB_WAIT_S": "1"}), clock=FakeClock()
    )
    await _truncate(services)
    world = await make_world(services, students=1)
    client = await open_client(services)
    try:
        student = Api(client)
        started = await start_exam(student, world.students[0], world.exam_id)
        attempt_id = started["attempt"]["id"]
        async with services.engine.connect() as holder:
            await holder.begin()
            await holder.execute(text("SELECT 1 FROM attempts WHERE id = :id FOR UPDATE"), {"id": attempt_id})
            took, (status, body) = await _timed(
                student.call("PUT", f"/api/v1/attempts/{attempt_id}/answers/1", json={"choice": 1, "seq": 1})
            )
            assert status == 503 and body["error"]["code"] == "server_busy", body
            assert took < 6
            await holder.rollback()
        status, saved = await student.call(
            "PUT", f"/api/v1/attempts/{attempt_id}/answers/1", json={"choice": 1, "seq": 1}
        )
        assert status == 200 and saved["applied"], saved
    finally:
        await client.close()
        await services.close()


async def test_a_json_body_over_the_limit_is_refused_whether_it_came_whole_or_in_chunks(services):
    """A body already all received is taken without arming the deadline (issue 24): the size
    limit holds there too, with or without a Content-Length, and the answer is not stored."""
    from exam_engine.web.http import MAX_JSON_BYTES

    world = await make_world(services, students=1)
    client = await open_client(services)
    try:
        student = Api(client)
        started = await start_exam(student, world.students[0], world.exam_id)
        url = f"/api/v1/attempts/{started['attempt']['id']}/answers/1"
        big = json.dumps({"choice": 1, "seq": 1, "pad": "x" * MAX_JSON_BYTES}).encode()

        async def chunks():
            for i in range(0, len(big), 8192):
                yield big[i : i + 8192]

        for body in (big, chunks()):
            resp = await client.put(
                url, data=body, headers={"X-CSRF-Token": student.csrf, "Content-Type": "application/json"}
            )
            error = (await resp.json())["error"]
            assert resp.status == 422 and error["code"] == "body_too_large", (resp.status, error)
        view_url = f"/api/v1/attempts/{started['attempt']['id']}"
        status, view = await student.call("GET", view_url)
        assert status == 200 and view["questions"][0]["position"] == 1 and view["questions"][0]["seq"] is None, view
        status, saved = await student.call("PUT", url, json={"choice": 1, "seq": 1})
        assert status == 200 and saved["applied"], saved
        status, view = await student.call("GET", view_url)
        assert (view["questions"][0]["choice"], view["questions"][0]["seq"]) == (1, 1), view
    finally:
        await client.close()


async def _dribble(writer: asyncio.StreamWriter, data: bytes, every_s: float, for_s: float) -> None:
    """Slowloris: one byte at a time, never silent long enough for an idle timeout — for ``for_s``, then
    silent until the server answers (a byte arriving after the server closed the socket makes the kernel
    reset the connection, and the client may lose the answer to the reset)."""
    try:
        for byte in data[: int(for_s / every_s) + 1]:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(every_s)
    except (ConnectionError, OSError):
        pass  # the server hung up: what the test waits for


async def test_slowloris_heads_and_bodies_hold_a_connection_slot_only_until_their_deadline(services):
    """Bytes dribbled one by one, a second apart, never let a connection go idle: a head was held until
    aiohttp's keep-alive timer (75 s after the connection opened), so a few hundred of them held every
    connection slot the process has (EXAM_MAX_CONNECTIONS: newcomers refused with 503). Now a head must be
    complete within EXAM_HEADER_TIMEOUT_S (else 408 in the reader's language, or, if nothing came at all,
    the socket closed), and a body within EXAM_BODY_TIMEOUT_S in all — however steadily it trickles."""
    services.settings = services.settings.with_overrides(header_timeout_s=2.0, body_timeout_s=3.0, max_connections=18)
    world = await make_world(services, students=2, requires_proctoring=False)
    client = await open_client(services)
    async with AsyncExitStack() as stack:
        stack.push_async_callback(client.close)
        # The other student is writing on a connection opened before the attack.
        other = await new_api(client)
        stack.push_async_callback(other.client.close)
        started = await start_exam(other, world.students[1], world.exam_id)
        save_url = f"/api/v1/attempts/{started['attempt']['id']}/answers/1"
        cookie, csrf = await _raw_login(client, world.students[0])
        port = client.port
        t0 = time.perf_counter()
        heads, bodies, silent, tasks = [], [], [], []
        head = (
            f"GET /api/v1/student/exams HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Language: ru\r\n"
            f"Cookie: exam_session={cookie}\r\nX-Padding: {'p' * 200}\r\n\r\n"
        ).encode()
        for _ in range(6):  # heads, a byte every 0.5 s (the whole head would take two minutes)
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            heads.append((reader, writer))
            line_end = head.index(b"Cookie")  # the request line and the language at once, then the trickle
            writer.write(head[:line_end])
            tasks.append(asyncio.create_task(_dribble(writer, head[line_end:], 0.5, 1.6)))
        for _ in range(4):  # bodies announced as 200 bytes, a byte every 0.5 s (100 s in all)
            reader, writer = await _headers_only(
                port, f"/api/v1/exams/{world.exam_id}/start", cookie, csrf, 200, extra="Accept-Language: ru\r\n"
            )
            bodies.append((reader, writer))
            tasks.append(asyncio.create_task(_dribble(writer, b'{"x":"' + b"y" * 190 + b'"}', 0.5, 2.6)))
        for _ in range(3):  # connections that say nothing at all
            silent.append(await asyncio.open_connection("127.0.0.1", port))
        stack.callback(lambda: [t.cancel() for t in tasks])
        stack.callback(lambda: [w.close() for _, w in heads + bodies + silent])

        # Meanwhile the other student's saves go on as usual.
        for seq in range(1, 6):
            took, (status, saved) = await _timed(other.call("PUT", save_url, json={"choice": seq % 4, "seq": seq}))
            assert status == 200 and saved["applied"], saved
            assert took < 1.0, f"a save took {took:.1f} s beside the slow clients"
            await asyncio.sleep(0.2)

        # Each head is refused at its deadline: 408 in the reader's language, the slot given back.
        for reader, _ in heads:
            raw = await asyncio.wait_for(reader.read(), timeout=10)
            status_line, _, body = raw.partition(b"\r\n\r\n")
            assert status_line.startswith((b"HTTP/1.0 408", b"HTTP/1.1 408")), raw[:1000]
            assert b"application/json" in status_line, raw[:1500]
            error = json.loads(body)["error"]
            assert error["code"] == "head_timeout"
            assert error["message"].startswith("Запрос не был получен полностью за 2 с"), error["message"]
        assert time.perf_counter() - t0 < 2.0 + 3.0, "the heads were held beyond their deadline"
        # Each trickling body at the body deadline (a total: the trickle does not extend it).
        for reader, _ in bodies:
            raw = await asyncio.wait_for(reader.read(), timeout=10)
            assert raw.startswith(b"HTTP/1.1 408") and b"body_timeout" in raw, raw[:200]
        # The silent ones are closed without a word.
        for reader, _ in silent:
            assert await asyncio.wait_for(reader.read(), timeout=10) == b""
        assert time.perf_counter() - t0 < 3.0 + 4.0, "the bodies were held beyond their deadline"

        # Every slot is free again: 15 new connections, where 13 slow ones and the two students' would
        # have left 3 of the 18.
        fresh = []
        for _ in range(15):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            fresh.append((reader, writer))
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        stack.callback(lambda: [w.close() for _, w in fresh])
        for reader, _ in fresh:
            line = await asyncio.wait_for(reader.readline(), timeout=5)
            assert line.startswith(b"HTTP/1.1 200"), line
