"""Cost report files: find them (local paths, directories, s3://bucket/prefix, export manifests)
and stream them batch by batch (CSV, CSV.gz, Parquet) in constant memory, with line numbers.
"""

from __future__ import annotations

import bisect
import csv
import gzip
import io
import json
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
from cloudaudit.ingest.domain.cur.formats import Layout, detect_format
from cloudaudit.ingest.domain.cur.mapping import RowProblem
from cloudaudit.ingest.domain.errors import CostSourceUnreadable, NotACostReport

DATA_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".snappy.parquet", ".gz.parquet")
MANIFEST_SUFFIX = "Manifest.json"
HEADER_PEEK_BYTES = 4 * 1024 * 1024
PARQUET_BATCH_ROWS = 65_536
NULL_VALUES = ["", "NULL", "null"]


@dataclass(frozen=True)
class CostFile:
    """One data file: where it is and how to open its (raw, possibly gzip) bytes."""

    name: str
    size: int
    opener: Callable[[], BinaryIO]

    @property
    def is_parquet(self) -> bool:
        return self.name.lower().endswith(".parquet")

    @property
    def is_gzip(self) -> bool:
        return self.name.lower().endswith(".gz")


@dataclass
class Batch:
    batch: pa.RecordBatch
    line_of: Callable[[int], int | None]
    unit: str  # "line" for CSV, "row" for Parquet
    problems: list[RowProblem] = field(default_factory=list)  # rows the parser itself rejected


class _Counting(io.RawIOBase):
    """Counts bytes read from the source (compressed bytes: what the size and ETA refer to)."""

    def __init__(self, raw: Any, on_read: Callable[[int], None]) -> None:
        self._raw = raw
        self._on_read = on_read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        if not data:
            return 0
        size = len(data)
        buffer[:size] = data
        self._on_read(size)
        return size

    def close(self) -> None:
        try:
            self._raw.close()
        finally:
            super().close()


class _ReadGate(io.RawIOBase):
    """Back-pressure for the CSV reader: Arrow reads ahead as far as it can (hundreds of MiB),
    so it may only read a couple of blocks beyond the batches taken so far. Memory then
    stays near a few blocks whatever the file size."""

    def __init__(
        self, stream: Any, block_bytes: int, blocks_ahead: int = 2, wait_s: float = 1.0
    ) -> None:
        self._stream = stream
        self._block = block_bytes
        self._allowed = block_bytes * (blocks_ahead + 1)
        self._read = 0
        self._wait_s = wait_s
        self._condition = threading.Condition()
        self._stopped = False

    def readable(self) -> bool:
        return True

    def took_batch(self) -> None:
        with self._condition:
            self._allowed += self._block
            self._condition.notify_all()

    def readinto(self, buffer: Any) -> int:
        with self._condition:
            # A batch may need a block more than granted; never wait forever for it.
            if self._read >= self._allowed and not self._condition.wait_for(
                lambda: self._read < self._allowed or self._stopped, timeout=self._wait_s
            ):
                self._allowed += self._block
            if self._stopped:
                return 0
            room = min(len(buffer), max(self._allowed - self._read, 1))
        data = self._stream.read(room)
        if not data:
            return 0
        size = len(data)
        buffer[:size] = data
        with self._condition:
            self._read += size
        return size

    def close(self) -> None:
        with self._condition:
            self._stopped = True
            self._condition.notify_all()
        try:
            self._stream.close()
        finally:
            super().close()


# -- finding files ----------------------------------------------------------------------------
def is_data_file(name: str) -> bool:
    lower = name.lower()
    return lower.endswith(DATA_SUFFIXES) and not lower.endswith(MANIFEST_SUFFIX.lower())


