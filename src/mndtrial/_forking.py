"""When work can be handed to forked processes: the rule the report's and the power engine's
side-by-side steps share (kept at the package root, below every layer that forks)."""

from __future__ import annotations

import multiprocessing
import os
import sys

__all__ = ["usable_cpus", "fork_is_safe"]


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity where the platform has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def fork_is_safe() -> bool:
    """Whether to rely on `fork`: Linux's to rely on (macOS: unsafe with system frameworks;
    Windows: absent)."""
    return sys.platform == "linux" and "fork" in multiprocessing.get_all_start_methods()
