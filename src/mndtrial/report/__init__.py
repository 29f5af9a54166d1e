"""mndtrial.report: provenance, figures and self-contained HTML reports.

- `collect_provenance` / `Provenance`: what produced an output and the call that reproduces it.
- `mndtrial.report.figures`: matplotlib figures (KM with numbers at risk, forest, ALSFRS-R,
  Treg by dose, PH check, power curves), each returning a `Figure`.
- `trial_report` / `write_trial_report`: report.html for one trial and its analysis results.
- `power_report` / `write_power_report`: power.html for Monte Carlo power results.
"""

from .._lazy import lazy_names
from .provenance import Provenance, collect_provenance, hash_inputs, sha256_file

# The report pages (matplotlib, the analysis stack for trial reports) are imported on first use
# (PEP 562): a command that only records provenance, or writes one kind of page, loads that alone.
_LAZY = {**dict.fromkeys(("consort_flow", "visit_means"), "descriptives"),
         **dict.fromkeys(("TrialReport", "trial_report", "write_trial_report"), "html"),
         **dict.fromkeys(("PowerReport", "power_report", "write_power_report"), "power_html")}

__getattr__, __dir__ = lazy_names(__name__, globals(), _LAZY, submodules=True)

__all__ = ["PowerReport", "Provenance", "TrialReport", "collect_provenance",
           "consort_flow", "hash_inputs", "power_report", "sha256_file", "trial_report", "visit_means",
           "write_power_report", "write_trial_report"]
