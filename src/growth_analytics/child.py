"""Running a program as a child that does not outlive ``growth``.

The child gets SIGTERM when the process that started it dies, however it dies (``kill -9`` included), via
Linux's ``PR_SET_PDEATHSIG``. A SIGTERM or SIGINT sent to ``growth`` is passed on to the child, and
``growth`` waits for the child and returns its exit status. A Ctrl-C at the terminal already reaches the
whole foreground process group, so that SIGINT is not sent a second time.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_SI_KERNEL = 0x80  # si_code of a signal the kernel sent, e.g. the terminal's Ctrl-C
_FORWARDED = (signal.SIGTERM, signal.SIGINT)
_POLL_SECONDS = 0.2


def _child_setup(parent_pid: int) -> Callable[[], None]:
    """What the child does between fork and exec: die with the parent, take signals again."""

    libc = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None  # loaded before the fork

    def setup() -> None:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _FORWARDED)
        if libc is not None:
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
            if os.getppid() != parent_pid:  # the parent died before prctl took effect
                os.kill(os.getpid(), signal.SIGTERM)

    return setup


def _pass_on_signals(proc: subprocess.Popen[str]) -> None:
    while (info := signal.sigtimedwait(_FORWARDED, 0)) is not None:
        if info.si_signo == signal.SIGTERM or info.si_code != _SI_KERNEL:
            proc.send_signal(info.si_signo)


def run(
    cmd: list[str],
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    check: bool = False,
    capture: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` to its end as a child bound to this process (like :func:`subprocess.run`)."""
    in_main_thread = threading.current_thread() is threading.main_thread()
    # Signals are blocked before the fork and collected with sigtimedwait, so each arrives exactly once.
    previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _FORWARDED) if in_main_thread else None
    try:
        pipe = subprocess.PIPE if capture else None
        with subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            text=True,
            stdout=pipe,
            stderr=pipe,
            preexec_fn=_child_setup(os.getpid()),
        ) as proc:
            while True:
                try:
                    stdout, stderr = proc.communicate(timeout=_POLL_SECONDS if in_main_thread else None)
                    break
                except subprocess.TimeoutExpired:
                    _pass_on_signals(proc)
            if in_main_thread:
                _pass_on_signals(proc)  # those that came while it ended: taken, not left pending
    finally:
        if previous_mask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)
    if check and proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, cmd, stdout, stderr)
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)
