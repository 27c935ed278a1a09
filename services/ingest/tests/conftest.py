"""AWS for ingest tests: moto's server on loopback (real HTTP, real signing, IAM enforced),
a per-test fault-injecting hop in front of it (throttling, Cost Explorer not enabled), and a
customer account set up through the real IAM/STS/S3 APIs.
"""

from __future__ import annotations

import http.client
import json
import random
import tempfile
import threading
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import moto.settings
import pytest
from botocore.config import Config
from cloudaudit.ingest.settings import IngestSettings
from moto.server import ThreadedMotoServer

REGION = "us-east-1"
REPO = Path(__file__).resolve().parents[3]
POLICY_FILE = REPO / "deploy" / "aws" / "cloudaudit-readonly-policy.json"
BOOTSTRAP = {"aws_access_key_id": "AKIABOOTSTRAPEXAMPLE", "aws_secret_access_key": "bootstrap"}
NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


# -- faults -----------------------------------------------------------------------------------
@dataclass
class Fault:
    operation: str
    code: str
    times: int
    message: str
    status: int = 400


class FaultProxy:
    """Forwards every request to moto unchanged, except the ones a test asked to fail: AWS
    errors moto cannot produce (throttling, DataUnavailableException) as AWS sends them."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.faults: list[Fault] = []
        self.seen: Counter[str] = Counter()
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                operation = proxy.operation_of(dict(self.headers), body)
                fault = proxy.take_fault(operation)
                if fault is not None:
                    self._reply(*proxy.error_response(fault, dict(self.headers)))
                    return
                status, headers, payload = proxy.forward(
                    self.command, self.path, dict(self.headers), body
                )
                self._reply(status, headers, payload)

            def _reply(self, status: int, headers: dict[str, str], payload: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    if name.lower() not in (
                        "content-length",
                        "transfer-encoding",
                        "connection",
                        "server",
                        "date",
                    ):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    @staticmethod
    def operation_of(headers: dict[str, str], body: bytes) -> str:
        target = headers.get("X-Amz-Target") or headers.get("x-amz-target")
        if target:
            return target.rsplit(".", 1)[-1]
        if body and b"Action=" in body:
            return parse_qs(body.decode("utf-8", "replace")).get("Action", ["?"])[0]
        return "rest"

    def fail(
        self, operation: str, code: str, times: int = 1, message: str = "", status: int = 400
    ) -> None:
        with self._lock:
            self.faults.append(
                Fault(operation, code, times, message or f"{code} (injected)", status)
            )

    def take_fault(self, operation: str) -> Fault | None:
        with self._lock:
            self.seen[operation] += 1
            for fault in self.faults:
                if fault.operation == operation and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    @staticmethod
    def error_response(fault: Fault, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if headers.get("X-Amz-Target") or headers.get("x-amz-target"):
            body = json.dumps({"__type": fault.code, "message": fault.message}).encode()
            return fault.status, {"Content-Type": "application/x-amz-json-1.1"}, body
        xml = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{fault.code}</Code>"
            f"<Message>{fault.message}</Message></Error><RequestId>x</RequestId></ErrorResponse>"
        )
        return fault.status, {"Content-Type": "text/xml"}, xml.encode()

    def forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection(
            self.upstream.hostname, self.upstream.port, timeout=60
        )
        try:
            connection.request(method, path, body=body or None, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            return response.status, dict(response.getheaders()), payload
        finally:
            connection.close()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- a customer account -----------------------------------------------------------------------
def _credentials(raw: dict[str, Any]) -> dict[str, str]:
    return {
        "aws_access_key_id": raw["AccessKeyId"],
        "aws_secret_access_key": raw["SecretAccessKey"],
        "aws_session_token": raw["SessionToken"],
    }


def readonly_policy(
    export_bucket: str | None = None, without: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The shipped least-privilege policy, as the customer's role gets it."""
    policy = json.loads(POLICY_FILE.read_text())
    statements = []
    for statement in policy["Statement"]:
        if statement["Sid"] == "ExportBucketRead":
            if not export_bucket:
                continue
            statement["Resource"] = [
                r.replace("EXPORT_BUCKET", export_bucket) for r in statement["Resource"]
            ]
        actions = [a for a in statement["Action"] if a not in without]
        if not actions:
            continue
        # moto checks CloudWatch calls under the signing name "monitoring", not "cloudwatch".
        actions += [
            a.replace("cloudwatch:", "monitoring:") for a in actions if a.startswith("cloudwatch:")
        ]
        statements.append({**statement, "Action": actions})
    return {"Version": "2012-10-17", "Statement": statements}


