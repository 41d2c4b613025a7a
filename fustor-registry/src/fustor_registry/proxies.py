"""Who the client is: the peer address, or ``X-Forwarded-For`` when the peer is a trusted proxy.

Anyone can send ``X-Forwarded-For``; only a reverse proxy that *appends* the address it saw makes
the header meaningful, and only the entries appended by proxies we trust can be believed. So the
header is read only when the TCP peer is in ``trusted_proxies``, from right to left, skipping
entries that are themselves trusted proxies: the first other address is the client. Everything
to the left of it was written by the client and is ignored. With no trusted proxies (the
default) the header is never read.

The server must hand over the real peer address: ``fustor-registry serve`` runs uvicorn with its
own proxy-header handling switched off (uvicorn would otherwise trust the header from loopback).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(entries: Iterable[str]) -> list[IPNetwork]:
    """``trusted_proxies`` entries (addresses or CIDRs) as networks; ValueError names a bad one."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or CIDR network") from None
    return networks


class TrustedProxies:
    """Resolves the client address of a request from its peer and forwarded headers."""

    def __init__(self, networks: Sequence[IPNetwork]) -> None:
        self.networks = list(networks)

    def is_trusted(self, address: str) -> bool:
        parsed = _parse_address(address)
        return parsed is not None and any(parsed in network for network in self.networks)

    def client(self, peer: str, forwarded_for: Sequence[str]) -> str:
        """The client's address: ``peer``, unless ``peer`` is trusted and forwarded for someone.

        ``forwarded_for`` holds the values of every ``X-Forwarded-For`` header, in order.
        """
        if not self.networks or not self.is_trusted(peer):
            return peer
        hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
        client = peer
        for hop in reversed(hops):
            parsed = _parse_address(hop)
            if parsed is None:
                break  # a trusted proxy would not write this: believe nothing further left
            client = str(parsed)
            if not any(parsed in network for network in self.networks):
                break
        return client


def _parse_address(text: str) -> IPAddress | None:
    """An address as proxies write it: ``1.2.3.4``, ``1.2.3.4:5678``, ``::1`` or ``[::1]:5678``."""
    candidate = text.strip()
    if candidate.startswith("["):
        candidate = candidate[1:].partition("]")[0]
    elif candidate.count(":") == 1:
        candidate = candidate.partition(":")[0]
    try:
        parsed = ipaddress.ip_address(candidate)
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return parsed.ipv4_mapped  # a dual-stack socket's view of an IPv4 peer
    return parsed
