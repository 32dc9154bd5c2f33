"""The kill-point hook itself: it kills exactly at the named point and nowhere else."""

import os
import signal
import subprocess
import sys

from reprostack.core import faults

SCRIPT = (
    "from reprostack.core import faults\nprint('before', flush=True)\nfaults.point('a.b')\nprint('after', flush=True)"
)


def run(env_value):
    env = {k: v for k, v in os.environ.items() if k != faults.ENV}
    if env_value is not None:
        env[faults.ENV] = env_value
    return subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True)


def test_the_named_point_sigkills_the_process():
    result = run("x.y,a.b")
    assert result.returncode == -signal.SIGKILL and result.stdout == "before\n"


def test_other_points_and_no_variable_do_nothing():
    assert run("a.c").stdout == "before\nafter\n"
    assert run(None).stdout == "before\nafter\n"
