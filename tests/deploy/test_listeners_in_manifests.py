"""The deployment files agree with where the services listen: in a container every listener
binds all interfaces (a probe comes to the pod's address, not loopback), probes and Prometheus
use the internal health port each service is told to serve, and only identity's API (and the
bot's Slack endpoint) is exposed by a Service."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from cloudaudit.common.settings import CommonSettings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
HEALTH_VARIABLE = {
    "identity": "IDENTITY_HTTP_PORT",
    "ingest": "INGEST_HTTP_PORT",
    "analytics": "ANALYTICS_HTTP_PORT",
    "bot": "BOT_HEALTH_PORT",
}
PUBLIC_PORTS = {"identity": {"api"}, "bot": {"slack"}, "ingest": set(), "analytics": set()}


def _documents(service: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((K8S / f"{service}.yaml").read_text()) if d]


def test_the_image_binds_every_interface():
    dockerfile = (ROOT / "deploy" / "docker" / "Dockerfile").read_text()
    assert re.search(r"CLOUDAUDIT_HTTP_HOST=0\.0\.0\.0\b", dockerfile)
    assert CommonSettings.model_fields["http_host"].default == "127.0.0.1"  # a laptop: loopback


@pytest.mark.parametrize("service", sorted(HEALTH_VARIABLE))
def test_probes_hit_the_port_the_service_serves_health_on(service):
    deployment = next(d for d in _documents(service) if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    health = int(env[HEALTH_VARIABLE[service]])
    for probe in ("livenessProbe", "readinessProbe"):
        target = container[probe]["httpGet"]["port"]
        assert ports.get(target, target) == health, f"{service} {probe} misses {health}"
    assert int(pod["metadata"]["annotations"]["prometheus.io/port"]) == health
    if service == "identity":
        assert ports["api"] == int(env["IDENTITY_API_PORT"]) != health


@pytest.mark.parametrize("service", sorted(HEALTH_VARIABLE))
def test_a_service_exposes_only_its_public_ports(service):
    services = [d for d in _documents(service) if d["kind"] == "Service"]
    exposed = {p["name"] for s in services for p in s["spec"]["ports"]}
    assert exposed <= PUBLIC_PORTS[service], f"{service} exposes {exposed - PUBLIC_PORTS[service]}"
