"""question_bank package."""
