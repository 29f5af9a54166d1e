"""Provenance: hashes against the system's sha256sum and a FIPS 180-2 test vector, versions
against importlib.metadata, and a JSON round trip."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from datetime import datetime, timezone
from importlib.metadata import version

import pytest

from mndtrial.report.provenance import DEPENDENCIES, Provenance, collect_provenance, hash_inputs, sha256_file


def test_sha256_matches_fips_vector_and_sha256sum(tmp_path):
    f = tmp_path / "abc.txt"
    f.write_bytes(b"abc")
    # FIPS 180-2, appendix B.1
    assert sha256_file(f) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * 20_000)  # several read chunks
    if shutil.which("sha256sum") is None:
        pytest.skip("sha256sum not installed")
    expected = subprocess.run(["sha256sum", str(big)], capture_output=True, text=True, check=True).stdout.split()[0]
    assert sha256_file(big) == expected


def test_hash_inputs_covers_every_file_of_a_trial_folder(tmp_path, example_trial):
    folder = example_trial.write(tmp_path / "trial")
    hashes = hash_inputs(folder)
    files = sorted(p.relative_to(tmp_path).as_posix() for p in folder.rglob("*") if p.is_file())
    assert sorted(k.split("trial/", 1)[1] for k in hashes) == sorted(f.split("trial/", 1)[1] for f in files)
    assert list(hashes) == sorted(hashes)
    # one changed byte changes exactly that file's hash
    target = folder / "survival.csv"
    target.write_bytes(target.read_bytes() + b"\n")
    after = hash_inputs(folder)
    changed = [k for k in hashes if hashes[k] != after[k]]
    assert changed == [target.as_posix()]


def test_missing_input_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        hash_inputs(tmp_path / "nope.csv")


def test_collect_provenance_records_versions_plan_seed_and_command(tmp_path):
    argv = ["mndtrial", "analyze", str(tmp_path / "my trial"), "--out", "out dir"]
    p = collect_provenance(plan={"horizon_days": 640.0, "covariates": ("log(csf_pnfh)",)}, seed=7, command=argv)
    for dep in ("numpy", "scipy", "pandas", "lifelines", "statsmodels"):
        assert p.dependencies[dep] == version(dep)
    assert set(p.dependencies) == set(DEPENDENCIES)
    assert shlex.split(p.reproduce()) == argv  # the printed call runs as given, spaces and all
    created = datetime.fromisoformat(p.created_utc)
    assert abs((datetime.now(timezone.utc) - created).total_seconds()) < 120
    d = json.loads(json.dumps(p.to_dict(), allow_nan=False))
    assert d["plan"] == {"horizon_days": 640.0, "covariates": ["log(csf_pnfh)"]}
    assert d["seed"] == 7
    back = Provenance.from_dict(d)
    assert back.to_dict() == d
    assert "reproduce with" in p.summary.index
    assert "mndtrial analyze" in p._repr_html_()
