"""How many processes draw a page's figures: the rule `render` and `background` share.

Kept apart from `render` (which imports matplotlib) so that a process can decide to fork a
report writer before it has loaded any of the report's stack.
"""

from __future__ import annotations

import os

from .._forking import fork_is_safe, usable_cpus

__all__ = ["figure_processes", "MAX_PROCESSES", "MIN_FIGURES_PER_PROCESS"]

MAX_PROCESSES = 4
# A worker pays for its start (fork, then its own font and text caches) only with several figures
# to draw: power.html's two figures drew in 1.6–1.9 s wall with two processes and 0.8 s in one.
MIN_FIGURES_PER_PROCESS = 4


def figure_processes(n_figures: int) -> int:
    """How many processes to draw `n_figures` figures with (1: in this process): one per
    `MIN_FIGURES_PER_PROCESS` figures, at most the usable CPUs and `MNDTRIAL_FIGURE_PROCESSES`."""
    setting = os.environ.get("MNDTRIAL_FIGURE_PROCESSES")
    try:
        cap = int(setting) if setting else MAX_PROCESSES
    except ValueError:
        cap = 1
    if not fork_is_safe():
        return 1
    return max(1, min(cap, usable_cpus(), n_figures // MIN_FIGURES_PER_PROCESS))
