"""Running the server: configuration, schema check, the aiohttp runner."""

from __future__ import annotations

import logging

from aiohttp import web
from alembic.script import ScriptDirectory

from .bootstrap import Services, build_services
from .config import Settings, load_settings
from .errors import ConfigError
from .migrate import alembic_config, current_revision

log = logging.getLogger(__name__)


async def check_schema(services: Services) -> None:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    current = await current_revision(services.engine)
    if current != head:
        raise ConfigError(
            f"the database schema is at {current or 'nothing'}, the code needs {head}: run `exam-engine migrate`"
        )


async def make_app(settings: Settings) -> web.Application:
    from .bootstrap import build_app

    services = build_services(settings)
    try:
        await check_schema(services)
    except Exception:
        await services.close()
        raise
    return build_app(services)


def serve(*, host: str | None = None, port: int | None = None, settings: Settings | None = None) -> int:
    settings = settings or load_settings()
    if settings.secret_generated:
        log.warning("no EXAM_SECRET_KEY given: generated one into %s (keep it safe)", settings.data_dir)
    host = host or settings.host
    port = port or settings.port
    log.info("exam-engine serving on http://%s:%d (database %s)", host, port,
             settings.database_url.split("@")[-1])
    web.run_app(make_app(settings), host=host, port=port, print=None, access_log=None,
                shutdown_timeout=5)
    return 0


