"""Hard auto-submit: finalise every attempt whose deadline has passed.

Runs in every server process (``SKIP LOCKED`` keeps them from grading the same
attempt twice), once at start-up before the server accepts requests, then every
``sweep_interval_s``. Each round opens its own transaction; a failed round is
logged and retried, it never stops the loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta

from .bootstrap import Services
from .observability import FINALISED, SWEEPER_LAG
from .services.attempts import sweep_expired

log = logging.getLogger(__name__)

# Per Services (by id, while subscribed): what to call after a committed batch finalised attempts.
_listeners: dict[int, list[Callable[[], None]]] = {}
# Per Services (by id): set unless this process's sweeper is running a round (see idle()).
_idle: dict[int, asyncio.Event] = {}


def idle(services: Services) -> asyncio.Event:
    """Set while this process's sweeper is not running a round (one query when nothing is overdue).

    The outbox relay waits for it before each of its batches: grades first, their delivery
    after. Both share this process's event loop, and a mass deadline is CPU work on both sides;
    taking turns batch by batch made the last grade wait for the relay's share of the work,
    while the last delivery comes no sooner either way.
    """
    event = _idle.get(id(services))
    if event is None:
        event = _idle[id(services)] = asyncio.Event()
        event.set()
    return event


def on_finalised(services: Services, listener: Callable[[], None]) -> Callable[[], None]:
    """Call ``listener`` after every sweeper transaction that finalised attempts in this process.

    The outbox relay subscribes so that a mass deadline's results start for the journal
    as soon as their grades are committed, not at its next interval. Returns the
    function that unsubscribes (call it when the listener's task ends).
    """
    listeners = _listeners.setdefault(id(services), [])
    listeners.append(listener)

    def unsubscribe() -> None:
        listeners.remove(listener)
        if not listeners:
            _listeners.pop(id(services), None)
            _idle.pop(id(services), None)  # an event may be bound to this loop: none is kept past it

    return unsubscribe


async def sweep_once(services: Services, *, batch: int = 500) -> int:
    """Finalise everything overdue now; returns how many attempts were finalised."""
    total = 0
    grace = timedelta(seconds=services.settings.network_grace_s)
    quiet = idle(services)
    quiet.clear()
    try:
        while True:
            async with services.engine.begin() as conn:
                deadlines = await sweep_expired(
                    conn, now=services.clock.now(), grace_s=grace.total_seconds(), limit=batch
                )
            done = len(deadlines)
            total += done
            if done:
                committed = services.clock.now()
                FINALISED.labels(status="timed_out").inc(done)
                for deadline in deadlines:
                    # From the moment no more answers were accepted to the committed grade.
                    SWEEPER_LAG.observe(max(0.0, (committed - (deadline + grace)).total_seconds()))
                for listener in _listeners.get(id(services), ()):
                    listener()
            if done < batch:
                return total
    finally:
        quiet.set()


async def run_forever(services: Services) -> None:
    interval = services.settings.sweep_interval_s
    while True:
        try:
            done = await sweep_once(services)
            if done:
                log.info("sweeper finalised %d overdue attempts", done)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - keep sweeping after a transient failure
            log.exception("sweeper round failed; retrying")
        await asyncio.sleep(interval)
