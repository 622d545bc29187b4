"""The two-node test cluster the Ray tests share the shape of: one per test module (module scope),
two nodes of one CPU each on 127.0.0.1."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    local = {"num_cpus": 1, "node_ip_address": "127.0.0.1", "object_store_memory": 150 * 1024 * 1024}
    test_cluster = Cluster(initialize_head=True, head_node_args={**local, "include_dashboard": False})
    try:
        test_cluster.add_node(**local)
        test_cluster.wait_for_nodes()
        ray.init(address=test_cluster.address, log_to_driver=False)
        yield test_cluster
    finally:
        ray.shutdown()
        test_cluster.shutdown()
