"""Without servers: product codes named as AWS names them, CUR 2.0's product map read, Parquet text
read as CSV reads it, and the fix told for rejected rows."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from cloudaudit.ingest.adapters.cost_files import nulls_as_in_csv
from cloudaudit.ingest.domain.cur.formats import detect_format
from cloudaudit.ingest.domain.cur.mapping import map_batch
from cloudaudit.ingest.domain.cur.rejections import (
    GENERIC_FIX,
    FileRows,
    fix_for,
    refusal,
    wholly_rejected,
)
from cloudaudit.ingest.domain.cur.services import (
    SERVICE_NAMES,
    names_for_codes,
    product_names,
    service_name,
)


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("AmazonS3", "Amazon Simple Storage Service"),
        ("awskms", "AWS Key Management Service"),
        ("AWSDataTransfer", "AWS Data Transfer"),
        ("AmazonEC2", "Amazon Elastic Compute Cloud"),
        ("AmazonRDS", "Amazon Relational Database Service"),
        ("AmazonCloudWatch", "AmazonCloudWatch"),
        ("ComputeSavingsPlans", "Savings Plans for AWS Compute usage"),
        ("AWSKMS", "AWS Key Management Service"),  # codes are matched whatever their case
        ("AmazonSomethingNew", "AmazonSomethingNew"),  # unknown: the code stays
    ],
)
def test_product_codes_are_named_as_aws_names_the_product(code, name):
    assert service_name(code) == name


def test_the_table_has_one_name_per_code_and_no_code_as_a_name_except_cloudwatch():
    assert len(SERVICE_NAMES) >= 50
    codes_as_names = [code for code, name in SERVICE_NAMES.items() if name.lower() == code]
    assert codes_as_names == ["amazoncloudwatch"]  # AWS itself calls it so, in CUR and CE


def test_names_for_a_column_of_codes_keep_nulls():
    codes = pa.array(["AmazonS3", None, "awskms", "AmazonS3", "Mystery"])
    assert names_for_codes(codes).to_pylist() == [
        "Amazon Simple Storage Service",
        None,
        "AWS Key Management Service",
        "Amazon Simple Storage Service",
        "Mystery",
    ]


def test_the_product_name_is_read_from_the_map_as_json_text_and_as_a_parquet_map():
    as_json = pa.array(
        [
            json.dumps({"region": "us-east-1", "product_name": "Amazon Simple Storage Service"}),
            json.dumps({"ProductName": "AWS Key Management Service"}),
            json.dumps({"product_name": 'Caf\u00e9 "Service"'}),  # escapes in the JSON text
            "{}",
            json.dumps({"product_name": "  "}),
            None,
        ]
    )
    assert product_names(as_json, 6).to_pylist() == [
        "Amazon Simple Storage Service",
        "AWS Key Management Service",
        'Café "Service"',
        None,
        None,
        None,
    ]
    as_map = pa.array(
        [[("product_name", "AWS Data Transfer")], [("sku", "X")], None, [("ProductName", "Y")]],
        pa.map_(pa.string(), pa.string()),
    )
    assert product_names(as_map, 4).to_pylist() == ["AWS Data Transfer", None, None, "Y"]
    assert product_names(None, 2).to_pylist() == [None, None]


def test_cur2_rows_take_the_map_name_else_the_named_code():
    columns = [
        "line_item_usage_account_id",
        "line_item_usage_start_date",
        "line_item_unblended_cost",
        "line_item_product_code",
        "product",
    ]
    batch = pa.RecordBatch.from_pydict(
        {
            "line_item_usage_account_id": ["111122223333"] * 3,
            "line_item_usage_start_date": ["2024-04-01T00:00:00Z"] * 3,
            "line_item_unblended_cost": ["1", "2", "3"],
            "line_item_product_code": ["AmazonEC2", "AmazonEC2", "awskms"],
            "product": [json.dumps({"product_name": "Amazon Elastic Compute Cloud"}), "{}", None],
        }
    )
    mapped = map_batch(batch, detect_format(columns), lambda i: i + 2)
    assert mapped.table.column("service").to_pylist() == [
        "Amazon Elastic Compute Cloud",
        "Amazon Elastic Compute Cloud",  # a negation without a name is still EC2, not a code
        "AWS Key Management Service",
    ]
    assert mapped.table.column("product_code").to_pylist() == ["AmazonEC2", "AmazonEC2", "awskms"]


def test_parquet_text_empty_and_null_are_no_value_as_in_csv():
    batch = pa.RecordBatch.from_pydict(
        {
            "cost": pa.array(["1.5", "", "NULL", "null", None]),
            "large": pa.array(["", "x", "x", "x", "x"], pa.large_string()),
            "coded": pa.array(["a", "", "a", "a", "a"]).dictionary_encode(),
            "number": pa.array([1, 2, 3, 4, 5]),
        }
    )
    read = nulls_as_in_csv(batch).to_pydict()
    assert read["cost"] == ["1.5", None, None, None, None]
    assert read["large"] == [None, "x", "x", "x", "x"]
    assert read["coded"] == ["a", None, "a", "a", "a"]
    assert read["number"] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("reasons", "fix"),
    [
        (["not a number: '1,50'", "not a number: '2,50'"], "'.' as the decimal point"),
        (["not a date/time: '31/05/2024' (expected ...)"], "ISO dates"),
        (["not a 12-digit AWS account id: 'abc'"], "12-digit AWS account ids"),
        (["value is missing (required)"], "must be filled on every row"),
        (["has 8 fields where the header has 10"], "as many fields as the header"),
        (["something else entirely"], GENERIC_FIX),
    ],
)
def test_the_fix_follows_the_most_common_reason(reasons, fix):
    assert fix in fix_for(reasons)


def test_only_files_that_kept_nothing_are_wholly_rejected():
    files = {
        "good.csv": FileRows(read=3, loaded=3),
        "partly.csv": FileRows(read=3, loaded=1, rejected=2),
        "bad.csv": FileRows(read=2, rejected=2),
        "azure-only.csv": FileRows(read=4),  # rows of other providers are skipped, not rejected
        "empty.csv": FileRows(),
    }
    assert wholly_rejected(files) == ["bad.csv"]
    message = refusal(
        files, ["bad.csv: line 2, column c: not a number: 'x'"], ["not a number"], "i"
    )
    first, *rest = message.splitlines()
    assert first.startswith("nothing was imported: every row of bad.csv (2 rows) was rejected")
    assert "  bad.csv: line 2, column c: not a number: 'x'" in rest
    assert rest[-1].startswith("fix: amounts must be plain numbers")
