"""Failpoints: off unless armed by name, and an armed one with probability 1 always fires."""

import subprocess
import sys

from concilia.platform import failpoints


class TestFailpoints:
    def test_an_unarmed_failpoint_does_nothing(self) -> None:
        """Without CONCILIA_FAILPOINTS naming it, a failpoint is a no-op."""
        failpoints.failpoint("consumer.after_effect")  # still here

    def test_the_arming_spec_names_probabilities(self) -> None:
        """`name=p` pairs, commas between them; a bare name means always."""
        assert failpoints._armed(" a.b=0.25, c ,") == {"a.b": 0.25, "c": 1.0}

    def test_an_armed_failpoint_kills_the_process_with_its_own_exit_code(self) -> None:
        """Armed with probability 1, the process dies there, before the next statement."""
        code = "from concilia.platform.failpoints import failpoint; failpoint('x'); print('on')"
        done = subprocess.run(
            [sys.executable, "-c", code],
            env={"CONCILIA_FAILPOINTS": "x=1", "PATH": ""},
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == failpoints.EXIT_CODE
        assert b"on" not in done.stdout
