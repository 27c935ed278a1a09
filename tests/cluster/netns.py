"""A private network on one machine: a bridge, one network namespace per host with a veth pair
on it, processes run inside those hosts, and everything torn down at the end, even on failure.

The whole run happens inside fresh network, mount and PID namespaces (`in_private_network`):
every `ip` command changes only interfaces that exist in there, the named namespaces live on a
tmpfs that only this mount namespace sees, and when the run's first process ends, for whatever
reason, the kernel kills every process it started (it is PID 1 of its own PID namespace).
Addresses come from SUBNET, which exists on nothing but the bridge built here.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

SUBNET = "10.231.0"  # a /24 that exists only on this harness's bridge
HUB_OCTET = 1  # the bridge's own address: where the test driver and the stand-ins listen
BRIDGE = "ca-br0"
NETNS_DIR = Path("/run/netns")
NAMESPACE_PREFIX = "ca-"
HOST_NETNS_ENV = "CLOUDAUDIT_CLUSTER_HOST_NETNS"  # the netns inode the run must not be in
IP_TIMEOUT_S = 10.0
STOP_GRACE_S = 5.0
PROBE_TIMEOUT_S = 20.0
UNSHARE = (
    "unshare",
    "--net",
    "--mount",
    "--propagation",
    "private",
    "--pid",
    "--fork",
    "--mount-proc",
    "--kill-child=SIGKILL",
)


class NetworkError(Exception):
    """An `ip` command or a process of the private network failed; the message says which."""


def netns_inode() -> int:
    return os.stat("/proc/self/ns/net").st_ino


def in_private_network(argv: list[str]) -> list[str]:
    """`argv` run as PID 1 of fresh network, mount and PID namespaces (killed if we die)."""
    return [*UNSHARE, *argv]


def why_unavailable() -> str | None:
    """Why this machine cannot build the private network (None: it can)."""
    if os.geteuid() != 0:
        return "needs root: network namespaces, veth pairs and a bridge (CI runs as root)"
    for tool in ("ip", "unshare", "setpriv"):
        if shutil.which(tool) is None:
            return f"`{tool}` not found (iproute2 / util-linux)"
    probe = (
        f"mkdir -p {NETNS_DIR} && mount -t tmpfs ca-probe {NETNS_DIR} && ip netns add ca-probe "
        "&& ip link add ca-probe0 type veth peer name eth0 netns ca-probe "
        "&& ip link add ca-probe-br type bridge"
    )
    try:
        result = subprocess.run(
            in_private_network(["sh", "-c", probe]),
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot create namespaces: {exc}"
    if result.returncode != 0:
        return f"cannot create namespaces here: {result.stderr.strip()[-300:]}"
    return None


def _ip(*args: str) -> None:
    result = subprocess.run(
        ["ip", *args], capture_output=True, text=True, timeout=IP_TIMEOUT_S, check=False
    )
    if result.returncode != 0:
        raise NetworkError(f"ip {' '.join(args)}: {result.stderr.strip()}")


@dataclass(frozen=True)
class Host:
    """One network namespace with one address on the bridge."""

    name: str
    address: str

    @property
    def netns(self) -> str:
        return NAMESPACE_PREFIX + self.name

    def argv(self, argv: list[str], user: str | None = None) -> list[str]:
        """`argv` run inside this host (as `user` when given: PostgreSQL refuses root)."""
        as_user = (
            ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--"] if user else []
        )
        return ["ip", "netns", "exec", self.netns, *as_user, *argv]


@dataclass
class Proc:
    """A process running in a host; its output goes to its log file."""

    name: str
    host: Host
    popen: subprocess.Popen[bytes]
    log: Path
    stop_signal: int = signal.SIGTERM
    tier: int = 0  # teardown stops higher tiers first (the services before their servers)

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        """kill -9: no shutdown hook, no flush, no goodbye."""
        if self.alive:
            self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(IP_TIMEOUT_S)


@dataclass
class PrivateNetwork:
    """The bridge and its hosts; `with` builds the bridge and tears everything down."""

    logs: Path
    hosts: dict[str, Host] = field(default_factory=dict)
    procs: list[Proc] = field(default_factory=list)

    @property
    def hub(self) -> str:
        """The bridge's address: processes in the run's own namespace listen there."""
        return f"{SUBNET}.{HUB_OCTET}"

    def __enter__(self) -> PrivateNetwork:
        host_netns = os.environ.get(HOST_NETNS_ENV)
        if host_netns is None or int(host_netns) == netns_inode() or os.getpid() != 1:
            raise NetworkError(
                "refusing to touch interfaces: not inside the private namespaces "
                "(run through netns.in_private_network)"
            )
        self.logs.mkdir(parents=True, exist_ok=True)
        NETNS_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["mount", "-t", "tmpfs", "ca-netns", str(NETNS_DIR)], check=True, timeout=IP_TIMEOUT_S
        )
        try:
            _ip("link", "set", "lo", "up")
            _ip("link", "add", BRIDGE, "type", "bridge")
            _ip("addr", "add", f"{self.hub}/24", "dev", BRIDGE)
            _ip("link", "set", BRIDGE, "up")
        except BaseException:
            self.teardown()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.teardown()

    def add_host(self, name: str, octet: int) -> Host:
        host = Host(name, f"{SUBNET}.{octet}")
        veth = f"ca-v{octet}"
        _ip("netns", "add", host.netns)
        self.hosts[name] = host
        _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", host.netns)
        _ip("link", "set", veth, "master", BRIDGE, "up")
        _ip("-n", host.netns, "addr", "add", f"{host.address}/24", "dev", "eth0")
        _ip("-n", host.netns, "link", "set", "eth0", "up")
        _ip("-n", host.netns, "link", "set", "lo", "up")
        return host

    def spawn(
        self,
        host: Host,
        name: str,
        argv: list[str],
        env: dict[str, str] | None = None,
        user: str | None = None,
        stop_signal: int = signal.SIGTERM,
        tier: int = 0,
    ) -> Proc:
        log = self.logs / f"{name}.log"
        with log.open("ab") as out:
            popen = subprocess.Popen(
                host.argv(argv, user), env=env, stdout=out, stderr=subprocess.STDOUT
            )
        proc = Proc(name, host, popen, log, stop_signal, tier)
        self.procs.append(proc)
        return proc

    def run(
        self,
        host: Host,
        argv: list[str],
        env: dict[str, str] | None = None,
        user: str | None = None,
        timeout: float = 60.0,
    ) -> str:
        """Run a command to its end inside `host`; its output, or NetworkError with it."""
        result = subprocess.run(
            host.argv(argv, user),
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise NetworkError(
                f"{Path(argv[0]).name} on {host.name} failed ({result.returncode}): "
                f"{(result.stderr or result.stdout).strip()[-1500:]}"
            )
        return result.stdout

    def teardown(self) -> None:
        """Stop every process (signal, grace, SIGKILL; clients before servers), then delete
        the hosts and the bridge."""
        for tier in sorted({p.tier for p in self.procs}, reverse=True):
            procs = [p for p in self.procs if p.tier == tier]
            for proc in procs:
                if proc.alive:
                    proc.popen.send_signal(proc.stop_signal)
            deadline = time.monotonic() + STOP_GRACE_S
            for proc in procs:
                try:
                    proc.popen.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    proc.popen.kill()
                    proc.popen.wait(IP_TIMEOUT_S)
        _kill_every_other_process()
        for host in self.hosts.values():
            subprocess.run(
                ["ip", "netns", "del", host.netns], capture_output=True, timeout=IP_TIMEOUT_S
            )
        self.hosts.clear()
        subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True, timeout=IP_TIMEOUT_S)
        subprocess.run(["umount", "-l", str(NETNS_DIR)], capture_output=True, timeout=IP_TIMEOUT_S)


def _kill_every_other_process() -> None:
    """PID 1 of the run's PID namespace: whatever a child left behind (a backend of a killed
    postmaster) is SIGKILLed and reaped, so no process outlives the run."""
    if os.getpid() != 1:
        return
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != 1:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry.name), signal.SIGKILL)
    deadline = time.monotonic() + STOP_GRACE_S
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.05)  # children still exiting; nothing to wait on but the kernel
