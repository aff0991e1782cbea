"""The scripts' version in the pages' links follows their contents: an upgrade is never served with yesterday's script."""

from __future__ import annotations

from pathlib import Path

from admin_ui.pages import HERE, STATIC_VERSION, static_version


def test_the_version_changes_with_any_static_file_and_only_then(tmp_path: Path) -> None:
    (tmp_path / "exam.js").write_text("let a = 1;")
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "logo.svg").write_text("<svg/>")
    first = static_version(tmp_path)
    assert static_version(tmp_path) == first
    (tmp_path / "exam.js").write_text("let a = 2;")
    changed = static_version(tmp_path)
    assert changed != first
    (tmp_path / "img" / "logo.svg").rename(tmp_path / "img" / "logo2.svg")
    assert static_version(tmp_path) not in (first, changed)


def test_the_served_version_is_the_digest_of_the_shipped_files() -> None:
    assert STATIC_VERSION == static_version(HERE / "static") and len(STATIC_VERSION) == 12
