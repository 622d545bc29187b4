"""The service's address policy: an allowlisted host name connects only to globally routable
addresses, and an IPv6 address that stands for an IPv4 host is no way around it.

Regression: 100.64.0.0/10 (carrier-grade NAT; 100.100.100.200 is a cloud metadata address) and the
6to4 address 2002:a9fe:a9fe:: (169.254.169.254) were taken as public.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ml_data import Settings
from ml_data.errors import URLNotAllowed
from ml_data.http import HttpClient
from ml_data.service.addresses import is_public_address, same_host_ipv4
from ml_data.service.guard import GuardedResolver, UrlGuard
from ml_data.urls import parse_http_url

V4 = ipaddress.IPv4Address
V6 = ipaddress.IPv6Address

REFUSED = [
    "100.64.0.1",
    "100.100.100.200",
    "100.127.255.255",
    "169.254.169.254",
    "2002:a9fe:a9fe::",
    "2002:a9fe:a9fe:1:2:3:4:5",
    "::ffff:169.254.169.254",
    "::ffff:100.100.100.200",
    "::169.254.169.254",
    "::ffff:0:a9fe:a9fe",
    "64:ff9b::a9fe:a9fe",
    "64:ff9b::7f00:1",
    "64:ff9b:1:a9fe:a9:fe00::",
    "2001:0:4136:e378:8000:63bf:5601:5601",  # Teredo, client 169.254.169.254 (bits inverted)
    "fe80::1%eth0",
    "fec0::1",
    "ff0e::1",
    "224.0.0.1",
    "192.88.99.1",
    "3fff::1",
    "0.0.0.0",
    "::",
    "::1",
    "127.0.0.1",
    "not an address",
    "",
]
PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "2606:4700:4700::1111",
    "2a00:1450:4001:80b::200e",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
]


@pytest.mark.parametrize("address", REFUSED)
def test_non_global_addresses_and_their_ipv6_forms_are_refused(address):
    assert not is_public_address(address)


@pytest.mark.parametrize("address", PUBLIC)
def test_globally_routable_addresses_are_allowed(address):
    assert is_public_address(address)


# -- every IPv6 form of an IPv4 address --------------------------------------------------------------


def _mapped(v4: V4, rest: int) -> V6:
    return V6((0xFFFF << 32) | int(v4))


def _compatible(v4: V4, rest: int) -> V6:
    return V6(int(v4))


def _translated(v4: V4, rest: int) -> V6:
    return V6((0xFFFF << 64) | int(v4))


def _six_to_four(v4: V4, rest: int) -> V6:
    return V6((0x2002 << 112) | (int(v4) << 80) | (rest & (2**80 - 1)))


def _teredo_client(v4: V4, rest: int) -> V6:
    # 2001:0:<server>:<flags>:<port>:<client>, the client's bits inverted
    return V6(
        (0x2001 << 112) | ((rest & 0xFFFFFFFF) << 64) | ((rest >> 32 & 0xFFFFFFFF) << 32) | (~int(v4) & 0xFFFFFFFF)
    )


def _teredo_server(v4: V4, rest: int) -> V6:
    return V6((0x2001 << 112) | (int(v4) << 64) | (rest & (2**64 - 1)))


def _nat64(v4: V4, rest: int) -> V6:
    return V6(int(ipaddress.IPv6Address("64:ff9b::")) | int(v4))


def _nat64_local(v4: V4, rest: int) -> V6:
    # RFC 6052 with the /48 local-use prefix: 16 bits, the zero "u" octet, 16 bits
    high, low = int(v4) >> 16, int(v4) & 0xFFFF
    return V6(int(ipaddress.IPv6Address("64:ff9b:1::")) | (high << 64) | (low << 40) | (rest & 0xFFFF))


EMBEDDINGS: list[Callable[[V4, int], V6]] = [
    _mapped,
    _compatible,
    _translated,
    _six_to_four,
    _teredo_client,
    _teredo_server,
    _nat64,
    _nat64_local,
]

#: IPv4 addresses, with the special ranges drawn often (a uniform draw rarely lands in them).
ipv4 = st.one_of(
    st.ip_addresses(v=4),
    *(
        st.ip_addresses(network=network)
        for network in (
            "0.0.0.0/8",
            "10.0.0.0/8",
            "100.64.0.0/10",
            "127.0.0.0/8",
            "169.254.0.0/16",
            "172.16.0.0/12",
            "192.0.0.0/24",
            "192.168.0.0/16",
            "198.18.0.0/15",
            "224.0.0.0/4",
            "240.0.0.0/4",
        )
    ),
)


@given(v4=ipv4, embed=st.sampled_from(EMBEDDINGS), rest=st.integers(0, 2**80 - 1))
def test_every_ipv6_form_of_a_non_global_ipv4_address_is_refused(v4, embed, rest):
    if not is_public_address(str(v4)):
        assert not is_public_address(str(embed(v4, rest)))


@given(v4=ipv4, rest=st.integers(0, 2**80 - 1))
def test_an_ipv6_address_that_reaches_an_ipv4_host_is_judged_as_that_host(v4, rest):
    for embed in (_mapped, _nat64):
        assert same_host_ipv4(embed(v4, rest)) == v4
        assert is_public_address(str(embed(v4, rest))) == is_public_address(str(v4))


@given(address=st.ip_addresses())
def test_nothing_ipaddress_calls_non_global_or_multicast_is_allowed(address):
    if is_public_address(str(address)):
        judged = same_host_ipv4(address) or address
        assert judged.is_global and not judged.is_multicast and not judged.is_private


# -- the guard ------------------------------------------------------------------------------------


@pytest.mark.parametrize("address", ["100.100.100.200", "2002:a9fe:a9fe::", "64:ff9b::a9fe:a9fe", "::ffff:10.0.0.1"])
def test_an_allowlisted_name_resolving_to_a_non_global_address_is_refused_before_connecting(tmp_path, address):
    settings = Settings(cache_dir=tmp_path / "cache", retries=0)
    guard = UrlGuard(settings, ("http://files.example:8000",))
    resolved: list[str] = []

    def resolve_host(host: str, port: int) -> tuple[str, ...]:
        resolved.append(host)
        return (address,)

    http = HttpClient(settings, url_guard=guard.check_hop, resolve_host=resolve_host)
    with pytest.raises(URLNotAllowed):
        GuardedResolver(settings, guard, http=http).resolve("http://files.example:8000/x.jpg")
    assert resolved == ["files.example"]  # refused on the answer, before any connection


def test_loopback_is_reached_only_through_an_origin_allowlisted_by_address(tmp_path):
    settings = Settings(cache_dir=tmp_path / "cache")
    guard = UrlGuard(settings, ("http://127.0.0.1:8000", "http://files.example:8000"))
    guard.check_hop(parse_http_url("http://127.0.0.1:8000/x.jpg"), ("127.0.0.1",))
    with pytest.raises(URLNotAllowed):
        guard.check_hop(parse_http_url("http://files.example:8000/x.jpg"), ("127.0.0.1",))
    with pytest.raises(URLNotAllowed):
        guard.check_hop(parse_http_url("http://127.0.0.1:8001/x.jpg"), ("127.0.0.1",))
