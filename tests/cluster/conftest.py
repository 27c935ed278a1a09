"""The multi-host run needs root and network namespaces; without them it skips with the reason,
except in CI (`CI=true`), where a skipped cluster test is a failure: the proof must run there."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if (
        report.skipped
        and item.get_closest_marker("cluster") is not None
        and os.environ.get("CI", "").lower() == "true"
    ):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"cluster test skipped under CI=true, which must run it: {reason}"
