"""Monte Carlo power and sample size over thousands of simulated trials (see docs/power.md)."""

from .criteria import EVERYONE, Analysis, Criterion, Population, Test
from .designs import (LOW_PNFH, STRATEGIES, DesignFamily, ExponentialFamily, SimFamily, SimSource, design_points,
                      family, logrank_analysis, strategy_analysis)
from .engine import DesignPoint, PowerResult, TrialSource, operating_characteristics, power
from .enrichment import AdaptiveEnrichmentDesign, EventReestimation, simulate_enrichment
from .enrichment_pool import ExponentialPool, SimPool
from .exponential import ExponentialDesign
from .group_sequential import GroupSequentialTrial, simulate_group_sequential
from .confirmatory import build_strategies, run_confirmatory
from .confirmatory_spec import ConfirmatorySpec, load_confirmatory
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
