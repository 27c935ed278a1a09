"""AWS through boto3: our principal, the customer's role (cached credentials), permission probes,
Cost Explorer pages with throttling back-off, and S3 objects of cost exports.

`AwsGateway.shared(settings)` is the process's gateway (per AWS endpoint and principal): whatever
uses it (the resource inventory today) reuses the same assumed-role credentials until shortly
before they expire, so N inventory passes cost one AssumeRole.

boto3 is synchronous: the service calls these methods in worker threads.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from cloudaudit.common.clock import utcnow
from cloudaudit.common.logging import register_secret
from cloudaudit.common.metrics import count_aws_calls
from cloudaudit.ingest.adapters.inventory_accounts import new_session
from cloudaudit.ingest.domain import connect
from cloudaudit.ingest.domain.arn import RoleArn
from cloudaudit.ingest.domain.connect import (
    EXPORT_BUCKET_PROBE,
    PROBES,
    THROTTLING_CODES,
    CachedCredentials,
    CredentialCache,
    Probe,
)
from cloudaudit.ingest.domain.cost_explorer import backoff_delay, probe_request
from cloudaudit.ingest.domain.errors import AwsUnavailable, CostSourceUnreadable
from cloudaudit.ingest.settings import IngestSettings

log = logging.getLogger(__name__)

ROLE_SESSION_NAME = "cloudaudit-ingest"

_SHARED: dict[tuple[str | None, str | None, str], AwsGateway] = {}
_SHARED_LOCK = threading.Lock()


def error_code(exc: ClientError) -> str:
    code = str(exc.response.get("Error", {}).get("Code") or "")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code or str(status or "Unknown")


def error_message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message") or exc)[:300]


@dataclass
class CallStats:
    requests: int = 0
    throttled_retries: int = 0


class AwsGateway:
    """One per process: holds our session and the role-credential cache."""

    def __init__(
        self,
        settings: IngestSettings,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._settings = settings
        self._sleep = sleep
        self._rand = rand
        self._lock = threading.Lock()
        self._cache = CredentialCache(timedelta(seconds=settings.credentials_refresh_margin_s))
        self._assume_locks: dict[tuple[str, str], threading.Lock] = {}
        self._principal: str | None = settings.principal_arn
        key = settings.aws_access_key_id.get_secret_value() if settings.aws_access_key_id else None
        secret = (
            settings.aws_secret_access_key.get_secret_value()
            if settings.aws_secret_access_key
            else None
        )
        register_secret(secret)
        self._session = boto3.Session(
            aws_access_key_id=key, aws_secret_access_key=secret, region_name=settings.aws_region
        )
        # Our own back-off decides retries (and counts Cost Explorer requests exactly).
        self._config = Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
            max_pool_connections=20,
        )
        self.assume_role_calls = 0

    @classmethod
    def shared(cls, settings: IngestSettings) -> AwsGateway:
        """The process's gateway for this AWS endpoint, region and principal (one credential
        cache for every caller that uses it)."""
        key_id = (
            settings.aws_access_key_id.get_secret_value() if settings.aws_access_key_id else None
        )
        key = (settings.aws_endpoint_url, key_id, settings.aws_region)
        with _SHARED_LOCK:
            gateway = _SHARED.get(key)
            if gateway is None:
                gateway = _SHARED[key] = cls(settings)
            return gateway

    # -- clients --------------------------------------------------------------------------------
    def _client(
        self, service: str, credentials: CachedCredentials | None = None, region: str | None = None
    ) -> Any:
        kwargs: dict[str, Any] = {
            "region_name": region or self._settings.aws_region,
            "endpoint_url": self._settings.aws_endpoint_url,
            "config": self._config,
        }
        if credentials is not None:
            kwargs.update(
                aws_access_key_id=credentials.access_key_id,
                aws_secret_access_key=credentials.secret_access_key,
                aws_session_token=credentials.session_token,
            )
        with self._lock:  # boto3 sessions are not thread-safe; clients are
            return count_aws_calls(self._session.client(service, **kwargs))

    def _with_backoff(self, call: Callable[[], Any], stats: CallStats | None = None) -> Any:
        attempts = self._settings.ce_max_attempts
        for attempt in range(attempts):
            try:
                result = call()
                if stats is not None:
                    stats.requests += 1
                return result
            except ClientError as exc:
                if error_code(exc) not in THROTTLING_CODES or attempt + 1 >= attempts:
                    raise
                if stats is not None:
                    stats.throttled_retries += 1
                self._sleep(
                    backoff_delay(
                        attempt,
                        self._settings.ce_backoff_base_s,
                        self._settings.ce_backoff_max_s,
                        self._rand(),
                    )
                )
        raise AssertionError("unreachable")  # pragma: no cover

    # -- identity -------------------------------------------------------------------------------
    def principal_arn(self) -> str:
        """The ARN customers trust: configured, or asked from STS once."""
        if self._principal is None:
            try:
                arn = self._client("sts").get_caller_identity()["Arn"]
            except (ClientError, BotoCoreError) as exc:
                raise AwsUnavailable(
                    f"CloudAudit could not ask AWS who it is ({type(exc).__name__}); set "
                    f"INGEST_PRINCIPAL_ARN or give the service AWS credentials"
                ) from None
            self._principal = connect.principal_from_caller(arn)
        return self._principal

    def assume(self, role: RoleArn, external_id: str) -> CachedCredentials:
        """Credentials in the customer's account, reused until shortly before they expire.

        An empty external_id sends none (a role of a single-account install may not need one);
        the ExternalId is never logged."""
        cached = self._cache.get(str(role), external_id, utcnow())
        if cached is not None:
            return cached
        with self._lock:
            lock = self._assume_locks.setdefault((str(role), external_id), threading.Lock())
        with lock:  # one AssumeRole per role at a time: concurrent first users wait for it
            cached = self._cache.get(str(role), external_id, utcnow())
            if cached is not None:  # another thread assumed it meanwhile
                return cached
            credentials = self._assume_now(role, external_id)
            self._cache.put(str(role), external_id, credentials)
            return credentials

    def _assume_now(self, role: RoleArn, external_id: str) -> CachedCredentials:
        sts = self._client("sts")
        request: dict[str, Any] = {
            "RoleArn": str(role),
            "RoleSessionName": ROLE_SESSION_NAME,
            "DurationSeconds": self._settings.role_session_seconds,
        }
        if external_id:
            request["ExternalId"] = external_id
        try:
            answer = self._with_backoff(lambda: sts.assume_role(**request))
        except ClientError as exc:
            raise connect.assume_role_failed(
                role, self._principal_or_unknown(), error_code(exc), error_message(exc)
            ) from None
        except BotoCoreError as exc:
            raise AwsUnavailable(f"could not reach AWS STS: {exc}"[:300]) from None
        self.assume_role_calls += 1
        raw = answer["Credentials"]
        register_secret(raw["SecretAccessKey"])
        register_secret(raw["SessionToken"])
        expires = raw["Expiration"]
        if isinstance(expires, str):
            expires = datetime.fromisoformat(expires.replace("Z", "+00:00"))
        return CachedCredentials(
            raw["AccessKeyId"], raw["SecretAccessKey"], raw["SessionToken"], expires.astimezone(UTC)
        )

    def role_session(self, role: RoleArn, external_id: str) -> boto3.Session:
        """A boto3 session in the customer's account on the cached role credentials."""
        credentials = self.assume(role, external_id)
        return new_session(
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            aws_session_token=credentials.session_token,
        )

    def forget(self, role: RoleArn, external_id: str) -> None:
        self._cache.forget(str(role), external_id)

    def _principal_or_unknown(self) -> str:
        try:
            return self.principal_arn()
        except AwsUnavailable:
            return "CloudAudit's principal"

    # -- probes ---------------------------------------------------------------------------------
    def check_permissions(
        self, role: RoleArn, credentials: CachedCredentials, export_bucket: str | None = None
    ) -> int:
        """One cheap call per permission; raises the first failure. Returns CE requests made."""
        ce_requests = 0
        probes = list(PROBES) + ([EXPORT_BUCKET_PROBE] if export_bucket else [])
        for probe in probes:
            try:
                self._with_backoff(lambda p=probe: self._probe_call(p, credentials, export_bucket))
                if probe.service == "ce":
                    ce_requests += 1
            except ClientError as exc:
                raise connect.probe_failed(
                    role, probe, error_code(exc), error_message(exc)
                ) from None
            except BotoCoreError as exc:
                raise AwsUnavailable(
                    f"could not reach AWS for {probe.permission}: {exc}"[:300]
                ) from None
        return ce_requests

    def _probe_call(
        self, probe: Probe, credentials: CachedCredentials, export_bucket: str | None
    ) -> Any:
        client = self._client(probe.service, credentials)
        if probe.service == "ce":
            return client.get_cost_and_usage(**probe_request(utcnow().date()))
        if probe.service == "ec2":
            return client.describe_instances(MaxResults=5)
        if probe.service == "cloudwatch":
            now = utcnow()
            return client.get_metric_data(
                MetricDataQueries=[
                    {
                        "Id": "probe",
                        "MetricStat": {
                            "Metric": {"Namespace": "AWS/EC2", "MetricName": "CPUUtilization"},
                            "Period": 3600,
                            "Stat": "Average",
                        },
                    }
                ],
                StartTime=now - timedelta(hours=1),
                EndTime=now,
            )
        if probe.service == "s3":
            return client.list_objects_v2(Bucket=export_bucket, MaxKeys=1)
        raise ValueError(f"no probe call for {probe.service}")  # pragma: no cover

    # -- Cost Explorer --------------------------------------------------------------------------
    def cost_explorer(self, credentials: CachedCredentials) -> Any:
        return self._client("ce", credentials)

    def cost_and_usage_page(
        self, client: Any, request: dict[str, Any], stats: CallStats, role: RoleArn
    ) -> dict[str, Any]:
        """One page; every AWS failure becomes a typed error naming the fix."""
        try:
            return self._with_backoff(lambda: client.get_cost_and_usage(**request), stats)
        except ClientError as exc:
            raise connect.probe_failed(
                role, PROBES[0], error_code(exc), error_message(exc)
            ) from None
        except BotoCoreError as exc:
            raise AwsUnavailable(f"could not reach Cost Explorer: {exc}"[:300]) from None

    # -- S3 -------------------------------------------------------------------------------------
    def s3(self, credentials: CachedCredentials | None = None) -> Any:
        return self._client("s3", credentials)

    @staticmethod
    def list_keys(s3: Any, bucket: str, prefix: str) -> Iterator[tuple[str, int]]:
        try:
            paginator = s3.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield item["Key"], int(item.get("Size", 0))
        except ClientError as exc:
            raise CostSourceUnreadable(
                f"cannot list s3://{bucket}/{prefix}: {error_code(exc)} ({error_message(exc)}). "
                f"Check the bucket name and that the role may s3:ListBucket on it."
            ) from None

    @staticmethod
    def open_object(s3: Any, bucket: str, key: str) -> tuple[BinaryIO, int]:
        try:
            answer = s3.get_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            raise CostSourceUnreadable(
                f"cannot read s3://{bucket}/{key}: {error_code(exc)} ({error_message(exc)}). "
                f"Check the key and that the role may s3:GetObject on it."
            ) from None
        return answer["Body"], int(answer.get("ContentLength") or 0)
