"""mndtrial.report: provenance, figures and self-contained HTML reports.

- `collect_provenance` / `Provenance`: what produced an output and the call that reproduces it.
- `mndtrial.report.figures`: matplotlib figures (KM with numbers at risk, forest, ALSFRS-R,
  Treg by dose, PH check, power curves), each returning a `Figure`.
- `trial_report` / `write_trial_report`: report.html for one trial and its analysis results.
- `power_report` / `write_power_report`: power.html for Monte Carlo power results.
"""

from .descriptives import consort_flow, visit_means
from .html import TrialReport, trial_report, write_trial_report
from .power_html import PowerReport, power_report, write_power_report
from .provenance import Provenance, collect_provenance, hash_inputs, sha256_file

__all__ = ["PowerReport", "Provenance", "TrialReport", "collect_provenance",
           "consort_flow", "hash_inputs", "power_report", "sha256_file", "trial_report", "visit_means",
           "write_power_report", "write_trial_report"]