def local_files(path: Path) -> list[CostFile]:
    if not path.exists():
        raise CostSourceUnreadable(
            f"{path} does not exist; give a CSV, CSV.gz or Parquet file, "
            f"a directory of them, or an s3://bucket/prefix"
        )
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.is_file() and is_data_file(p.name))
        manifests = sorted(p for p in path.rglob(f"*{MANIFEST_SUFFIX}"))
        if not found and not manifests:
            raise CostSourceUnreadable(f"{path} holds no .csv, .csv.gz or .parquet files")
        return [_local(p) for p in found]
    if path.name.endswith(MANIFEST_SUFFIX) or path.suffix == ".json":
        raise CostSourceUnreadable(
            f"{path} is a manifest: its files live in S3; import s3://BUCKET/PREFIX instead"
        )
    return [_local(path)]


def _local(path: Path) -> CostFile:
    return CostFile(name=str(path), size=path.stat().st_size, opener=lambda p=path: open(p, "rb"))


def parse_s3_uri(uri: str) -> tuple[str, str]:
    rest = uri[len("s3://") :]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise CostSourceUnreadable(f"{uri} has no bucket; use s3://BUCKET/PREFIX")
    return bucket, prefix


def manifest_data_keys(manifest: dict[str, Any], bucket: str) -> list[tuple[str, str]]:
    """(bucket, key) of the data files a CUR or Data Exports manifest lists."""
    keys: list[tuple[str, str]] = []
    for uri in manifest.get("dataFiles") or []:  # Data Exports (CUR 2.0, FOCUS)
        keys.append(parse_s3_uri(uri) if str(uri).startswith("s3://") else (bucket, str(uri)))
    for key in manifest.get("reportKeys") or []:  # legacy CUR
        keys.append((manifest.get("bucket") or bucket, str(key)))
    return keys


def choose_manifests(manifest_keys: list[str]) -> list[str]:
    """Legacy CUR keeps a manifest per billing period and one per assembly under it; the
    period's own (the shallowest in its folder) names the current files."""
    chosen: dict[str, str] = {}
    for key in sorted(manifest_keys, key=lambda k: (k.count("/"), k)):
        parts = key.split("/")
        period = next((p for p in parts if _looks_like_period(p)), "/".join(parts[:-1]))
        chosen.setdefault(period, key)
    return sorted(chosen.values())


def _looks_like_period(part: str) -> bool:
    if part.startswith("BILLING_PERIOD="):
        return True
    pieces = part.split("-")
    return len(pieces) == 2 and all(len(p) == 8 and p.isdigit() for p in pieces)


def s3_files(
    s3: Any,
    uri: str,
    list_keys: Callable[..., Iterator[tuple[str, int]]],
    open_object: Callable[..., tuple[BinaryIO, int]],
) -> list[CostFile]:
    bucket, prefix = parse_s3_uri(uri)
    listed = dict(list_keys(s3, bucket, prefix))
    if not listed:
        raise CostSourceUnreadable(f"{uri} is empty (no objects under that prefix)")
    manifests = [k for k in listed if k.endswith(MANIFEST_SUFFIX)]
    targets: list[tuple[str, str]] = []
    if manifests:
        for key in choose_manifests(manifests):
            body, _ = open_object(s3, bucket, key)
            with body:
                try:
                    manifest = json.loads(body.read())
                except ValueError:
                    raise CostSourceUnreadable(f"s3://{bucket}/{key} is not valid JSON") from None
            targets.extend(manifest_data_keys(manifest, bucket))
    else:
        targets = [(bucket, k) for k in sorted(listed) if is_data_file(k)]
    if not targets:
        raise CostSourceUnreadable(f"{uri} holds no .csv, .csv.gz or .parquet files")
    files: list[CostFile] = []
    for target_bucket, key in dict.fromkeys(targets):
        size = listed.get(key, 0) if target_bucket == bucket else 0
        files.append(
            CostFile(
                name=f"s3://{target_bucket}/{key}",
                size=size,
                opener=lambda b=target_bucket, k=key: open_object(s3, b, k)[0],
            )
        )
    return files


# -- reading ----------------------------------------------------------------------------------
def read_header(buffered: io.BufferedReader, name: str) -> list[str]:
    head = buffered.peek(HEADER_PEEK_BYTES)[:HEADER_PEEK_BYTES]
    if not head:
        raise NotACostReport(f"{name} is empty")
    line = head.split(b"\n", 1)[0].rstrip(b"\r")
    try:
        text = line.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise NotACostReport(f"{name} is not a text CSV (nor a gzip or Parquet file)") from None
    return next(csv.reader([text]))


