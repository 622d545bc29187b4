"""Shares of a cProfile run by stage, for the profile_*.py scripts."""

from __future__ import annotations

import pstats
from pathlib import Path


def stage_shares(profile: Path, stages: dict[str, tuple[str, str]]) -> tuple[float, dict[str, float]]:
    """The run's total time and, for each stage, the cumulative time of the functions named
    ``(end of a file name, function name)`` as a share of that total (stages may nest)."""
    stats = pstats.Stats(str(profile)).stats  # type: ignore[attr-defined]
    total = max(entry[3] for entry in stats.values())
    shares = {}
    for stage, (file_part, function) in stages.items():
        cumulative = sum(
            entry[3]
            for (filename, _line, name), entry in stats.items()
            if name == function and filename.endswith(file_part)
        )
        shares[stage] = cumulative / total
    return total, shares
