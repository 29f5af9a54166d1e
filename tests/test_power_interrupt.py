"""`mndtrial power` stops cleanly on SIGINT (Ctrl-C) and SIGTERM: issue 18.

A real run is started in a subprocess with two local workers and signalled once its workers are
up. It must exit within 10 s with a message and the signal's exit code, leave none of its
outputs (nor a staging folder) behind, and leave no worker process running. Linux only: worker
processes are found through /proc.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")

SRC = Path(__file__).resolve().parents[1] / "src"
OUTPUTS = ("power.csv", "power.json", "trials.csv.gz", "power.html")


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a live process, None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # the command name may hold spaces
    return fields[0], int(fields[1])


def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            st = _stat(int(entry.name))
            if st is not None and st[1] == pid:
                kids.append(int(entry.name))
    return kids


def _alive(pid: int) -> bool:
    st = _stat(pid)
    return st is not None and st[0] != "Z"


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_power_stops_on_signal_without_outputs_or_workers(tmp_path, sig, code):
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    # 200,000 trials take many minutes: the run is certainly still going when signalled
    proc = subprocess.Popen([sys.executable, "-m", "mndtrial", "power", "--design", "exponential",
                             "--n-trials", "200000", "--workers", "2", "--chunk-size", "64", "--out", str(out)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        workers: list[int] = []
        while time.monotonic() < deadline and len(workers) < 2 and proc.poll() is None:
            time.sleep(0.2)
            workers = [p for p in _children(proc.pid) if _alive(p)]
        assert len(workers) >= 2, f"the workers did not start: {proc.poll()=}"
        time.sleep(1.0)  # let them take chunks
        workers = [p for p in _children(proc.pid) if _alive(p)]
        proc.send_signal(sig)
        signalled = time.monotonic()
        _, err = proc.communicate(timeout=10)
        assert time.monotonic() - signalled < 10
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == code
    assert f"interrupted ({sig.name})" in err
    left = [p for p in workers if _alive(p)]
    for _ in range(20):  # a terminated worker may take a moment to be reaped by init
        if not left:
            break
        time.sleep(0.1)
        left = [p for p in left if _alive(p)]
    assert left == [], f"worker processes still running: {left}"
    assert not any((out / name).exists() for name in OUTPUTS)
    assert not out.exists() or not any(out.iterdir())


def _sleep_until_done(seconds: float) -> float:
    time.sleep(seconds)
    return time.monotonic()


def test_a_signal_during_a_local_run_is_held_and_handed_on_between_results():
    """A handler that raises at any bytecode could raise while this thread holds a lock the
    pool's manager thread needs (the run would then never exit): while `run_chunks` waits on its
    workers, SIGINT and SIGTERM are held (their handler is not the one installed) and handed to
    the previous handler between two results. A handler that only records is called once and
    the run finishes; the handlers are put back."""
    import threading

    from mndtrial.power.backends import run_chunks

    calls: list[int] = []
    during: list[object] = []
    before = signal.signal(signal.SIGTERM, lambda signum, frame: calls.append(signum))
    before_int = signal.signal(signal.SIGINT, signal.default_int_handler)  # pytest-xdist workers ignore it
    try:
        threading.Timer(0.5, lambda: (during.append(signal.getsignal(signal.SIGINT)),
                                      os.kill(os.getpid(), signal.SIGTERM))).start()
        ends = run_chunks([(_sleep_until_done, (0.4,)) for _ in range(8)], [1] * 8, n_workers=2, progress=False)
        assert len(ends) == 8 and all(isinstance(e, float) for e in ends)
        assert calls == [signal.SIGTERM]
        assert during and during[0] is not signal.default_int_handler  # held while the run was under way
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGTERM, before)
        signal.signal(signal.SIGINT, before_int)


def test_ctrl_c_during_a_local_run_raises_once_the_run_holds_no_lock_and_ends_the_workers():
    import threading

    from mndtrial.power.backends import run_chunks

    before = signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C's (pytest-xdist workers ignore it)
    try:
        threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            run_chunks([(_sleep_until_done, (0.4,)) for _ in range(200)], [1] * 200, n_workers=2, progress=False)
        assert time.monotonic() - started < 20  # not the whole run (40 s)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, before)
    left = [p for p in _children(os.getpid()) if _alive(p)]
    for _ in range(20):
        if not left:
            break
        time.sleep(0.1)
        left = [p for p in left if _alive(p)]
    assert left == []
