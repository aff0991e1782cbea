"""Package data for ``exam-engine demo``: the demo bank as real Platonus markup files."""
