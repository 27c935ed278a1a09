"""Settings errors name the variable; events round-trip with Decimal money and UTC times."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import uuid4

import pytest
from cloudaudit.common.events.cost import CostDayRecorded, CostDriver, CostLine
from cloudaudit.common.money import format_usd
from cloudaudit.common.settings import CommonSettings, SettingsError, load_settings, masked_url
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError


def test_invalid_database_url_names_the_variable_and_the_fix(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "mysql://nope")
    with pytest.raises(SettingsError) as error:
        load_settings(CommonSettings)
    message = str(error.value)
    assert "DATABASE_URL" in message and "postgresql://" in message and "nope" not in message


def test_invalid_port_and_nats_url_are_both_reported(monkeypatch):
    monkeypatch.setenv("CLOUDAUDIT_EMBEDDED_NATS_PORT", "99999")
    monkeypatch.setenv("NATS_URL", "http://localhost")
    with pytest.raises(SettingsError) as error:
        load_settings(CommonSettings)
    assert "CLOUDAUDIT_EMBEDDED_NATS_PORT" in str(error.value)
    assert "NATS_URL" in str(error.value)


def test_unset_urls_mean_embedded_servers(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("NATS_URL", raising=False)
    monkeypatch.setenv("CLOUDAUDIT_STATE_DIR", str(tmp_path))
    settings = load_settings(CommonSettings)
    assert settings.embedded and settings.state_dir == tmp_path


def test_database_password_is_a_secret(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:hunter2@db/cloudaudit")
    settings = load_settings(CommonSettings)
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings.model_dump())


def _day(amount: Decimal) -> CostDayRecorded:
    return CostDayRecorded(
        team_id=uuid4(),
        account_id=uuid4(),
        aws_account_id="012345678901",
        usage_date=date(2026, 11, 1),
        total_unblended_cost=amount,
        lines=[
            CostLine(
                summary_id=uuid4(),
                service="Amazon EC2",
                region="us-east-1",
                unblended_cost=amount,
                top_usage_types=[CostDriver(name="BoxUsage:m5.large", cost=amount)],
            )
        ],
    )


def test_money_travels_as_a_string_and_comes_back_as_the_same_decimal():
    event = _day(Decimal("1234.567891"))
    wire = json.loads(event.model_dump_json())
    assert wire["total_unblended_cost"] == "1234.567891"
    assert wire["lines"][0]["top_usage_types"][0]["cost"] == "1234.567891"
    back = CostDayRecorded.model_validate_json(event.model_dump_json())
    assert back == event and isinstance(back.total_unblended_cost, Decimal)


@given(st.decimals(min_value=Decimal("-1e9"), max_value=Decimal("1e9"), places=6, allow_nan=False))
def test_any_amount_round_trips_exactly(amount):
    back = CostDayRecorded.model_validate_json(_day(amount).model_dump_json())
    assert back.total_unblended_cost == amount


def test_events_refuse_naive_times_unknown_fields_and_mutation():
    event = _day(Decimal("1"))
    with pytest.raises(ValidationError):
        CostDayRecorded.model_validate({**event.model_dump(), "occurred_at": datetime(2026, 1, 1)})
    with pytest.raises(ValidationError):
        CostDayRecorded.model_validate({**event.model_dump(), "surprise": 1})
    with pytest.raises(ValidationError):
        event.revision = 2  # type: ignore[misc]
    assert event.occurred_at.tzinfo is UTC


def test_usd_formatting_rounds_half_even_to_cents():
    assert format_usd(Decimal("1234.565")) == "$1,234.56"
    assert format_usd(Decimal("-12")) == "-$12.00"


def test_an_empty_secret_is_a_start_up_error_naming_the_variable(monkeypatch):
    monkeypatch.setenv("CLOUDAUDIT_ACTOR_SIGNING_KEYS", "  ")
    with pytest.raises(SettingsError) as error:
        load_settings(CommonSettings)
    message = str(error.value)
    assert "CLOUDAUDIT_ACTOR_SIGNING_KEYS set but empty" in message and "unset it" in message


def test_a_renamed_variable_is_a_start_up_error_naming_its_new_name(monkeypatch):
    monkeypatch.setenv("BOT_HTTP_HOST", "0.0.0.0")
    with pytest.raises(SettingsError) as error:
        load_settings(CommonSettings)
    assert "BOT_HTTP_HOST is now CLOUDAUDIT_HTTP_HOST" in str(error.value)


def test_the_bind_host_is_reached_on_loopback_when_it_is_every_interface(monkeypatch):
    monkeypatch.setenv("CLOUDAUDIT_HTTP_HOST", "0.0.0.0")
    assert load_settings(CommonSettings).local_http_host() == "127.0.0.1"
    monkeypatch.setenv("CLOUDAUDIT_HTTP_HOST", "10.1.2.3")
    assert load_settings(CommonSettings).local_http_host() == "10.1.2.3"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://app:hunter2@db:5432/cloudaudit", "postgresql://app:***@db:5432/cloudaudit"),
        ("nats://svc:s3cr%40t@10.0.0.5:4222", "nats://svc:***@10.0.0.5:4222"),
        (
            "postgresql://app:pw@[::1]/x?sslmode=verify-full",
            "postgresql://app:***@[::1]/x?sslmode=verify-full",
        ),
        (
            "postgresql://postgres@127.0.0.1:54329/cloudaudit",
            "postgresql://postgres@127.0.0.1:54329/cloudaudit",
        ),
    ],
)
def test_printed_urls_never_show_a_password(url, shown):
    assert masked_url(url) == shown


def test_a_nats_url_with_a_password_is_a_secret():
    settings = CommonSettings(NATS_URL="nats://ingest:s3cret-bus-pass@nats.internal:4222")  # type: ignore[call-arg]
    assert "s3cret-bus-pass" not in repr(settings) and "s3cret-bus-pass" not in str(settings)
    assert settings.nats_url_value() == "nats://ingest:s3cret-bus-pass@nats.internal:4222"
