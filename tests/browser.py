"""Chromium for the browser tests: Debian's package, driven by Playwright, and the check that
Chinese text renders (a CJK font is installed) rather than showing as boxes.

``tests/`` is on ``sys.path``, so tests import this module as ``browser``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# As in the machine notes: without the background-networking flags Chromium keeps dialling
# Google's hosts, which this machine's closed network refuses.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def chromium_browser() -> Iterator[Any]:
    """A headless Chromium; fails (never skips) when Debian's package is missing."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: the browser test needs Debian's "
            "package. Install it as root with `apt-get update && apt-get install -y chromium` "
            "(.ci/run does this); `playwright install` cannot download browsers here."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Playwright gives each launch a new, empty user-data-dir of its own.
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


# Draws a Chinese character and a code point no font has in the page's own font on a canvas:
# with no CJK font both come out as the same missing-glyph box.
_GLYPHS = """() => {
  const font = getComputedStyle(document.querySelector("h1")).font;
  const draw = (text) => {
    const canvas = document.createElement("canvas");
    canvas.width = 64; canvas.height = 64;
    const context = canvas.getContext("2d");
    context.font = font.replace(/\\d+(\\.\\d+)?px/, "40px");
    context.fillText(text, 4, 48);
    return Array.from(context.getImageData(0, 0, 64, 64).data);
  };
  const chinese = draw("生"), missing = draw("\\u{10FFFD}");
  return {inked: chinese.some((v) => v > 0), same: chinese.every((v, i) => v === missing[i])};
}"""


def assert_chinese_renders(page: Any) -> None:
    """Fail when the page's Chinese text shows as boxes (no CJK font on the machine)."""
    drawn = page.evaluate(_GLYPHS)
    assert drawn["inked"] and not drawn["same"], (
        "Chinese text does not render: install a CJK font (apt-get install fonts-noto-cjk; "
        "`make test` does)"
    )
