"""exam_engine package."""
