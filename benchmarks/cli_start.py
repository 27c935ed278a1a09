"""How fast `cloudaudit` starts answering: median of 10 runs per command, beside bare Typer.

Budget (ARCHITECTURE.md): `cloudaudit --help` and `cloudaudit status` within 0.5 s on an idle
machine. `status` runs with nothing started (a fresh state directory, no NATS_URL), which is
the case a new user meets first; it must say so and exit non-zero, fast.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = 10
BUDGET_S = 0.5
CLI = [sys.executable, "-m", "cloudaudit.common"]
COMMANDS: list[tuple[str, list[str], bool]] = [  # label, argv, held to the budget
    ('python -c "import typer"', [sys.executable, "-c", "import typer"], False),
    ("cloudaudit --help", [*CLI, "--help"], True),
    ("cloudaudit status (nothing running)", [*CLI, "status"], True),
    ("cloudaudit spend --help", [*CLI, "spend", "--help"], True),
]


def _median_seconds(argv: list[str], env: dict[str, str]) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run(argv, env=env, capture_output=True, check=False, timeout=60)  # noqa: S603
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="cloudaudit-cli-start-") as state:
        env = {k: v for k, v in os.environ.items() if k not in ("NATS_URL", "DATABASE_URL")}
        env["CLOUDAUDIT_STATE_DIR"] = str(Path(state))
        rows = [(label, _median_seconds(argv, env), held) for label, argv, held in COMMANDS]
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"CLI start, median of {RUNS} runs (budget {BUDGET_S} s; load average {load})")
    print(f"{'command':<38} {'median s':>9}  verdict")
    worst_over = False
    for label, seconds, held in rows:
        verdict = ("ok" if seconds <= BUDGET_S else "OVER") if held else "reference"
        worst_over |= held and seconds > BUDGET_S
        print(f"{label:<38} {seconds:>9.3f}  {verdict}")
    return 1 if worst_over else 0


if __name__ == "__main__":
    sys.exit(main())
