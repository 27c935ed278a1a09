"""Run the services as separate processes (as production does), tail their logs, stop cleanly."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO

from cloudaudit.common.service import ServiceSpec

COLOURS = {
    "identity": "cyan",
    "ingest": "green",
    "analytics": "magenta",
    "bot": "yellow",
    "web": "blue",
}
STOP_TIMEOUT_S = 15

LineSink = Callable[[str, str], None]  # (service, line)


def _pump(name: str, stream: IO[bytes], log_path: Path, sink: LineSink | None) -> None:
    with log_path.open("a", encoding="utf-8") as log_file:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", errors="replace").rstrip()
            log_file.write(line + "\n")
            log_file.flush()
            if sink is not None:
                try:
                    sink(name, line)
                except OSError:
                    # The terminal or pipe went away (`up | tee` after Ctrl-C): keep draining
                    # the child into its log file, or it blocks on a full pipe while stopping.
                    sink = None


class Supervisor:
    """Starts `cloudaudit run <service>` children; each log line goes to a file and a sink."""

    def __init__(
        self,
        env: dict[str, str],
        logs_dir: Path,
        sink: LineSink | None = None,
        env_for: Callable[[str], dict[str, str]] | None = None,
    ) -> None:
        self.env = env
        self.env_for = env_for  # what differs per service (its own bus user)
        self.logs_dir = logs_dir
        self.sink = sink
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        logs_dir.mkdir(parents=True, exist_ok=True)

    def start(self, spec: ServiceSpec) -> subprocess.Popen[bytes]:
        return self.start_module(spec.name, "cloudaudit.common", "run", spec.name, "--no-migrate")

    def start_module(self, name: str, module: str, *args: str) -> subprocess.Popen[bytes]:
        """`python -m module args...` as the child `name` (a service, or an embedded server
        such as the mail sink), logged and stopped like the others."""
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", module, *args],
            env={**self.env, **(self.env_for(name) if self.env_for else {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.children[name] = proc
        assert proc.stdout is not None
        threading.Thread(
            target=_pump,
            args=(name, proc.stdout, self.logs_dir / f"{name}.log", self.sink),
            daemon=True,
        ).start()
        return proc

    def exited(self) -> list[tuple[str, int]]:
        return [(n, p.returncode) for n, p in self.children.items() if p.poll() is not None]

    def stop(self) -> None:
        for proc in self.children.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.children.values():
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
