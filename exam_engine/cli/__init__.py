"""``exam-engine``: the operator's command line, one module per command group.

:mod:`.dispatch` builds the parser and runs a command (``main`` is the console script);
:mod:`.common` holds what the commands share; each other module registers one group
(``bank``, ``journal``, ``assign``, ``evidence``, ``proctor``, ``trust``, ``backup``…).
"""

from __future__ import annotations

from .dispatch import build_parser, main

__all__ = ["build_parser", "main"]
