"""Figures drawn ahead of the page that shows them, used only where every input is the same.

A report's figures are most of its cost, and some of them (the per-subgroup Kaplan–Meier
panels, the ALSFRS-R trajectories) depend on the trial and the plan alone, not on the analysis's
results. `report.background` draws those while the analysis still runs. A page built later
takes a drawing made ahead only for a `FigureCall` whose fingerprint -- the SHA-256 of the
pickled function name and arguments, trial tables included (as their columns' values), pickled
without memo and with sets in a fixed order so that it depends on values, not on which objects
are shared, how pandas holds a table or the order a set iterates in -- equals that of the
drawing: any
difference in any input, and the figure is drawn again from its call. So drawing ahead can make
a report sooner, never different (`tests/test_report_background.py`).
"""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

__all__ = ["FigureCall", "draw_call", "drawn_for"]


@dataclass(frozen=True)
class FigureCall:
    """A figure function with its arguments: calling it builds the figure.

    Example:
        >>> from mndtrial.report.figures import alsfrs_figure
        >>> from mndtrial.data.example import example_trial
        >>> call = FigureCall(alsfrs_figure, (example_trial(),), {"n_individual": 5, "seed": 0})
        >>> call.fingerprint() == FigureCall(alsfrs_figure, (example_trial(),), {"n_individual": 5, "seed": 0}).fingerprint()
        True
    """

    function: Callable[..., Any]
    args: tuple = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def __call__(self) -> Any:
        return self.function(*self.args, **self.kwargs)

    def fingerprint(self) -> str:
        """SHA-256 of the function's qualified name and every argument, pickled."""
        name = f"{self.function.__module__}.{self.function.__qualname__}"
        return _fingerprint((name, self.args, sorted(self.kwargs.items())))


def _fingerprint(value: Any) -> str:
    digest = _HashingFile()
    pickler = _ValuePickler(digest, protocol=5)
    # no memo: an object met twice is written out twice, so the bytes depend on the values
    # alone, not on which of them happen to be one shared object (as after unpickling)
    pickler.fast = True
    pickler.dump(value)
    return digest.hash.hexdigest()


class _ValuePickler(pickle.Pickler):
    """Pickles a pandas table as its columns' names, types and values, and its index's values:
    the same table gives the same bytes however pandas holds it inside (its blocks are merged in
    place by some reads, which changes a plain pickle of an unchanged table).

    A set is written as its elements in the order of their own fingerprints: a set's iteration
    order depends on string hashing (random per process) and on the order it was filled in, so
    an equal set (a pydantic model's `__pydantic_fields_set__` after a round trip through the
    writer's pipe, say) could otherwise give other bytes.
    """

    def persistent_id(self, obj: Any) -> Any:
        # sets never reach reducer_override (pickle writes them itself); persistent_id sees every object
        if type(obj) is set or type(obj) is frozenset:
            return (type(obj).__name__, sorted(_fingerprint(element) for element in obj))
        return None

    def reducer_override(self, obj: Any) -> Any:
        import pandas as pd

        if isinstance(obj, pd.DataFrame):
            columns = tuple((name, repr(obj[name].dtype), obj[name].to_numpy()) for name in obj.columns)
            return tuple, (("DataFrame", columns, repr(obj.index.dtype), obj.index.to_numpy()),)
        if isinstance(obj, pd.Series):
            return tuple, (("Series", obj.name, repr(obj.dtype), obj.to_numpy(), repr(obj.index.dtype),
                            obj.index.to_numpy()),)
        return NotImplemented


class _HashingFile:
    """A file that hashes what is written to it (the pickle need not be held in memory)."""

    def __init__(self):
        self.hash = hashlib.sha256()

    def write(self, data) -> int:
        # protocol 5 hands large arrays over as buffers (`pickle.PickleBuffer`), not bytes
        view = memoryview(data)
        self.hash.update(view)
        return view.nbytes


def draw_call(call: FigureCall, formats: Sequence[str]) -> dict[str, bytes] | None:
    """The call's figure drawn in `formats` here, `{fmt: bytes}`; None when building it raises (the
    page will draw it, or say why it cannot)."""
    from .render import render_figures
    from .style import collection_paused

    try:
        with collection_paused():  # as the page builds its figures (`html._figure_or_note`)
            figure = call()
    except Exception:
        return None
    return render_figures({"ahead": figure}, formats)["ahead"]


def drawn_for(call: Any, drawn: Mapping[str, dict[str, bytes]]) -> dict[str, bytes] | None:
    """The drawing made ahead for `call`, when `call` is a `FigureCall` with every input the same."""
    if not drawn or not isinstance(call, FigureCall):
        return None
    return drawn.get(call.fingerprint())
