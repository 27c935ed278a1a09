"""Load through the running product: daily cost events for 100 accounts through analytics, with
the alerts flowing to the bot and the local Slack (`benchmarks/pipeline_load.py`, the same code).

Prints throughput and cost event -> Slack alert p50/p95 (budget p95 < 1 s); asserts only what
must hold at any speed: every day learnt, every real jump alerted exactly once, nothing else
alerted. CI runs 60 days of history to keep the suite short; `CLOUDAUDIT_LOAD_DAYS=365` runs the
full year (about 6 minutes on 2 cores), as does `benchmarks/pipeline_load.py --days 365`.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
pipeline_load = importlib.import_module("benchmarks.pipeline_load")

ACCOUNTS = 100
DAYS = int(os.environ.get("CLOUDAUDIT_LOAD_DAYS", "60"))
SPIKES = 30


async def test_a_hundred_accounts_of_daily_costs_alert_once_per_real_jump(
    product, capsys: pytest.CaptureFixture[str]
):
    args = argparse.Namespace(
        accounts=ACCOUNTS, days=DAYS, spikes=SPIKES, live_rate=20.0, timeout=900.0
    )
    with capsys.disabled():
        print()
        result = await asyncio.wait_for(
            pipeline_load.run(product.stack, args, slack_team="TLOADTEST"), timeout=1200
        )

    assert result.learnt == result.history_events == ACCOUNTS * DAYS
    assert len(result.latencies) == SPIKES  # every real jump reached the channel
    assert result.alerted_accounts == SPIKES and result.false_alerts == 0
    assert result.copies == {1: SPIKES}  # each alert posted exactly once
