"""Write the labelled proctoring set for ``exam-engine proctor eval DIR``.

Run: ``.venv/bin/python bench/make_proctor_set.py OUT [--seed 1] [--scale 4]`` (the generator is
``tests/unit/proctor/evalset.py``; the images are made from scikit-image's data, never committed).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.unit.proctor.evalset import generate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scale", type=int, default=4, help="multiplies the size of every set")
    args = parser.parse_args()
    labels = generate(args.out, seed=args.seed, scale=args.scale)
    print(f"{len(labels['frames'])} frames in {args.out}")


if __name__ == "__main__":
    main()
