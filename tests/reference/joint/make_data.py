"""Writes the stored example trial of the joint-model references (run from the repository root):

    PYTHONPATH=src:tests python tests/reference/joint/make_data.py

300 participants drawn from the joint model of tests/joint_helpers.py (TRUTH, seed 2026).
The CSVs are stored; the tests read them, not this script.
"""

from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    from joint_helpers import joint_trial  # tests/ on PYTHONPATH (see above); imported here so collection needs nothing

    trial = joint_trial(300, seed=2026)
    trial.participants[["subject_id", "arm"]].to_csv(HERE / "participants.csv", index=False)
    trial.survival[["subject_id", "time_days", "event"]].to_csv(HERE / "survival.csv", index=False)
    trial.alsfrs[["subject_id", "day", "total"]].to_csv(HERE / "alsfrs.csv", index=False, float_format="%.10g")


if __name__ == "__main__":  # pytest --doctest-modules imports this file: write nothing then
    main()
