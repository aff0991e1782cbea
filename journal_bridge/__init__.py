"""journal_bridge package."""
