"""Hand-written replacements of pandas routes in the analyses (issue 12), each against the route it replaced."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mndtrial.analysis.frame import joined_labels


@pytest.mark.parametrize("sep", [" / ", "|"])
def test_joined_labels_equal_pandas_row_agg(sep):
    rng = np.random.default_rng(4)
    n = 50
    table = pd.DataFrame({
        "country": rng.choice(["UK", "France", "Italy"], n).astype(object),
        "site": pd.Categorical(rng.choice(["limb", "bulbar"], n)),
        "count": rng.integers(0, 5, n),
        "ratio": rng.normal(size=n).round(3),
        "flag": rng.random(n) > 0.5,
    }, index=rng.permutation(n) + 100)  # labels that are not positions
    for columns in (["country"], ["country", "site"], list(table.columns)):
        reference = table[columns].astype(str).agg(sep.join, axis=1).to_numpy()
        fast = joined_labels(table, columns, sep)
        assert fast.dtype == reference.dtype == object
        assert fast.tolist() == reference.tolist()
