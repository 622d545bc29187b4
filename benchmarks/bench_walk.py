"""Resource walk benchmark: how long the one walk over a task's data takes on hostile shapes (a list
of a million URLs, a hundred thousand Repeater pages, data nested as deep as the reader decodes),
with the config's keys and without a config, and rewriting every URL (what fetch's data formats and
the service's ``rewrite=true`` do).

    .venv/bin/python -m benchmarks.bench_walk                  # 1,000,000 list items
    .venv/bin/python -m benchmarks.bench_walk --items 100000

Each figure is the best of ``--repeat`` runs; the work is linear in the data's size.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from ml_data.tasks.resources import rewrite_resources, task_resources


def _best(repeat: int, run: Callable[[], Any]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def _deep(depth: int) -> tuple[dict[str, Any], str]:
    data: dict[str, Any] = {}
    node = data
    for _ in range(depth - 1):
        node["a"] = {}
        node = node["a"]
    node["a"] = ["s3://b/deep.png"]
    return data, ".".join(["a"] * depth)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1_000_000, help="URLs in the list value")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; the best is printed")
    args = parser.parse_args()
    listed = {"images": [f"s3://b/{index}.jpg" for index in range(args.items)]}
    pages = {"pages": [{"url": f"s3://b/{index}.png", "n": index} for index in range(args.items // 10)]}
    deep, deep_key = _deep(990)
    cases: list[tuple[str, dict[str, Any], list[str] | None]] = [
        (f"valueList, {args.items:,} items, config keys", listed, ["images"]),
        (f"valueList, {args.items:,} items, no config", listed, None),
        (f"Repeater, {args.items // 10:,} pages, config keys", pages, ["pages[*].url"]),
        (f"Repeater, {args.items // 10:,} pages, no config", pages, None),
        ("990 levels deep, config key", deep, [deep_key]),
    ]
    for name, data, keys in cases:
        urls = task_resources(data, keys)
        links = {url: "media/x" for url in urls}
        found = _best(args.repeat, lambda data=data, keys=keys: task_resources(data, keys))
        rewritten = _best(args.repeat, lambda data=data, keys=keys, links=links: rewrite_resources(data, keys, links))
        per_item = found / max(len(urls), 1) * 1e6
        timing = f"walk {found:6.2f} s ({per_item:.2f} µs/URL)  rewrite {rewritten:6.2f} s"
        print(f"{name:45} {len(urls):>9,} URLs  {timing}")


if __name__ == "__main__":
    main()
