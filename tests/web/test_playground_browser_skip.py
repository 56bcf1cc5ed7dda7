"""Without a browser the browser tests skip with the reason outside CI, and fail under CI."""

from __future__ import annotations

import pytest

from tests.support import browser


def test_skips_outside_ci_naming_what_is_missing(monkeypatch):
    monkeypatch.setattr(browser.shutil, "which", lambda name: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="chromium, chromedriver not installed"):
        browser.browser_paths()


def test_fails_under_ci(monkeypatch):
    monkeypatch.setattr(browser.shutil, "which", lambda name: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run the browser tests"):
        browser.browser_paths()
