"""The proctoring resources of one server process: keyring, store, analysis queue.

Built on first use (the first proctored request), so servers and tests that never
see a proctored exam start no pool and read no key file.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from proctor.config import ProctorConfig
from proctor.keys import load_or_create
from proctor.queue import ANALYSED_KINDS, Analyser, AnalysisQueue, Job, LocalQueue, StreamQueue, pending_jobs
from proctor.settings import ProctorSettings
from proctor.store import EvidenceStore, ItemKind

log = logging.getLogger(__name__)


@dataclass
class ProctorRuntime:
    config: ProctorConfig
    store: EvidenceStore
    analyser: Analyser
    queue: AnalysisQueue
    settings: ProctorSettings
    key_generated: bool
    _resumed: bool = field(default=False, repr=False)

    @classmethod
    def build(cls, config: ProctorConfig, engine: AsyncEngine, *, now: datetime) -> ProctorRuntime:
        keyring, generated = load_or_create(config.key_file, configured=config.key_file_configured, now=now)
        settings = ProctorSettings()
        store = EvidenceStore(config.evidence_dir, keyring)
        analyser = Analyser(engine, store, identity_every_n=settings.identity_every_n_frames, settings=settings)
        queue: AnalysisQueue
        if config.redis_url:
            queue = StreamQueue(config.redis_url, config.stream)
        else:
            queue = LocalQueue(analyser, config.pool_workers)
        return cls(config, store, analyser, queue, settings, generated)

    async def submit(self, attempt_id: object, seq: int, kind: ItemKind | str) -> None:
        """Queue an item for analysis (after its commit). The first call in an embedded
        server also re-queues what a previous run stored but never analysed."""
        if ItemKind(kind) not in ANALYSED_KINDS:
            return
        if not self._resumed and isinstance(self.queue, LocalQueue):
            self._resumed = True
            for job in await pending_jobs(self.analyser.engine):
                if job != Job(attempt_id, seq):  # type: ignore[arg-type]
                    await self.queue.submit(job)
        await self.queue.submit(Job(attempt_id, seq))  # type: ignore[arg-type]

    async def close(self) -> None:
        await self.queue.close()
