"""Hostile connections against a real server: each harms only itself, and another student's autosave
goes through promptly meanwhile.

Raw sockets, since no HTTP client misbehaves like this on purpose: a client that never reads its answers,
a request that is both ``Content-Length`` and chunked (request smuggling), ``Expect: 100-continue`` with a
terabyte announced, hundreds of requests pipelined in one packet, and absurd numbers in every GET route's
query and path. Before: the non-reading client held its connection, its task and the answer's bytes for
ever (the write had no deadline); a terabyte announced was answered "100 Continue" (send it) before any
check; a ``²`` in an id or a query number was a 500 (``"²".isdigit()`` is true, ``int("²")`` fails).
"""

from __future__ import annotations

import itertools
import json
import socket
import time
import uuid
from typing import Any

import pytest
import requests

from exam_engine.web import app  # noqa: F401 - registers the routes
from exam_engine.web.http import ROUTES
from tests.attack.conftest import Scene
from tests.factories import stored_choices

WRITE_TIMEOUT_S = 2.0
PROMPT_S = 1.0
_seq = itertools.count(1)


@pytest.fixture
def scene_env() -> dict[str, str]:
    return {"EXAM_BODY_TIMEOUT_S": str(WRITE_TIMEOUT_S)}  # also the deadline of an answer nobody reads


def _cookie(session: Any) -> str:
    return "; ".join(f"{k}={v}" for k, v in session.cookies.items())


def autosave_is_prompt(scene: Scene) -> float:
    """The other student saves an answer: stored, and within PROMPT_S."""
    seq = next(_seq)
    started = time.perf_counter()
    resp = requests.put(
        f"{scene.server.url}/api/v1/attempts/{scene.other_attempt_id}/answers/1",
        json={"choice": seq % 3, "seq": seq},
        cookies=scene.other_student.cookies,
        headers=scene.other_student.headers,
        timeout=10,
    )
    seconds = time.perf_counter() - started
    assert resp.status_code == 200 and resp.json()["applied"] is True, resp.text
    assert seconds < PROMPT_S, seconds
    return seconds


