"""Importers, one module per format, and format recognition (see :mod:`.detect`)."""
