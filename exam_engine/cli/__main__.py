"""``python -m exam_engine.cli …``: the same as the ``exam-engine`` console script."""

import sys

from .dispatch import main

sys.exit(main())
