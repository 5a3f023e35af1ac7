"""Headless Chromium for the browser tests: Debian's ``chromium``, driven by Playwright
(no browser is downloaded). Without Chromium or Playwright a browser test skips,
unless MLCLI_BROWSER_TESTS_REQUIRED=1 (as in CI), where it fails instead."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

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


def find_chromium() -> str | None:
    for candidate in (os.environ.get("MLCLI_TEST_CHROMIUM"), "chromium", "chromium-browser"):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


def browser_unavailable(reason: str) -> None:
    if os.environ.get("MLCLI_BROWSER_TESTS_REQUIRED") == "1":
        pytest.fail(f"browser tests are required here, but {reason}")
    pytest.skip(reason)


@contextmanager
def chromium_context() -> Iterator[Any]:
    """A Playwright browser context with a fresh profile, closed afterwards."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        browser_unavailable("playwright is not installed (pip install -e '.[dev]')")
    executable = find_chromium()
    if executable is None:
        browser_unavailable("no chromium (apt-get install -y chromium chromium-driver)")
    profile = tempfile.mkdtemp(prefix="mlcli-chromium-")
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile,
                executable_path=executable,
                args=CHROMIUM_FLAGS,
                headless=True,
                viewport={"width": 1400, "height": 1000},
                accept_downloads=True,
            )
            yield context
            context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
