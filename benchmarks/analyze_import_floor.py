"""The import floor of `mndtrial analyze`: its two processes loading their libraries, nothing else.

Run by `bench_analyze.py` in every round (or by hand: `python benchmarks/analyze_import_floor.py`).
It imports, in the same order and the same two processes as the command (`cli/analyze.py`,
`report/background.py`), the third-party libraries `mndtrial analyze` ends up with, and computes,
reads and draws nothing:
- before the fork: typer (0.29 builds each option's coercion with pydantic, so pydantic too)
  and pandas (which loads pyarrow where it is installed);
- the report writer (forked): matplotlib with the Agg canvas and PIL's PNG writer, and
  scipy.special (the Kaplan–Meier bands' normal quantile, `analysis.distributions`);
- this process after the fork: tomli_w (`data.io` imports it), pyarrow's CSV reader (reading the
  trial) and scipy.special (parsing the plan loads the sections, and every p-value needs it).
The list was read off `sys.modules` (third-party top-level packages) at the end of a run of the
command in one process (`MNDTRIAL_FIGURE_PROCESSES=1`) and of the analysis alone, 2026-12-04.
Its wall time is what `mndtrial analyze` would take if its own code cost nothing: the command's
time above it is the part this project can change.
"""

import os

import typer  # noqa: F401
import pydantic  # noqa: F401
import pandas  # noqa: F401

pid = os.fork()
if pid == 0:
    import matplotlib

    matplotlib.use("agg")
    import matplotlib.backends.backend_agg  # noqa: F401
    import matplotlib.figure  # noqa: F401
    import PIL.PngImagePlugin  # noqa: F401
    import scipy.special  # noqa: F401

    os._exit(0)
import tomli_w  # noqa: F401, E402
import pyarrow.csv  # noqa: F401, E402
import scipy.special  # noqa: F401, E402

_, status = os.waitpid(pid, 0)
raise SystemExit(os.waitstatus_to_exitcode(status))
