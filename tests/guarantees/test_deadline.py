"""One deadline bounds a whole download: connect, status line, every header line, every redirect,
the retries' sleeps and the body, however each step stays under its own timeout.

Each test's server would hold the call for many times the deadline (ML_DATA_DOWNLOAD_DEADLINE
1.5 s, ML_DATA_TIMEOUT 1 s); the bound asserted is the deadline plus a generous margin."""

from __future__ import annotations

import time

import pytest

from ml_data import Resolver
from ml_data.deadline import Deadline, DeadlinePassed
from ml_data.errors import UpstreamTimeout
from ml_data.http import HttpClient
from tests.guarantees.test_download_bounds import nothing_cached

DEADLINE = 1.5
MARGIN = 3.0


@pytest.fixture
def bounded(settings):
    return settings.with_changes(read_timeout=1.0, download_deadline=DEADLINE, retries=2)


def test_a_server_that_trickles_its_headers_hits_the_deadline(file_server, bounded):
    """Regression: one header byte a second under a 3 s read timeout held a resolve (and the entry's
    lock) without end: http.client reads up to 100 header lines of 64 KiB, each recv in time."""
    file_server.add("/slow-headers.jpg", body=b"image", slow_headers=(200, 0.2))  # 40 s of headers
    resolver = Resolver(bounded)
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout, match="deadline") as info:
        resolver.resolve(file_server.url("/slow-headers.jpg?token=SECRET"))
    assert time.monotonic() - started < DEADLINE + MARGIN
    assert "SECRET" not in str(info.value) and "slow-headers.jpg" in str(info.value)
    assert nothing_cached(resolver)
    # The entry's lock was released: once the server answers, the same URL resolves.
    file_server.routes["/slow-headers.jpg"].slow_headers = None
    assert resolver.resolve(file_server.url("/slow-headers.jpg?token=SECRET")).size == 5


def test_a_chain_of_slow_redirects_hits_the_deadline(file_server, bounded):
    """Regression: ten hops each answering just under the read timeout took ten read timeouts."""
    file_server.add("/final.jpg", body=b"image")
    file_server.add_redirect_chain("/start", 10, delay=0.6, to=file_server.url("/final.jpg"))
    resolver = Resolver(bounded.with_changes(max_redirects=20))
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout, match="deadline"):
        resolver.resolve(file_server.url("/start"))
    assert time.monotonic() - started < DEADLINE + MARGIN
    assert file_server.gets("/start/hop4") == 0  # it stopped following, not just reported late
    assert file_server.gets("/final.jpg") == 0
    assert nothing_cached(resolver)


def test_retry_after_does_not_sleep_past_the_deadline(file_server, bounded):
    """A 503 asking for 20 s before each retry cannot stretch the call past the deadline."""
    file_server.add("/busy.jpg", body=b"image", fail_times=100, fail_status=503, fail_headers={"Retry-After": "20"})
    resolver = Resolver(bounded)
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout, match="deadline"):
        resolver.resolve(file_server.url("/busy.jpg"))
    assert time.monotonic() - started < DEADLINE + MARGIN
    assert file_server.gets("/busy.jpg") <= 2


def test_the_body_read_after_the_call_keeps_its_deadline(file_server, settings):
    """The response carries its deadline: a body read later, a byte per read timeout, still stops."""
    file_server.add("/trickle.bin", body=b"t" * 40, chunk_size=1, chunk_delay=0.2)
    client = HttpClient(settings.with_changes(read_timeout=1.0))
    deadline = Deadline.after(1.0)
    response = client.get(file_server.url("/trickle.bin"), deadline=deadline)
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout, match="deadline"):
        for _ in client.iter_body(response, file_server.url("/trickle.bin"), deadline=deadline):
            pass
    assert time.monotonic() - started < 1.0 + MARGIN


def test_a_passed_deadline_starts_nothing(file_server, settings):
    file_server.add("/x.bin", body=b"x")
    with pytest.raises(UpstreamTimeout, match="deadline"):
        HttpClient(settings).get(file_server.url("/x.bin"), deadline=Deadline.after(0.0))
    assert file_server.requests == []
    with pytest.raises(DeadlinePassed):
        Deadline.after(-1.0).bound(5.0)
    assert Deadline.after(10.0).bound(2.0) == 2.0
    assert 0 < Deadline.after(1.0).bound(None) <= 1.0
