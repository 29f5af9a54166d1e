"""`mndtrial simulate` writes folders that `mndtrial validate` (read_trial) accepts."""

from __future__ import annotations

import subprocess
import sys

from mndtrial.data import read_trial
from mndtrial.sim import mirocals, simulate


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mndtrial", *args], capture_output=True, text=True)


def test_simulate_one_trial_writes_a_valid_folder_equal_to_the_api(tmp_path):
    out = tmp_path / "trial"
    r = _cli("simulate", "--design", "mirocals", "--n-trials", "1", "--seed", "1", "--out", str(out))
    assert r.returncode == 0, r.stderr
    v = _cli("validate", str(out))
    assert v.returncode == 0 and "valid" in v.stdout
    written = read_trial(out)
    direct = simulate(mirocals(), n_trials=1, seed=1).trial(0)
    assert written.n_participants == direct.n_participants == 220
    assert (written.survival["time_days"].to_numpy() == direct.survival["time_days"].to_numpy()).all()
    assert (written.participants["arm"].to_numpy() == direct.participants["arm"].to_numpy()).all()


def test_simulate_many_trials_one_folder_each(tmp_path):
    r = _cli("simulate", "--design", "imodals", "--n-trials", "2", "--seed", "4", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    folders = sorted(p.name for p in tmp_path.iterdir())
    assert folders == ["trial-00000", "trial-00001"]
    assert read_trial(tmp_path / "trial-00001").n_participants == 36


def test_unknown_design_is_a_clear_error(tmp_path):
    r = _cli("simulate", "--design", "nope", "--seed", "1", "--out", str(tmp_path))
    assert r.returncode == 1
    assert "--design" in r.stderr and "mirocals" in r.stderr


def test_incomplete_parameter_file_is_a_clear_error_not_a_traceback(tmp_path):
    from importlib import resources

    text = resources.files("mndtrial.sim").joinpath("parameters.toml").read_text()
    lines = [ln for ln in text.splitlines() if not ln.startswith("age_sd_years")]
    assert len(lines) == len(text.splitlines()) - 1
    path = tmp_path / "p.toml"
    path.write_text("\n".join(lines))
    r = _cli("simulate", "--seed", "1", "--parameters", str(path), "--out", str(tmp_path / "out"))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "cohort.age_sd_years" in r.stderr and "missing" in r.stderr
