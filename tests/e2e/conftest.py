"""Real headless Chromium (Debian's package) driven by Playwright, against servers on 127.0.0.1."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
import pytest_asyncio

from exam_engine.clock import SystemClock

CHROMIUM = os.environ.get("EXAM_TEST_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]


def write_y4m(path: Path, frames: list[np.ndarray], fps: int = 5) -> Path:
    """A YUV4MPEG2 (4:2:0) file from RGB frames, for Chromium's fake webcam."""
    h, w, _ = frames[0].shape
    with path.open("wb") as fh:
        fh.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for rgb in frames:
            r, g, b = (rgb[..., i].astype(np.float32) for i in range(3))
            y = 0.299 * r + 0.587 * g + 0.114 * b
            u = (b - y) * 0.564 + 128
            v = (r - y) * 0.713 + 128
            sub = lambda c: c.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))  # noqa: E731
            fh.write(b"FRAME\n")
            for plane in (y, sub(u), sub(v)):
                fh.write(np.clip(plane, 0, 255).astype(np.uint8).tobytes())
    return path


def face_frames(count: int = 10) -> list[np.ndarray]:
    """A lit scene (the astronaut portrait from scikit-image, public domain) at 640×480."""
    from skimage import data
    from skimage.transform import resize

    face = (resize(data.astronaut(), (480, 640), anti_aliasing=True) * 255).astype(np.uint8)
    return [np.roll(face, shift=i, axis=1) for i in range(count)]


@pytest.fixture
def clock() -> SystemClock:
    """The browser lives in real time, so the server does too."""
    return SystemClock()  # type: ignore[return-value]


@pytest.fixture(scope="session")
def webcam_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_y4m(tmp_path_factory.mktemp("cam") / "face.y4m", face_frames())


@pytest_asyncio.fixture
async def browser(webcam_file: Path) -> AsyncIterator[object]:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail(f"Chromium is required at {CHROMIUM}: apt-get install -y chromium", pytrace=False)
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        b = await pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[*CHROMIUM_FLAGS, f"--use-file-for-fake-video-capture={webcam_file}"],
        )
        try:
            yield b
        finally:
            await b.close()


async def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@contextlib.asynccontextmanager
async def served_page(services, browser, **context: object) -> AsyncIterator[tuple[str, object]]:  # type: ignore[no-untyped-def]
    """The app served with its sweeper and one Chromium page in a new context (``context``: locale,
    viewport, timezone_id…): ``(base URL, page)``, both closed after."""
    from tests.factories import open_client

    client = await open_client(services, run_sweeper=True)
    page_context = await browser.new_context(**context)
    try:
        yield str(client.make_url("")).rstrip("/"), await page_context.new_page()
    finally:
        await page_context.close()
        await client.close()


async def sign_in(page, base: str, login: str, landing: str = "/") -> None:  # type: ignore[no-untyped-def]
    """Sign ``login`` in on the sign-in page and wait for the page it lands on (``landing``)."""
    from tests.factories import PASSWORD

    await page.goto(f"{base}/login")
    await page.fill("#login", login)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit].primary")
    await page.wait_for_url(f"{base}{landing}")


async def open_exam(page, base: str, exam_id: int, login: str = "student1"):  # type: ignore[no-untyped-def]
    """Sign ``login`` in on ``page``, read the exam's rules, continue, and wait for the questions."""
    await sign_in(page, base, login, "/student")
    await page.goto(f"{base}/exam/{exam_id}/rules")
    await page.click("#rules-continue")
    await page.wait_for_url(f"{base}/exam/{exam_id}")
    await page.wait_for_selector("#exam:not([hidden])")