def _connect(scene: Scene, rcvbuf: int | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect(("127.0.0.1", scene.server.port))
    sock.settimeout(10)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return data


def _first_answer(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", len(body)))
    return int(lines[0].split()[1]), headers, body[:length]


def _held(scene: Scene, sock: socket.socket) -> bool:
    """Whether the server still holds the connection of ``sock`` (one of its connection slots)."""
    port = sock.getsockname()[1]

    async def find() -> bool:
        handlers = scene.server.runner.server._connections  # type: ignore[union-attr]
        return any(
            h.transport is not None and (h.transport.get_extra_info("peername") or (None, None))[1] == port
            for h in handlers
        )

    return scene.server.run(find)


def _dropped_within(scene: Scene, sock: socket.socket, seconds: float) -> bool:
    """Whether the server lets ``sock``'s connection go within ``seconds`` (the other student saving meanwhile)."""
    deadline = time.monotonic() + seconds
    while _held(scene, sock) and time.monotonic() < deadline:
        autosave_is_prompt(scene)
        time.sleep(0.2)
    return not _held(scene, sock)


def test_a_client_that_never_reads_its_answers_is_dropped_at_the_deadline_and_its_slot_freed(scene: Scene):
    url = scene.server.url
    assert requests.get(f"{url}/api/v1/openapi.json", timeout=60).status_code == 200  # built once, then served
    sock = _connect(scene, rcvbuf=4096)
    try:
        sock.sendall(b"GET /api/v1/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n" * 40)  # megabytes of answers, never read
        time.sleep(0.5)
        assert _held(scene, sock)
        autosave_is_prompt(scene)
        assert _dropped_within(scene, sock, WRITE_TIMEOUT_S + 5), "the connection that reads nothing is still held"
    finally:
        sock.close()
    autosave_is_prompt(scene)


SMUGGLED = {
    "both a length and chunked": (
        "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n",
        b'{"choice":1,"seq":999}'.join([b"16\r\n", b"\r\n0\r\n\r\n"]),
    ),
    "chunked spelt otherwise": ("Transfer-Encoding: xchunked\r\n", b'16\r\n{"choice":1,"seq":999}\r\n0\r\n\r\n'),
    "two different lengths": ("Content-Length: 22\r\nContent-Length: 4\r\n", b'{"choice":1,"seq":999}'),
    "chunked twice": (
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
        b'16\r\n{"choice":1,"seq":999}\r\n0\r\n\r\n',
    ),
}


@pytest.mark.parametrize("case", list(SMUGGLED))
def test_a_request_framed_two_ways_is_refused_in_the_readers_language_and_nothing_is_saved(scene: Scene, case):
    headers, body = SMUGGLED[case]
    sock = _connect(scene)
    try:
        sock.sendall(
            (
                f"PUT /api/v1/attempts/{scene.attempt_id}/answers/2 HTTP/1.1\r\nHost: x\r\n"
                f"Cookie: {_cookie(scene.student)}\r\nX-CSRF-Token: {scene.student.headers['X-CSRF-Token']}\r\n"
                f"Content-Type: application/json\r\n{headers}\r\n"
            ).encode()
            + body
            # what a smuggler hides behind: a second request that must never be read as one
            + f"GET /api/v1/me HTTP/1.1\r\nHost: x\r\nCookie: {_cookie(scene.student)}\r\n\r\n".encode()
        )
        raw = _read_all(sock)
    finally:
        sock.close()
    status, answer_headers, answer = _first_answer(raw)
    assert status == 400, raw[:300]
    error = json.loads(answer)["error"]
    assert error["code"] in ("bad_body_framing", "bad_header"), error
    assert error["message"].startswith(("Сұрау денесінің", "Сұрау тақырыптарының")), error  # kk: the lang cookie
    assert raw.count(b"HTTP/1.") == 1, raw  # the hidden request got no answer: the connection was closed
    assert 2 not in scene.server.run(lambda: stored_choices(scene.server.services, uuid.UUID(scene.attempt_id)))
    autosave_is_prompt(scene)


def test_expect_100_continue_with_a_terabyte_is_refused_before_the_body(scene: Scene):
    path = f"/api/v1/attempts/{scene.attempt_id}/answers/3"
    head = (
        f"PUT {path} HTTP/1.1\r\nHost: x\r\nCookie: {_cookie(scene.student)}\r\n"
        f"X-CSRF-Token: {scene.student.headers['X-CSRF-Token']}\r\nContent-Type: application/json\r\n"
    )
    sock = _connect(scene)
    try:
        started = time.perf_counter()
        sock.sendall((head + "Expect: 100-continue\r\nContent-Length: 1000000000000\r\n\r\n").encode())
        raw = sock.recv(65536)  # the server answers without waiting for a byte of the body
        seconds = time.perf_counter() - started
        raw += _read_all(sock)  # and closes (after aiohttp's lingering over whatever might still come, ≤ 2 s)
    finally:
        sock.close()
    assert not raw.startswith(b"HTTP/1.1 100"), raw[:200]
    status, headers, answer = _first_answer(raw)
    assert status == 422 and json.loads(answer)["error"]["code"] == "body_too_large", raw[:300]
    assert json.loads(answer)["error"]["message"] == "Сұраныс тым үлкен.", answer  # the student's kk
    assert headers.get("connection", "").lower() == "close" and seconds < 2, (headers, seconds)
    autosave_is_prompt(scene)
    # An honest Expect: invited, then saved.
    body = json.dumps({"choice": 2, "seq": next(_seq)}).encode()
    sock = _connect(scene)
    try:
        sock.sendall((head + f"Expect: 100-continue\r\nContent-Length: {len(body)}\r\n\r\n").encode())
        assert sock.recv(25).startswith(b"HTTP/1.1 100 Continue"), "not invited"
        sock.sendall(body)
        status, _, answer = _first_answer(sock.recv(65536))
    finally:
        sock.close()
    assert status == 200 and json.loads(answer)["applied"] is True, answer
    # An Expect the server cannot meet: a 417 in the reader's language, not aiohttp's English text.
    sock = _connect(scene)
    try:
        sock.sendall((head + "Expect: something-else\r\nContent-Length: 2\r\n\r\n{}").encode())
        status, headers, answer = _first_answer(_read_all(sock))
    finally:
        sock.close()
    assert status == 417 and headers["content-type"].startswith("application/json"), answer
    assert json.loads(answer)["error"]["message"].startswith("Сервер сұраудың Expect"), answer


def test_hundreds_of_pipelined_requests_in_one_packet_are_answered_in_turn_with_a_bounded_queue(scene: Scene):
    from aiohttp.web_protocol import MAX_MSG_QUEUE_SIZE

    count = 600
    request = f"GET /api/v1/me HTTP/1.1\r\nHost: x\r\nCookie: {_cookie(scene.student)}\r\n\r\n".encode()
    sock = _connect(scene)
    try:
        sock.sendall(request * count)

        async def queued() -> int:
            return max((len(h._messages) for h in scene.server.runner.server._connections), default=0)  # type: ignore[union-attr]

        deepest = 0
        for _ in range(10):
            deepest = max(deepest, scene.server.run(queued))
            time.sleep(0.02)
        autosave_is_prompt(scene)
        data = b""
        while data.count(b"HTTP/1.1 200") < count:
            chunk = sock.recv(1 << 20)
            assert chunk, f"closed after {data.count(b'HTTP/1.1 200')} answers"
            data += chunk
    finally:
        sock.close()
    assert deepest <= MAX_MSG_QUEUE_SIZE, deepest
    assert data.count(b"HTTP/1.1 200") == count and b"HTTP/1.1 5" not in data
    autosave_is_prompt(scene)


ABSURD_VALUES = ("-1", "99999999999999999999999999", "1e400", "NaN", "²", "١٢", "0x10", "", "%00")
QUERY_NAMES = (
    "limit",
    "offset",
    "page",
    "page_size",
    "per_page",
    "against",
    "seq",
    "frame",
    "silent_after_s",
    "offset_ms",
    "duration_ms",
    "format",
    "all",
    "role",
    "discipline",
    "thumb",
    "target",
)


def _paths() -> list[str]:
    out = []
    for doc, _ in ROUTES:
        if doc.method != "GET":
            continue
        out.append(doc.path)
    return sorted(set(out))


def test_absurd_numbers_in_every_get_routes_query_and_path_are_a_precise_refusal_never_a_500(scene: Scene):
    url = scene.server.url
    failures: list[str] = []
    for who in (scene.admin, scene.student):
        for path in _paths():
            for value in ABSURD_VALUES:
                concrete = path
                for name in ("attempt_id", "exam_id", "flag_id", "journal_id", "correction_id", "segment", "seq"):
                    concrete = concrete.replace("{" + name + "}", value if name != "attempt_id" else scene.attempt_id)
                concrete = concrete.replace("{", "").replace("}", "")  # any other parameter: the value's name
                query = "&".join(f"{name}={value}" for name in QUERY_NAMES)
                resp = requests.get(f"{url}{concrete}?{query}", cookies=who.cookies, headers=who.headers, timeout=30)
                if resp.status_code >= 500:
                    failures.append(f"{resp.status_code} {concrete}?{query[:60]}")
                elif resp.status_code >= 400 and concrete.startswith("/api/"):
                    error = resp.json()["error"]
                    if not error.get("code") or not error.get("message") or error["message"].isascii():
                        failures.append(f"{resp.status_code} {concrete}: {error}")
    assert not failures, "\n".join(failures[:40])
    autosave_is_prompt(scene)


def test_a_client_that_never_reads_a_static_file_is_dropped_at_the_deadline_too(scene: Scene):
    """Static files go out by sendfile(2), past the transport's buffers: the same deadline must hold."""
    sock = _connect(scene, rcvbuf=4096)
    try:
        sock.sendall(b"GET /static/exam.js HTTP/1.1\r\nHost: x\r\n\r\n" * 200)
        time.sleep(0.5)
        assert _held(scene, sock)
        assert _dropped_within(scene, sock, WRITE_TIMEOUT_S + 5), "the connection that reads nothing is still held"
    finally:
        sock.close()


def _page_paths(scene: Scene) -> list[str]:
    async def paths() -> list[str]:
        out = set()
        for route in scene.server.runner.app.router.routes():  # type: ignore[union-attr]
            canonical = route.resource.canonical if route.resource is not None else ""
            if route.method == "GET" and not canonical.startswith(("/api/", "/static", "/metrics")):
                out.add(canonical)
        return sorted(out)

    return scene.server.run(paths)


def test_absurd_numbers_in_every_pages_query_and_path_are_never_a_500(scene: Scene):
    url = scene.server.url
    failures: list[str] = []
    paths = _page_paths(scene)
    assert len(paths) > 20, paths
    for who in (scene.admin, scene.student):
        for path in paths:
            for value in ABSURD_VALUES:
                concrete = path
                while "{" in concrete:
                    start, end = concrete.index("{"), concrete.index("}")
                    name = concrete[start + 1 : end].split(":")[0]
                    concrete = (
                        concrete[:start] + (scene.attempt_id if name == "attempt_id" else value) + concrete[end + 1 :]
                    )
                query = "&".join(f"{name}={value}" for name in (*QUERY_NAMES, "id", "q", "lang", "next", "done"))
                resp = requests.get(
                    f"{url}{concrete}?{query}",
                    cookies=who.cookies,
                    headers=who.headers,
                    timeout=30,
                    allow_redirects=False,
                )
                if resp.status_code >= 500:
                    failures.append(f"{resp.status_code} {concrete} ({value!r})")
    assert not failures, "\n".join(sorted(set(failures))[:40])
    autosave_is_prompt(scene)
