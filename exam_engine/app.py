"""The whole web application: the JSON API of :mod:`exam_engine.web` plus the pages of :mod:`admin_ui`.

The one module that wires the two front ends together, so it sits on top of both: ``admin_ui`` uses
the exam server through its facade :mod:`exam_engine.api`, and nothing under ``exam_engine`` but
this module, :mod:`exam_engine.server` (which serves it) and the command line above them imports
``admin_ui`` (an import contract in ``pyproject.toml`` checks it). Resources (engine, stores,
caches) are built by :func:`exam_engine.bootstrap.build_services`.
"""

from __future__ import annotations

from aiohttp import web

from admin_ui.pages import setup_pages

from .bootstrap import Services
from .web.app import create_app


def build_app(services: Services, *, run_sweeper: bool = True) -> web.Application:
    """The JSON API, health checks, background tasks and the pages, on ``services``."""
    return create_app(services, run_sweeper=run_sweeper, extensions=[setup_pages])
