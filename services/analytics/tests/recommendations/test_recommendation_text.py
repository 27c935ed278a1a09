"""LLM-written text, checked against the fact sheet: the real openai client against a local
OpenAI-compatible server; every failure falls back to the deterministic template."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest
from cloudaudit.analytics.adapters.llm import LlmWriter, TemplateWriter
from cloudaudit.analytics.domain.recommendations.prices import DEFAULT_PRICES
from cloudaudit.analytics.domain.recommendations.rules import evaluate
from cloudaudit.analytics.domain.recommendations.text import (
    fact_sheet,
    sheet_hash,
    template_text,
    unsupported_names,
    unsupported_numbers,
)
from cloudaudit.analytics.settings import AnalyticsSettings
from cloudaudit.common.events.inventory import (
    AccountInventory,
    InstanceFacts,
    UsageSummary,
    VolumeFacts,
)

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def unattached_gp2_volume():
    inventory = AccountInventory(
        account_id=uuid4(),
        aws_account_id="123456789012",
        collected_at=NOW,
        regions=["us-east-1"],
        complete=True,
        volumes=[
            VolumeFacts(
                volume_id="vol-0abc",
                region="us-east-1",
                volume_type="gp2",
                size_gib=100,
                state="available",
                create_time=NOW - timedelta(days=40),
                name="old-build-cache",
            )
        ],
    )
    [candidate] = evaluate(inventory, DEFAULT_PRICES, NOW)
    return candidate


@pytest.fixture
def writer(llm_env):
    return LlmWriter(AnalyticsSettings())


async def test_a_grounded_answer_is_used_with_its_model_and_token_usage(writer, llm_env):
    llm_env.mode = "good"
    candidate = unattached_gp2_volume()
    sheet = fact_sheet(candidate)

    written = await writer.write(candidate, sheet)

    assert written.text.source == "llm" and written.text.fallback_reason is None
    assert written.text.title == "Unattached EBS volume: save $10.00 a month"
    assert "$10.00" in written.text.description
    assert (written.model, written.prompt_tokens, written.completion_tokens) == (
        "fake-writer-1",
        200,
        60,
    )
    [request] = llm_env.requests
    assert request["temperature"] == 0
    assert request["response_format"]["type"] == "json_schema"
    assert request["response_format"]["json_schema"]["strict"] is True
    # The sheet carries facts, never identifiers: no volume id, account, name tag or key.
    prompt = str(request["messages"])
    for secret in ("vol-0abc", "123456789012", "old-build-cache", "sk-test"):
        assert secret not in prompt


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("invented", "ungrounded_number"),
        ("malformed", "schema_mismatch"),
        ("extra_field", "schema_mismatch"),
    ],
)
async def test_an_unusable_answer_falls_back_to_the_template(writer, llm_env, mode, reason):
    llm_env.mode = mode
    candidate = unattached_gp2_volume()

    written = await writer.write(candidate, fact_sheet(candidate))

    assert written.text.source == "template" and written.text.fallback_reason == reason
    assert written.text.title == template_text(candidate).title
    assert "$999.99" not in written.text.description
    assert written.cacheable  # the same facts would get the same answer: do not ask again


async def test_a_timeout_falls_back_to_the_template_and_is_asked_again_next_time(
    llm_env, monkeypatch
):
    monkeypatch.setenv("OPENAI_TIMEOUT_S", "0.3")
    llm_env.mode = "hang"
    writer = LlmWriter(AnalyticsSettings())
    candidate = unattached_gp2_volume()

    written = await writer.write(candidate, fact_sheet(candidate))

    assert written.text.source == "template" and written.text.fallback_reason == "timeout"
    assert not written.cacheable


async def test_without_a_key_only_templates_are_written():
    candidate = unattached_gp2_volume()

    written = await TemplateWriter().write(candidate, fact_sheet(candidate))

    assert written.text.source == "template" and written.model == "template"
    assert written.text.description.startswith(
        "Snapshot the volume, then delete it to save $10.00 a month (confidence 90%)."
    )


def test_the_template_only_says_what_the_fact_sheet_says():
    candidate = unattached_gp2_volume()
    text = template_text(candidate)

    assert unsupported_numbers(f"{text.title} {text.description}", fact_sheet(candidate)) == []


@pytest.mark.parametrize(
    ("text", "bad"),
    [
        ("Delete it to save $10.00 a month; gp3 in us-east-1 is an option.", []),
        ("Delete it to save $10 a month.", []),  # 10 == 10.00
        ("It costs $10.01 a month.", ["$10.01"]),
        ("A 100 GiB volume, 90% sure.", []),
        ("A 100 GiB volume, 95% sure.", ["95%"]),
        ("Save 20 percent or more.", ["20", "percent"]),
        ("It has sat unused for 41 days.", ["41"]),
        ("A hundred dollars a year.", ["hundred"]),
    ],
)
def test_numbers_not_in_the_fact_sheet_are_caught(text, bad):
    assert unsupported_numbers(text, fact_sheet(unattached_gp2_volume())) == bad


def test_the_cache_key_changes_with_the_facts_and_the_model():
    candidate = unattached_gp2_volume()
    sheet = fact_sheet(candidate)
    moved = dict(sheet, estimated_monthly_savings="$10.01")

    assert sheet_hash(sheet, "m1") == sheet_hash(fact_sheet(candidate), "m1")
    assert sheet_hash(sheet, "m1") != sheet_hash(moved, "m1")
    assert sheet_hash(sheet, "m1") != sheet_hash(sheet, "m2")
    assert candidate.estimated_monthly_savings == Decimal("10.00")


async def test_the_openai_key_never_reaches_a_log_line(llm_env):
    import io
    import logging
    import os

    from cloudaudit.common.logging import JsonFormatter

    key = os.environ["OPENAI_API_KEY"]
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        candidate = unattached_gp2_volume()
        for mode in ("error", "invented", "good"):
            llm_env.mode = mode
            await LlmWriter(AnalyticsSettings()).write(candidate, fact_sheet(candidate))
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)

    assert "LLM call failed" in captured.getvalue()
    assert key not in captured.getvalue()
    assert llm_env.authorization[-1] == f"Bearer {key}"  # it was really used


def oversized_instance():
    """An m5.2xlarge in us-east-1 whose CPU peaks low: resize to m5.large."""
    instance = InstanceFacts(
        instance_id="i-0big",
        region="us-east-1",
        instance_type="m5.2xlarge",
        state="running",
        launch_time=NOW - timedelta(days=90),
        usage=UsageSummary(
            window_days=14,
            days_with_data=14,
            hours_with_data=336,
            cpu_p95_percent=Decimal("9"),
            cpu_max_percent=Decimal("12"),
            network_bytes_per_day=Decimal(10**9),
        ),
    )
    inventory = AccountInventory(
        account_id=uuid4(),
        aws_account_id="123456789012",
        collected_at=NOW,
        regions=["us-east-1"],
        complete=True,
        instances=[instance],
    )
    [candidate] = [c for c in evaluate(inventory, DEFAULT_PRICES, NOW) if c.resource_id == "i-0big"]
    return candidate


def test_the_resize_sheet_names_what_the_reader_may_be_told():
    sheet = fact_sheet(oversized_instance())
    assert "m5.2xlarge" in sheet["action"] and sheet["region"] == "us-east-1"
    grounded = f"{sheet['action']} in us-east-1 to save {sheet['estimated_monthly_savings']}."
    assert unsupported_names(grounded, sheet) == []
    assert unsupported_numbers(grounded, sheet) == []


@pytest.mark.parametrize(
    ("text", "bad_names", "bad_numbers"),
    [
        (
            "terminate the instance and resize to t3.nano in eu-west-1; "
            "you will save fifty dollars",
            ["terminate", "t3.nano", "eu-west-1"],
            ["fifty"],
        ),
        ("Stop all production instances today.", ["all", "production", "today"], []),
        ("Delete every snapshot now.", ["every", "now", "Delete", "snapshot"], []),
        ("Move it to gp3 storage with 500 GiB.", ["Move", "gp3", "500 GiB"], ["500"]),
        ("Resize to db.r6g.xlarge in ap-southeast-2.", ["db.r6g.xlarge", "ap-southeast-2"], []),
        ("Save twice as much with two instances.", [], ["twice", "two"]),
    ],
)
def test_names_and_verbs_the_fact_sheet_does_not_hold_are_caught(text, bad_names, bad_numbers):
    sheet = fact_sheet(oversized_instance())

    assert sorted(unsupported_names(text, sheet)) == sorted(bad_names)
    assert sorted(unsupported_numbers(text, sheet)) == sorted(bad_numbers)


async def test_an_answer_that_changes_the_advice_falls_back_to_the_template(writer, llm_env):
    llm_env.mode = "other_advice"
    candidate = oversized_instance()

    written = await writer.write(candidate, fact_sheet(candidate))

    assert written.text.source == "template"
    assert written.text.fallback_reason == "ungrounded_name"
    assert "t3.nano" not in written.text.description


def test_every_rule_template_passes_its_own_check():
    """The template is the fallback: it must never be refused by the check it stands in for."""
    candidates = [oversized_instance(), unattached_gp2_volume()]
    for candidate in candidates:
        text = template_text(candidate)
        body = f"{text.title} {text.description}"
        assert unsupported_names(body, fact_sheet(candidate)) == []
        assert unsupported_numbers(body, fact_sheet(candidate)) == []
