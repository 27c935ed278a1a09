"""What the demo prints: whole tour steps, the ports a person exported, and every URL."""

from __future__ import annotations

from pathlib import Path

from cloudaudit.common.infra import Endpoints
from cloudaudit.common.settings import CommonSettings
from cloudaudit.demo.stack import ProductStack, demo_ports, exported_ports
from cloudaudit.demo.tour import Tour


def test_a_long_step_is_printed_whole(capsys):
    tour = Tour(stack=None, session=None)  # type: ignore[arg-type]
    cards = "\n".join(f"card line {n}" for n in range(1, 121)) + "\n#CDEMOALERTS last card"
    tour.record("recommendations in Slack", True, "4 cards", cards)
    shown = capsys.readouterr().out
    assert "card line 120" in shown and "#CDEMOALERTS last card" in shown
    assert shown.count("card line") == 120


def test_exported_ports_are_honoured_and_the_rest_are_free(monkeypatch):
    monkeypatch.setenv("INGEST_HTTP_PORT", "18082")
    monkeypatch.setenv("IDENTITY_HTTP_PORT", "18081")
    monkeypatch.delenv("ANALYTICS_HTTP_PORT", raising=False)
    monkeypatch.delenv("BOT_HEALTH_PORT", raising=False)
    monkeypatch.delenv("IDENTITY_API_PORT", raising=False)
    chosen = exported_ports(CommonSettings())
    assert chosen == {"ingest": 18082, "identity": 18081}  # defaults are not "exported"
    ports = demo_ports(chosen)
    assert (ports["ingest"], ports["identity"]) == (18082, 18081)
    assert set(ports) == {
        "identity",
        "identity_api",
        "ingest",
        "analytics",
        "bot_health",
        "bot_http",
    }
    assert all(p > 0 for p in ports.values())


def test_every_url_of_the_demo_is_listed(tmp_path: Path):
    stack = ProductStack(
        endpoints=Endpoints(database_url="postgresql://x/y", nats_url="nats://127.0.0.1:1"),
        state_dir=tmp_path,
        services=("identity", "ingest", "analytics"),
        ports=demo_ports({"identity": 18081, "identity_api": 18080}),
        aws_url="http://127.0.0.1:5000",
        llm_url="http://127.0.0.1:5001",
    )
    shown = dict(stack.urls())
    assert shown["identity health"] == "http://127.0.0.1:18081/healthz"
    assert shown["identity API (sign-up, log-in)"] == "http://127.0.0.1:18080/api/v1"
    assert shown["ingest health"].endswith("/healthz") and "analytics health" in shown
    assert shown["AWS stand-in"] == "http://127.0.0.1:5000"
    assert shown["local LLM (OpenAI-compatible)"] == "http://127.0.0.1:5001/v1"
