"""Monte Carlo power and sample size over thousands of simulated trials (see docs/power.md)."""

from .._lazy import lazy_names
from .criteria import EVERYONE, Analysis, Criterion, Population, Test
from .designs import (LOW_PNFH, STRATEGIES, DesignFamily, ExponentialFamily, SimFamily, SimSource, design_points,
                      family, logrank_analysis, strategy_analysis)
from .engine import DesignPoint, PowerResult, TrialSource, operating_characteristics, power
from .exponential import ExponentialDesign
from .samplesize import SampleSizeResult, sample_size, schoenfeld_events, schoenfeld_power
from .backends import PoolScope, WorkerPool
from .accelerated import AcceleratedPowerResult, power_exponential_accelerated  # JAX imported only when called

__all__ = ["Analysis", "Criterion", "Population", "Test", "EVERYONE", "LOW_PNFH", "STRATEGIES", "DesignFamily",
           "ExponentialFamily", "SimFamily", "SimSource", "family", "design_points", "logrank_analysis", "strategy_analysis", "DesignPoint",
           "PowerResult", "TrialSource", "power", "ExponentialDesign", "SampleSizeResult", "sample_size",
           "schoenfeld_events", "schoenfeld_power", "AdaptiveEnrichmentDesign", "EventReestimation",
           "simulate_enrichment", "ExponentialPool", "SimPool", "GroupSequentialTrial", "simulate_group_sequential",
           "run_confirmatory", "ConfirmatorySpec", "load_confirmatory", "operating_characteristics",
           "build_strategies", "AcceleratedPowerResult", "power_exponential_accelerated",
           "WorkerPool", "PoolScope"]

# The confirmatory designs (group-sequential boundaries: scipy.optimize; adaptive enrichment) are
# imported on first use (PEP 562): a fixed-design run (`mndtrial power`) never needs them.
_LAZY = {**dict.fromkeys(("AdaptiveEnrichmentDesign", "EventReestimation", "simulate_enrichment"), "enrichment"),
         **dict.fromkeys(("ExponentialPool", "SimPool"), "enrichment_pool"),
         **dict.fromkeys(("GroupSequentialTrial", "simulate_group_sequential"), "group_sequential"),
         **dict.fromkeys(("build_strategies", "run_confirmatory"), "confirmatory"),
         **dict.fromkeys(("ConfirmatorySpec", "load_confirmatory"), "confirmatory_spec")}

__getattr__, __dir__ = lazy_names(__name__, globals(), _LAZY, submodules=True)