def open_batches(
    cost_file: CostFile, block_bytes: int, on_bytes: Callable[[int], None]
) -> tuple[Layout, Iterator[Batch]]:
    """Detect the format from the header and return a lazy stream of batches."""
    if cost_file.is_parquet:
        return _parquet_batches(cost_file, on_bytes)
    raw = cost_file.opener()
    stream: Any = _Counting(raw, on_bytes)
    if cost_file.is_gzip:
        stream = gzip.GzipFile(fileobj=io.BufferedReader(stream, 1024 * 1024), mode="rb")
    buffered = io.BufferedReader(stream, buffer_size=HEADER_PEEK_BYTES)
    try:
        header = read_header(buffered, cost_file.name)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        buffered.close()
        raise CostSourceUnreadable(f"{cost_file.name} cannot be read: {exc}") from None
    except NotACostReport:
        buffered.close()
        raise
    layout = detect_format(header, cost_file.name)
    return layout, _csv_batches(cost_file.name, buffered, header, block_bytes)


def _csv_batches(
    name: str, buffered: io.BufferedReader, header: list[str], block_bytes: int
) -> Iterator[Batch]:
    gate = _ReadGate(buffered, block_bytes)
    columns = [c.strip().lstrip("\ufeff") for c in header]
    invalid: list[tuple[int, int, RowProblem]] = []  # (record number, line breaks, problem)

    def on_invalid(row: Any) -> str:
        text = row.text or ""
        invalid.append(
            (
                row.number or 0,
                text.count("\n"),
                RowProblem(
                    line=row.number,
                    column="(whole row)",
                    value=text[:80],
                    reason=f"has {row.actual_columns} fields where the header has {row.expected_columns}",
                ),
            )
        )
        return "skip"

    try:
        reader = pcsv.open_csv(
            gate,
            read_options=pcsv.ReadOptions(
                block_size=block_bytes, use_threads=False, column_names=columns, skip_rows=1
            ),
            parse_options=pcsv.ParseOptions(
                newlines_in_values=True, invalid_row_handler=on_invalid
            ),
            convert_options=pcsv.ConvertOptions(
                column_types={c: pa.string() for c in columns},
                null_values=NULL_VALUES,
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, OSError) as exc:
        buffered.close()
        raise CostSourceUnreadable(f"{name} cannot be parsed as CSV: {exc}") from None
    next_record, breaks_before = 2, 0  # the header is record (and line) 1
    try:
        while True:
            # The reader parses its first block when opened: rows it skipped then belong to the
            # first batch, so the list is emptied after each batch, not before.
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except (pa.ArrowInvalid, OSError, EOFError) as exc:
                raise CostSourceUnreadable(
                    f"{name} broke off after record {next_record - 1}: {exc}"
                ) from None
            gate.took_batch()
            skipped = sorted((number, breaks) for number, breaks, _ in invalid)
            locator = _LineLocator(next_record, breaks_before, _newlines_per_row(batch), skipped)
            problems = [
                RowProblem(locator.line_of_skipped(number), p.column, p.value, p.reason)
                for number, _, p in sorted(invalid, key=lambda item: item[0])
            ]
            yield Batch(batch=batch, line_of=locator.line_of, unit="line", problems=problems)
            next_record += batch.num_rows + len(skipped)
            breaks_before += locator.total_breaks
            invalid.clear()
    finally:
        gate.close()


def _has_newline(column: pa.Array) -> bool:
    """Scan the column's character bytes at memory speed (almost no value holds a newline)."""
    if not pa.types.is_string(column.type) or column.offset or len(column) == 0:
        return bool(pc.any(pc.match_substring(column, "\n")).as_py())
    offsets = np.frombuffer(column.buffers()[1], dtype=np.int32, count=len(column) + 1)
    data = column.buffers()[2]
    if data is None or offsets[-1] == offsets[0]:
        return False
    chars = np.frombuffer(data, dtype=np.uint8, count=int(offsets[-1]))[int(offsets[0]) :]
    return bool((chars == 10).any())


def _newlines_per_row(batch: pa.RecordBatch) -> np.ndarray:
    """Quoted values may hold line breaks; line numbers must count them."""
    total = np.zeros(batch.num_rows, dtype=np.int64)
    for column in batch.columns:
        if not _has_newline(column):
            continue
        counts = pc.fill_null(pc.count_substring(column, "\n"), 0)
        total += counts.to_numpy(zero_copy_only=False)
    return total


class _LineLocator:
    """Physical line of a record. The parser numbers records (a record may span lines) and
    skips malformed ones, so both are counted back in."""

    def __init__(
        self,
        first_record: int,
        breaks_before: int,
        breaks: np.ndarray,
        skipped: list[tuple[int, int]],
    ) -> None:
        self.first = first_record
        self.breaks_before = breaks_before
        self.cumulative = np.concatenate(([0], np.cumsum(breaks)))
        self.skipped_numbers = [number for number, _ in skipped]
        self.skipped_breaks = np.concatenate(([0], np.cumsum([b for _, b in skipped] or [0])))
        self.total_breaks = int(self.cumulative[-1]) + int(sum(b for _, b in skipped))

    def _record(self, index: int) -> int:
        record, shift = self.first + index, 0
        while True:
            moved = bisect.bisect_right(self.skipped_numbers, record + shift)
            if moved == shift:
                return record + shift
            shift = moved

    def line_of(self, index: int) -> int:
        record = self._record(index)
        skipped_before = bisect.bisect_left(self.skipped_numbers, record)
        return (
            record
            + self.breaks_before
            + int(self.cumulative[index])
            + int(self.skipped_breaks[skipped_before])
        )

    def line_of_skipped(self, number: int) -> int:
        skipped_before = bisect.bisect_left(self.skipped_numbers, number)
        valid_before = min(max(number - self.first - skipped_before, 0), len(self.cumulative) - 1)
        return (
            number
            + self.breaks_before
            + int(self.cumulative[valid_before])
            + int(self.skipped_breaks[skipped_before])
        )


def _parquet_batches(
    cost_file: CostFile, on_bytes: Callable[[int], None]
) -> tuple[Layout, Iterator[Batch]]:
    spool = _seekable(cost_file)
    try:
        parquet = pq.ParquetFile(spool)
    except (pa.ArrowInvalid, OSError) as exc:
        spool.close()
        raise NotACostReport(f"{cost_file.name} is not a readable Parquet file: {exc}") from None
    layout = detect_format(parquet.schema_arrow.names, cost_file.name)
    on_bytes(cost_file.size)

    def batches() -> Iterator[Batch]:
        offset = 0
        try:
            for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS):
                start = offset
                yield Batch(
                    batch=nulls_as_in_csv(batch), line_of=lambda i, s=start: s + i + 1, unit="row"
                )
                offset += batch.num_rows
        finally:
            spool.close()

    return layout, batches()


def nulls_as_in_csv(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Text columns of a Parquet file read as the CSV reader reads them: an empty value, `NULL`
    or `null` is no value. Exports that write every column as a string (amounts included) then
    load as their CSV twin does, instead of every empty amount being "not a number"."""
    columns = []
    for column in batch.columns:
        if pa.types.is_dictionary(column.type) and pa.types.is_string(column.type.value_type):
            column = column.cast(pa.string())
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            empty = pc.fill_null(pc.is_in(column, value_set=_CSV_NULLS), False)
            if pc.any(empty).as_py():
                column = pc.if_else(empty, pa.scalar(None, column.type), column)
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


_CSV_NULLS = pa.array(NULL_VALUES, pa.string())


def _seekable(cost_file: CostFile) -> BinaryIO:
    """Parquet needs random access: a local file as it is, an S3 object spooled to disk."""
    if not cost_file.name.startswith("s3://"):
        return cost_file.opener()
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed after the last batch
    with cost_file.opener() as body:
        shutil.copyfileobj(body, spool, 8 * 1024 * 1024)
    spool.seek(0)
    return spool
