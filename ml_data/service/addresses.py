"""Which IP addresses an allowlisted host name may connect to: globally routable unicast only.

Why more than ``ipaddress``'s ``is_global``: what it knows depends on the Python version, and it
misses addresses a request must never reach. Python 3.11 calls multicast, the deprecated site-local
``fec0::/10``, ``3fff::/20`` (documentation) and the 6to4 prefix ``2002::/16`` global, so
``2002:a9fe:a9fe::`` (6to4 for 169.254.169.254, the cloud metadata address) got through. Here an
address must be global to ``ipaddress`` *and* outside every range below, and an IPv6 address that
stands for an IPv4 host is judged as that IPv4 host:

- IPv4-mapped ``::ffff:a.b.c.d`` and NAT64 ``64:ff9b::a.b.c.d`` reach ``a.b.c.d`` itself: allowed
  exactly when ``a.b.c.d`` is (a DNS64 resolver answers public IPv4 hosts this way);
- IPv4-compatible and IPv4-translated addresses (``::/96``, ``::ffff:0:0:0/96``), 6to4
  (``2002::/16``), Teredo (``2001::/32``) and local-use NAT64 (``64:ff9b:1::/48``) are refused
  whatever they embed: deprecated or local forms whose far end is an IPv4 address of the
  sender's choosing.

Loopback and private addresses are reached only through an origin the allowlist names by IP
address (the guard takes those as they are), never through a host name.
"""

from __future__ import annotations

import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Not globally routable, whatever ``ipaddress`` of this Python version says.
_NOT_GLOBAL_V4 = tuple(
    ipaddress.IPv4Network(network)
    for network in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT (100.100.100.200 is a cloud metadata address)
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local (169.254.169.254: cloud metadata)
        "172.16.0.0/12",
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation
        "192.88.99.0/24",  # 6to4 relay anycast (deprecated)
        "192.168.0.0/16",
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation
        "203.0.113.0/24",  # documentation
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and the broadcast address
    )
)
_NOT_GLOBAL_V6 = tuple(
    ipaddress.IPv6Network(network)
    for network in (
        "::/8",  # unspecified, loopback, IPv4-compatible and -translated, NAT64 (judged before)
        "100::/64",  # discard-only
        "2001::/23",  # IETF protocol assignments, Teredo (2001::/32) among them
        "2001:db8::/32",  # documentation
        "2002::/16",  # 6to4
        "3fff::/20",  # documentation
        "5f00::/16",  # segment routing
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated)
        "ff00::/8",  # multicast
    )
)
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def is_public_address(address: str) -> bool:
    """True for a globally routable unicast address (a zone index, ``%eth0``, is ignored); False for
    everything else, including text that is no address.

    >>> is_public_address("8.8.8.8"), is_public_address("::ffff:8.8.8.8")
    (True, True)
    >>> is_public_address("100.100.100.200"), is_public_address("2002:a9fe:a9fe::")
    (False, False)
    """
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    embedded = same_host_ipv4(ip)
    return _is_global(embedded if embedded is not None else ip)


def same_host_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address reaches as it is (IPv4-mapped, well-known NAT64), or None."""
    if isinstance(ip, ipaddress.IPv6Address) and (ip in _MAPPED or ip in _NAT64):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _is_global(ip: IPAddress) -> bool:
    if not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_private:
        return False
    ranges: tuple[ipaddress.IPv4Network, ...] | tuple[ipaddress.IPv6Network, ...] = (
        _NOT_GLOBAL_V4 if isinstance(ip, ipaddress.IPv4Address) else _NOT_GLOBAL_V6
    )
    return not any(ip in network for network in ranges)


__all__ = ["is_public_address", "same_host_ipv4"]
