"""AWS calls are counted per service and operation, and Cost Explorer's price is added up."""

from __future__ import annotations

import contextlib

import boto3
from cloudaudit.common.embedded import free_port
from cloudaudit.common.metrics import count_aws_calls
from moto.server import ThreadedMotoServer
from prometheus_client import REGISTRY


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_every_aws_call_is_counted_with_its_outcome():
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        client = count_aws_calls(
            boto3.client(
                "s3",
                endpoint_url=f"http://127.0.0.1:{port}",
                region_name="us-east-1",
                aws_access_key_id="metrics",
                aws_secret_access_key="metrics",
            )
        )
        before_ok = _value(
            "cloudaudit_aws_calls_total", service="s3", operation="ListBuckets", outcome="ok"
        )
        before_err = _value(
            "cloudaudit_aws_calls_total", service="s3", operation="HeadBucket", outcome="error"
        )
        client.list_buckets()
        with contextlib.suppress(client.exceptions.ClientError):
            client.head_bucket(Bucket="no-such-bucket")
        assert (
            _value(
                "cloudaudit_aws_calls_total", service="s3", operation="ListBuckets", outcome="ok"
            )
            == before_ok + 1
        )
        assert (
            _value(
                "cloudaudit_aws_calls_total", service="s3", operation="HeadBucket", outcome="error"
            )
            == before_err + 1
        )
    finally:
        server.stop()
