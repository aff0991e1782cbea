"""The autosave's hot path, made cheaper (issue 24), answers exactly what it answered before.

* the request body is parsed by orjson, but the value and every refusal are ``json.loads``'s;
* the receipt is written by orjson, byte for byte what ``json_response`` writes, same headers;
* the group commit's bounded wait is kept by one timer for all saves: each save still waits at
  most its own ``timeout_s`` from its own arrival, and a save that gave up is not written.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

import pytest

from exam_engine.errors import InvalidInput, ServerBusy
from exam_engine.services.fast_save import FastSaves
from exam_engine.web import http

BODIES = [
    b'{"choice": 3, "seq": 12}',
    b'{"choice": null, "seq": 1}',
    b'{"a": 1, "a": 2}',  # the last one wins, in both
    b'{"seq": 18446744073709551615}',  # the largest integer orjson holds as one
    b'{"seq": 18446744073709551616}',  # orjson: a float; json: an integer (then "out of range")
    b'{"seq": -9223372036854775809}',
    b'{"seq": 12.0}',  # a float stays a float ("must be an integer")
    b'{"x": NaN, "y": Infinity}',  # json's extensions: orjson refuses them, json reads them
    b'{"x": 1e400}',
    b'"\\ud800"',  # a lone surrogate: json reads it
    b'{"t": "\\u0000"}',
    b"\xef\xbb\xbf{}",  # a UTF-8 BOM
    '{"t": "\u049b\u0430\u0437\u0430\u049b"}'.encode("utf-16"),  # another encoding: json detects it
    b'{"nested": [1, {"f": 2.5}], "s": "\xd2\x9b"}',
    b"[1, 2",
    b"\xff\xfe\xfd",
    b"",
    b"{} x",
]


def _outcome(parse, raw):  # type: ignore[no-untyped-def]
    try:
        value = parse(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return ("refused", type(exc).__name__ if isinstance(exc, UnicodeDecodeError) else "ValueError")
    return ("value", repr(value), json.dumps(value, sort_keys=True, default=repr))


@pytest.mark.parametrize("raw", BODIES, ids=range(len(BODIES)))
def test_the_body_parser_answers_what_json_loads_answers(raw: bytes) -> None:
    assert _outcome(http.loads, raw) == _outcome(json.loads, raw)


def test_a_huge_sequence_number_is_still_out_of_range_not_a_wrong_type() -> None:
    body = http.loads(b'{"seq": 18446744073709551616}')
    with pytest.raises(InvalidInput) as refused:
        http.field(body, "seq", int)
    assert refused.value.code == "invalid_field" and refused.value.msgid == "Field «{field}» is out of range."


RECEIPTS = [
    {
        "attempt_id": str(uuid.uuid4()),
        "position": 7,
        "choice": None,
        "seq": 2**53,
        "saved_at": datetime(2026, 12, 7, 5, 1, 2, 345678, tzinfo=UTC).isoformat(),
        "applied": True,
        "digest": "ab" * 32,
        "server_now": datetime(2026, 12, 7, 5, 1, 2, tzinfo=UTC).isoformat(),
    },
    {"text": 'Сәлем, «әлем» \u2028 " \\ \n \t \x01', "flag": False, "big": 2**64 - 1, "neg": -(2**63)},
    {"beyond": 2**64, "also": 1},  # beyond orjson: the usual way
    {"float": 0.1, "date": datetime(2026, 1, 1, tzinfo=UTC)},  # not plain: the usual way
]


@pytest.mark.parametrize("data", RECEIPTS, ids=range(len(RECEIPTS)))
def test_the_receipt_is_written_byte_for_byte_as_json_response_writes_it(data: dict) -> None:
    fast, usual = http.flat_json_response(data), http.json_response(data)
    assert fast.body == usual.body
    assert fast.status == usual.status == 200
    assert fast.headers["Content-Type"] == usual.headers["Content-Type"] == "application/json; charset=utf-8"
    assert fast.charset == usual.charset


async def test_each_save_waits_at_most_its_own_bound_and_one_that_gave_up_is_not_written() -> None:
    """No committer ever answers here: each save is refused server_busy ``timeout_s`` after it
    came (not after the first one came), and the next group skips both."""
    fast = FastSaves("postgresql://nobody@127.0.0.1:1/none", size=1, timeout_s=0.5)

    async def opened() -> None:
        return None

    fast.open = opened  # type: ignore[method-assign]
    fast._lead = lambda: None  # type: ignore[method-assign]  # the commit that does not come
    now = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)
    args = dict(student_id=1, attempt_id=uuid.uuid4(), choice=1, now=now, grace_s=1.0, session="s")
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    first = asyncio.create_task(fast.save(**args, position=1, seq=1))  # type: ignore[arg-type]
    await asyncio.sleep(0.3)
    second = asyncio.create_task(fast.save(**args, position=2, seq=2))  # type: ignore[arg-type]
    with pytest.raises(ServerBusy) as refused:
        await first
    first_at = loop.time() - t0
    assert refused.value.code == "server_busy" and refused.value.retry_after == 5
    assert 0.48 <= first_at < 0.75, first_at
    assert not second.done()  # its own bound has not run out yet
    with pytest.raises(ServerBusy):
        await second
    assert 0.78 <= loop.time() - t0 < 1.2  # its own arrival + 0.5 s
    assert fast._next_group() == []  # both gave up: neither is written by a later group
    assert not fast._waiting and fast._reaper is None  # nothing left behind, no timer armed
    await fast.close()


async def test_a_save_answered_in_time_is_not_refused_by_the_bound() -> None:
    fast = FastSaves("postgresql://nobody@127.0.0.1:1/none", size=1, timeout_s=0.2)

    async def opened() -> None:
        return None

    fast.open = opened  # type: ignore[method-assign]
    fast._lead = lambda: None  # type: ignore[method-assign]
    now = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)
    save = asyncio.create_task(
        fast.save(student_id=1, attempt_id=uuid.uuid4(), position=1, choice=1, seq=1, now=now, grace_s=1.0, session="s")
    )
    await asyncio.sleep(0.05)
    (item,) = fast._next_group()
    item.done.set_result(now)  # its group committed
    assert await save == now
    await asyncio.sleep(0.3)  # the timer fires, finds it answered, and is not armed again
    assert fast._reaper is None and not fast._waiting
    await fast.close()


def test_once_started_the_heap_is_settled_garbage_collected_and_the_living_frozen() -> None:
    """``serve`` settles the heap once the port is bound: the full collections under load then walk
    only what was made since, not every module and cache of the process (the ~80 ms pauses)."""
    import gc
    import weakref

    from exam_engine.server import settle_heap

    class Node:
        pass

    garbage = Node()
    garbage.me = garbage  # type: ignore[attr-defined]  # a cycle: only the cyclic collector frees it
    gone = weakref.ref(garbage)
    alive = Node()
    del garbage
    thresholds = gc.get_threshold()
    try:
        frozen = settle_heap()
        assert gone() is None  # the start-up's garbage was collected, not frozen
        assert frozen == gc.get_freeze_count() > 10_000  # the living ones are out of the collector's walk
        assert not any(o is alive for o in gc.get_objects())  # frozen: no generation holds it any more
        gc.unfreeze()
        assert any(o is alive for o in gc.get_objects())
        assert gc.get_threshold() == (10_000, *thresholds[1:])  # the young generation: less often
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
