"""The client address the per-address log-in limit counts. Pure logic.

Behind a reverse proxy every request comes from the proxy, so the limit would see one address
and anyone could lock everyone out. The proxy's header (X-Forwarded-For) names the client, but
anyone can send that header: it is believed only from a peer inside the configured trusted
proxy networks, and then read from the right, skipping the trusted proxies' own addresses, so
a client cannot plant an address by sending the header itself.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str) -> tuple[Network, ...]:
    """`10.0.0.0/8, 192.168.1.7` -> networks; a ValueError names the entry that is not one."""
    networks = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(
                f"{entry!r} is not an IP address or CIDR network (e.g. 10.0.0.0/8)"
            ) from None
    return tuple(networks)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def _trusted(address: str, proxies: Sequence[Network]) -> bool:
    parsed = _address(address)
    return parsed is not None and any(parsed in network for network in proxies)


def client_address(peer: str | None, forwarded: str | None, proxies: Sequence[Network]) -> str:
    """The socket peer, unless it is a trusted proxy that forwarded the request: then the
    right-most address in the header that is not a trusted proxy."""
    peer = peer or "unknown"
    if not forwarded or not _trusted(peer, proxies):
        return peer
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if _address(hop) is None:
            return peer  # a malformed header: count the proxy, never a made-up name
        if not _trusted(hop, proxies):
            return hop
    return hops[0] if hops else peer
