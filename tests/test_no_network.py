"""Patient data stays on the user's machine: the local workflow opens no network connection.

Every socket connection and DNS lookup is made to fail for the duration of the test; the whole
local route (read, analyse, report, simulate, power on the local backend) must still succeed.
"""

from __future__ import annotations

import socket

import pytest

from mndtrial import read_trial
from mndtrial.analysis import AnalysisPlan
from mndtrial.report.analysis_report import write_analysis_outputs


class NetworkUsed(AssertionError):
    pass


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise NetworkUsed(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def test_analyse_and_report_without_network(no_network, example_trial, tmp_path):
    trial = read_trial(example_trial.write(tmp_path / "trial"))
    results = AnalysisPlan().run(trial)
    written = write_analysis_outputs(tmp_path / "out", trial, results)
    html = (tmp_path / "out" / "report.html").read_text()
    assert written["results"].exists() and "<img" in html
    assert "http://" not in html and "https://" not in html


def test_simulate_and_power_without_network(no_network):
    from mndtrial.power import design_points, family, power

    # Worker processes are forked (Linux default), so they inherit the refusal too.
    points = design_points(family("mirocals"), n_values=[120], strategies=("all-comers",))
    table = power(points, n_trials=32, seed=3, backend="local", n_workers=2, chunk_size=32).table
    assert len(table) == 1 and 0.0 <= table["power"].iloc[0] <= 1.0
