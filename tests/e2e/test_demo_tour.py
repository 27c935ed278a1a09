"""`cloudaudit demo --no-input`: the whole product, end to end, as a new user first sees it.

Real processes (identity, ingest, analytics), the bot behind the Slack console, the AWS
stand-in with the simulated company, the local LLM; the tour checks each step itself and
exits 0 only if all of them produced what they should: connect, import, spend, the anomaly
alert, "expected" feedback, a viewer refused on Approve, an admin approving, and the audit
log showing each of those with who and when. Started again on the same state, it
reuses it (accounts reconnect, the import replaces its billing periods, nothing doubles).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cloudaudit.common.embedded import free_port
from cloudaudit.common.testing import ACTOR_KEY_ENV, keep_log_for_scan

TOUR_TIMEOUT_S = 600
STEPS = 18


def _demo(state: Path, nats_port: int, pg_port: int) -> subprocess.CompletedProcess[str]:
    # the product on its own: embedded servers, and actor keys made by identity on first start
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "NATS_URL", *ACTOR_KEY_ENV)
    }
    env.update(
        {
            "CLOUDAUDIT_STATE_DIR": str(state),
            "CLOUDAUDIT_EMBEDDED_NATS_PORT": str(nats_port),
            "CLOUDAUDIT_EMBEDDED_POSTGRES_PORT": str(pg_port),
            "CLOUDAUDIT_LOG_FORMAT": "json",
        }
    )
    result = subprocess.run(
        [sys.executable, "-m", "cloudaudit.common", "demo", "--no-input"],
        env=env,
        capture_output=True,
        text=True,
        timeout=TOUR_TIMEOUT_S,
        check=False,
    )
    # Its log lines (stderr) join the session's secret scan; stdout is what the user reads
    # (it shows the ExternalId to put in the role's trust policy, on purpose).
    keep_log_for_scan("demo-stderr", result.stderr)
    return result


@pytest.mark.timeout(2 * TOUR_TIMEOUT_S + 60)  # two whole tours, on a busy 2-core machine
def test_demo_tour_passes_every_step_and_a_second_run_reuses_the_state(tmp_path):
    ports = (free_port(), free_port())
    first = _demo(tmp_path, *ports)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-4000:]
    assert f"{STEPS}/{STEPS} steps produced what they should" in first.stdout
    for step in (
        "a mistyped role ARN is refused",
        "connect acme-prod",
        "import 90 days of CUR 2.0 history",
        "anomaly alert in the channel",
        'press "Expected spend" on the alert',
        "the installer owns the team",
        "the owner invites an admin and a viewer",
        "savings recommendations",
        "a viewer presses Approve",
        "approve a recommendation",
        "the audit log shows every step",
        "a viewer asks for the audit log",
    ):
        assert f"✔ {step}" in first.stdout
    # What the people in the tour saw, beyond the tour's own checks.
    assert "(AWS said AccessDenied)" in first.stdout  # the stand-in refuses a missing role
    assert "Realised savings: $0.00" not in first.stdout
    # The commitment the README promises: the web servers ran the whole history.
    assert "Buy a 1-year Compute Savings Plan" in first.stdout
    assert "realised savings are measured on the bill from" in first.stdout
    assert "the anomaly is now expected" in first.stdout
    assert "only owners and admins can approve recommendations; you are a viewer" in first.stdout
    assert "only owners and admins can read the audit log; you are a viewer" in first.stdout
    assert "joined as admin" in first.stdout and "joined as viewer" in first.stdout
    assert "COST ANOMALY: AMAZON ELASTIC COMPUTE CLOUD" in first.stdout
    assert "COST ANOMALY: AWS SUPPORT" not in first.stdout
    assert (tmp_path / "postgres" / "data" / "PG_VERSION").exists()

    second = _demo(tmp_path, *ports)
    assert second.returncode == 0, second.stdout[-4000:] + second.stderr[-4000:]
    # Nothing new to press on a second run: the viewer's attempt is not repeated, and the
    # approval of the first run must still stand.
    assert f"{STEPS - 1}/{STEPS - 1} steps produced what they should" in second.stdout
    assert "approved on the previous run and still approved" in second.stdout
    assert "marked expected on the previous run" in second.stdout
    # The simulated company is the same company: same resource ids, so the same
    # recommendations (a new set of look-alikes used to double them, and reopen dismissed ones).
    recs = r"savings recommendations: .* this refresh: (\d+) new, (\d+) re-checked"
    first_recs, second_recs = re.search(recs, first.stdout), re.search(recs, second.stdout)
    assert first_recs and second_recs, second.stdout[-4000:]
    assert int(second_recs[1]) == 0
    assert int(second_recs[2]) == int(first_recs[1]) + int(first_recs[2])
    assert "(the same as the last run)" in second.stdout
    assert " 0 new," not in first.stdout or "(found when the cost sync finished)" in first.stdout
    # The AWS stand-in checks IAM: the company's roles connect with the shipped policy.
    assert "✔ connect acme-prod" in second.stdout and "✔ connect acme-dev" in second.stdout
