"""The staff start page's links come in one order, whatever order the page modules were imported in."""

from __future__ import annotations

import importlib
import pkgutil

import admin_ui
from admin_ui import pages


def test_every_start_page_link_has_its_place_and_the_links_keep_it():
    for module in pkgutil.iter_modules(admin_ui.__path__):
        importlib.import_module(f"admin_ui.{module.name}")
    paths = [link.path for link in pages.NAV]
    assert set(paths) <= set(pages.NAV_ORDER), "a new start-page link needs its place in pages.NAV_ORDER"
    assert paths == sorted(paths, key=pages.NAV_ORDER.index)


def test_a_link_registered_late_still_takes_its_place():
    saved = list(pages.NAV)
    try:
        pages.NAV[:] = [link for link in saved if link.path != "/admin/access"]
        late = next(link for link in saved if link.path == "/admin/access")
        pages.nav_link(late.permission, late.path, late.msgid)  # as when its module is imported last
        paths = [link.path for link in pages.NAV]
        assert paths.index("/admin/access") < paths.index("/admin/audit")
    finally:
        pages.NAV[:] = saved