@dataclass
class CustomerAccount:
    """An AWS account (unique per test) holding CloudAudit's principal and the customer role."""

    endpoint: str
    moto_url: str
    account_id: str = field(default_factory=lambda: str(random.randint(10**11, 10**12 - 1)))

    def __post_init__(self) -> None:
        sts = self.client("sts", BOOTSTRAP, endpoint=self.moto_url)
        raw = sts.assume_role(
            RoleArn=f"arn:aws:iam::{self.account_id}:role/bootstrap", RoleSessionName="bootstrap"
        )["Credentials"]
        bootstrap = _credentials(raw)
        iam = self.client("iam", bootstrap, endpoint=self.moto_url)
        iam.create_user(UserName="admin")
        iam.put_user_policy(
            UserName="admin",
            PolicyName="all",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
                }
            ),
        )
        key = iam.create_access_key(UserName="admin")["AccessKey"]
        self.admin = {
            "aws_access_key_id": key["AccessKeyId"],
            "aws_secret_access_key": key["SecretAccessKey"],
        }
        # CloudAudit's own principal: may assume only roles named CloudAudit*.
        iam.create_user(UserName="cloudaudit")
        iam.put_user_policy(
            UserName="cloudaudit",
            PolicyName="assume",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "sts:AssumeRole",
                            "Resource": "arn:aws:iam::*:role/CloudAudit*",
                        }
                    ],
                }
            ),
        )
        key = iam.create_access_key(UserName="cloudaudit")["AccessKey"]
        self.principal_key = key["AccessKeyId"]
        self.principal_secret = key["SecretAccessKey"]
        self.principal_arn = f"arn:aws:iam::{self.account_id}:user/cloudaudit"

    def client(
        self, service: str, credentials: dict[str, str] | None = None, endpoint: str | None = None
    ) -> Any:
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=endpoint or self.endpoint,
            config=NO_RETRIES,
            **(credentials or self.admin),
        )

    def create_role(
        self,
        external_id: str,
        name: str = "CloudAuditReadOnly",
        trusted: str | None = None,
        export_bucket: str | None = None,
        without: tuple[str, ...] = (),
    ) -> str:
        """The customer's stack: a role trusting `trusted` with sts:ExternalId, read-only."""
        iam = self.client("iam")
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": trusted or self.principal_arn},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
                }
            ],
        }
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
        iam.put_role_policy(
            RoleName=name,
            PolicyName="CloudAuditReadOnly",
            PolicyDocument=json.dumps(readonly_policy(export_bucket, without)),
        )
        return f"arn:aws:iam::{self.account_id}:role/{name}"

    def queue_cost_and_usage(self, *results: dict[str, Any]) -> None:
        """Cost Explorer answers, in the order the service will ask (moto serves them in order,
        each to the first request with a body it has not seen)."""
        request = urllib.request.Request(
            f"{self.moto_url}/moto-api/static/ce/cost-and-usage-results",
            data=json.dumps({"account_id": self.account_id, "results": list(results)}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 201

    def bucket(self, name: str, files: dict[str, bytes]) -> None:
        s3 = self.client("s3")
        s3.create_bucket(Bucket=name)
        for key, body in files.items():
            s3.put_object(Bucket=name, Key=key, Body=body)

    def settings(self, base: Any, **overrides: Any) -> IngestSettings:
        values: dict[str, Any] = {
            "DATABASE_URL": base.database_url.get_secret_value(),
            "NATS_URL": base.nats_url_value(),
            "CLOUDAUDIT_BUS_PREFIX": base.bus_prefix,
            "CLOUDAUDIT_MAX_DELIVERIES": 3,
            "CLOUDAUDIT_STATE_DIR": tempfile.gettempdir(),
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": self.principal_key,
            "AWS_SECRET_ACCESS_KEY": self.principal_secret,
            "INGEST_SCHEDULER": False,
            "INGEST_CE_BACKOFF_BASE_S": 0.001,
            "INGEST_CE_BACKOFF_MAX_S": 0.005,
        }
        values.update(overrides)
        return IngestSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def fault_proxy(moto_server: str) -> Iterator[FaultProxy]:
    proxy = FaultProxy(moto_server)
    yield proxy
    proxy.close()


@pytest.fixture
def customer(moto_server: str, fault_proxy: FaultProxy) -> Iterator[CustomerAccount]:
    """A fresh account; IAM is enforced (as in AWS) for the rest of the test."""
    previous = moto.settings.INITIAL_NO_AUTH_ACTION_COUNT
    moto.settings.INITIAL_NO_AUTH_ACTION_COUNT = float("inf")
    account = CustomerAccount(endpoint=fault_proxy.url, moto_url=moto_server)
    moto.settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    try:
        yield account
    finally:
        moto.settings.INITIAL_NO_AUTH_ACTION_COUNT = previous


@pytest.fixture
def ingest_settings(settings: Any, customer: CustomerAccount) -> IngestSettings:
    return customer.settings(settings)
