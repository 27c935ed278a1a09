"""CUR 2.0 import speed next to a bare asyncpg COPY of the same rows, and peak memory.

Budget: the import loads at least 60 % of the rows/s of a bare COPY of the rows it produced,
into the same table, in the same run; memory stays flat whatever the file size.

Generates a CUR 2.0 CSV (default 2,000,000 rows, ~35 columns with resource tags), imports it
with the real command (`cloudaudit import-costs`, a child process whose peak RSS is read back),
exports the rows it stored, and COPYs those rows again with bare asyncpg.

Run: .venv/bin/python benchmarks/ingest_import.py [--rows 2000000] [--keep FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
from cloudaudit.common.embedded import EmbeddedInfrastructure, free_port
from cloudaudit.common.migrations import upgrade
from cloudaudit.common.service import discover_services
from cloudaudit.ingest.adapters.cost_store import COPY_COLUMNS

CHUNK_ROWS = 250_000
SERVICES = [
    "AmazonEC2",
    "AmazonS3",
    "AmazonRDS",
    "AWSLambda",
    "AmazonDynamoDB",
    "AmazonCloudWatch",
    "AWSDataTransfer",
    "AmazonEKS",
    "AmazonElastiCache",
    "AmazonSQS",
]
REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1", ""]
ACCOUNTS = ["111122223333", "444455556666", "777788889999", "012345678901", "210987654321"]
LINE_TYPES = ["Usage"] * 17 + ["SavingsPlanCoveredUsage", "Credit", "Tax"]


def generate(path: Path, rows: int) -> None:
    """A month of hourly line items, written with Arrow (fast) as AWS writes CUR 2.0 CSV."""
    rng = np.random.default_rng(42)
    writer = None
    with path.open("wb") as sink:
        for start in range(0, rows, CHUNK_ROWS):
            n = min(CHUNK_ROWS, rows - start)
            index = np.arange(start, start + n)
            day = 1 + (index // 24) % 31
            hour = index % 24
            stamp = pa.array(
                [f"2026-10-{d:02d}T{h:02d}:00:00.000Z" for d, h in zip(day, hour, strict=True)]
            )
            service = np.array(SERVICES)[rng.integers(0, len(SERVICES), n)]
            region = np.array(REGIONS)[rng.integers(0, len(REGIONS), n)]
            usage_type = [f"USE1-Usage{u}" for u in rng.integers(0, 200, n)]
            cost = pc.cast(pa.array(np.round(rng.gamma(1.2, 0.05, n), 10)), pa.string())
            credit = rng.random(n) < 0.01
            kind = np.array(LINE_TYPES)[rng.integers(0, len(LINE_TYPES), n)]
            kind[credit] = "Credit"
            tags = np.where(
                index % 3 == 0,
                "",
                np.where(
                    index % 3 == 1,
                    '{"user_environment":"prod","user_team":"core"}',
                    '{"user_environment":"dev","user_owner":"alice"}',
                ),
            )
            table = pa.table(
                {
                    "identity_line_item_id": pa.array([f"li-{i}" for i in index]),
                    "identity_time_interval": stamp,
                    "bill_bill_type": pa.array(["Anniversary"] * n),
                    "bill_billing_period_start_date": pa.array(["2026-10-01T00:00:00.000Z"] * n),
                    "bill_payer_account_id": pa.array(["111122223333"] * n),
                    "line_item_usage_account_id": pa.array(
                        np.array(ACCOUNTS)[index % len(ACCOUNTS)]
                    ),
                    "line_item_line_item_type": pa.array(kind),
                    "line_item_usage_start_date": stamp,
                    "line_item_usage_end_date": stamp,
                    "line_item_product_code": pa.array(service),
                    "line_item_usage_type": pa.array(usage_type),
                    "line_item_operation": pa.array(["RunInstances"] * n),
                    "line_item_availability_zone": pa.array(region),
                    "line_item_resource_id": pa.array([f"i-{i % 20000:017x}" for i in index]),
                    "line_item_usage_amount": pa.array(["1.0"] * n),
                    "line_item_currency_code": pa.array(["USD"] * n),
                    "line_item_unblended_rate": cost,
                    "line_item_unblended_cost": pc.if_else(
                        pa.array(credit), pa.scalar("-1.5E-1"), cost
                    ),
                    "line_item_blended_cost": cost,
                    "line_item_net_unblended_cost": cost,
                    "line_item_line_item_description": pa.array(
                        ["$0.096 per On Demand Linux, m5.large"] * n
                    ),
                    "product_region_code": pa.array(region),
                    "product_instance_type": pa.array(["m5.large"] * n),
                    "product_servicecode": pa.array(service),
                    "pricing_unit": pa.array(["Hrs"] * n),
                    "pricing_public_on_demand_cost": cost,
                    "savings_plan_savings_plan_effective_cost": pc.if_else(
                        pa.array(kind == "SavingsPlanCoveredUsage"),
                        cost,
                        pa.scalar(None, pa.string()),
                    ),
                    "reservation_effective_cost": pa.nulls(n, pa.string()),
                    "resource_tags": pa.array(tags),
                }
            )
            options = pcsv.WriteOptions(include_header=writer is None)
            pcsv.write_csv(table, sink, options)
            writer = True


async def database() -> tuple[str, EmbeddedInfrastructure | None]:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"], None
    infra = EmbeddedInfrastructure(
        Path(tempfile.mkdtemp(prefix="ingest-bench-")), free_port(), free_port()
    )
    infra.postgres.start()
    return infra.postgres.url, infra


def plain_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def run_import(path: Path, url: str, team: str) -> tuple[dict, float]:
    env = dict(
        os.environ, DATABASE_URL=url, CLOUDAUDIT_LOG_LEVEL="WARNING", INGEST_SCHEDULER="false"
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    done = subprocess.run(  # noqa: S603 - our own interpreter and command
        [
            sys.executable,
            "-m",
            "cloudaudit.common",
            "import-costs",
            str(path),
            "--team",
            team,
            "--format",
            "json",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"import failed: {done.stderr[-2000:]}")
    peak_mib = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    return json.loads(done.stdout), peak_mib


async def bare_copy(url: str, import_id: str, scratch: Path) -> tuple[int, float]:
    """Export the rows the import stored, delete them, COPY them back with bare asyncpg."""
    connection = await asyncpg.connect(plain_dsn(url))
    try:
        columns = ", ".join(COPY_COLUMNS)
        await connection.copy_from_query(
            f"SELECT {columns} FROM ingest.cost_data WHERE import_id = $1",  # noqa: S608
            uuid.UUID(import_id),
            output=str(scratch),
            format="csv",
        )
        await connection.execute(
            "DELETE FROM ingest.cost_data WHERE import_id = $1", uuid.UUID(import_id)
        )
        await connection.execute("VACUUM ANALYZE ingest.cost_data")
        started = time.perf_counter()
        status = await connection.copy_to_table(
            "cost_data",
            schema_name="ingest",
            source=str(scratch),
            columns=list(COPY_COLUMNS),
            format="csv",
        )
        seconds = time.perf_counter() - started
        return int(status.split()[-1]), seconds
    finally:
        await connection.close()


async def main(rows: int, keep: Path | None) -> None:
    url, infra = await database()
    try:
        spec = discover_services()["ingest"]
        await upgrade(spec.migrations, url, spec.schema)
        with tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp:
            path = keep or Path(tmp) / "cur2-2026-10.csv"
            if not path.exists():
                started = time.perf_counter()
                await asyncio.to_thread(generate, path, rows)
                print(
                    f"generated {rows:,} CUR 2.0 rows, {path.stat().st_size / 2**20:,.0f} MiB "
                    f"in {time.perf_counter() - started:.1f} s"
                )
            file_mib = path.stat().st_size / 2**20
            report, peak_mib = await asyncio.to_thread(run_import, path, url, str(uuid.uuid4()))
            loaded, load_s, total_s = (
                report["rows_loaded"],
                report["load_seconds"],
                report["seconds"],
            )
            copied, bare_s = await bare_copy(url, report["import_id"], Path(tmp) / "rows.csv")
        import_rate, bare_rate = loaded / load_s, copied / bare_s
        print()
        print("| measure | rows | seconds | rows/s |")
        print("| --- | ---: | ---: | ---: |")
        print(
            f"| bare asyncpg COPY of the stored rows | {copied:,} | {bare_s:.2f} | {bare_rate:,.0f} |"
        )
        print(
            f"| import: stream, check, map, COPY | {loaded:,} | {load_s:.2f} | {import_rate:,.0f} |"
        )
        print(
            f"| import incl. summaries and events | {loaded:,} | {total_s:.2f} | {loaded / total_s:,.0f} |"
        )
        print()
        ratio = import_rate / bare_rate
        print(
            f"import / bare COPY: {ratio:.0%} (budget >= 60 %: {'met' if ratio >= 0.6 else 'MISSED'})"
        )
        print(
            f"peak memory (RSS) of the import process: {peak_mib:,.0f} MiB for a "
            f"{file_mib:,.0f} MiB file"
        )
    finally:
        if infra is not None:
            infra.postgres.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument(
        "--keep", type=Path, default=None, help="Reuse/keep the generated file here"
    )
    arguments = parser.parse_args()
    asyncio.run(main(arguments.rows, arguments.keep))
