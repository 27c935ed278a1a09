"""The demo's AWS stand-in: moto's server, with one route the simulated company needs.

moto stamps an instance with the moment it is created, so the company's instances, which the
CUR history bills for 90 days, would look launched a minute ago: no rule that asks "has this run
the whole window?" (a Savings Plan covers only such instances) would ever see one.
`POST /_demo/launch-times` sets the launch times the company's story gives them.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

LAUNCH_TIMES_PATH = "/_demo/launch-times"

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def set_launch_times(account: str, region: str, launched: dict[str, str]) -> int:
    """Set each named instance's launch time (ISO, UTC); returns how many were found."""
    from moto.ec2.models import ec2_backends

    backend = ec2_backends[account][region]
    changed = 0
    for instance in backend.all_instances():
        if instance.id in launched:
            moment = datetime.fromisoformat(launched[instance.id]).astimezone(UTC)
            instance.launch_time = moment.replace(tzinfo=None)  # moto keeps naive UTC
            changed += 1
    return changed


class DemoStandin:
    """moto's WSGI application, with the company's launch-time route in front."""

    def __init__(self, moto_app: WsgiApp) -> None:
        self.moto_app = moto_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO") != LAUNCH_TIMES_PATH or environ["REQUEST_METHOD"] != "POST":
            return self.moto_app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = json.loads(environ["wsgi.input"].read(length) or b"{}")
        try:
            changed = set_launch_times(body["account"], body["region"], body["launched"])
        except (KeyError, TypeError, ValueError) as exc:
            start_response("400 Bad Request", [("Content-Type", "text/plain")])
            return [f"{type(exc).__name__}: {exc}".encode()]
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps({"changed": changed}).encode()]


def main(argv: list[str] | None = None) -> None:
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import run_simple

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))  # as moto's own server does
    app = DemoStandin(DomainDispatcherApplication(create_backend_app))
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
