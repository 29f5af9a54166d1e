"""The checkout's files, as a fresh clone has them, and copying them somewhere else (for tests)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def checkout_files(root: Path = ROOT) -> list[str]:
    """Tracked files plus new files git does not ignore (what a commit of the work tree would hold)."""
    if shutil.which("git") is None or not (root / ".git").exists():
        pytest.skip("not a git checkout (e.g. an installed copy of the tests): nothing to copy")
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                         check=True, capture_output=True).stdout.decode()
    return sorted(f for f in set(out.split("\0")) if f and (root / f).is_file())


def copy_checkout(dest: Path, root: Path = ROOT) -> Path:
    """Copy the checkout's files into `dest` (created) and return it."""
    for rel in checkout_files(root):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, target)
    return dest
