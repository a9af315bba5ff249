"""`make run` the way a newcomer uses it: it builds, serves, prints the curl
example, and Ctrl-C stops it once and cleanly.

Ctrl-C makes the terminal send SIGINT to its whole foreground process group
(make, the recipe's shell, the server); the test starts make in a session of
its own, with SIGINT's default action, and signals that group the same way."""

import os
import signal
import subprocess
import time

import helpers


def _as_a_terminal_job():
    os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_stops_make_run_once_and_cleanly(tmp_path):
    port = helpers.free_port()
    build = os.path.relpath(os.path.dirname(helpers.binary()), helpers.ROOT)
    cmd = ["make", "--no-print-directory", "run", f"PORT={port}", f"BUILD={build}"]
    if build.rstrip("/").endswith("asan"):
        cmd.append("SAN=1")
    out_path = tmp_path / "make-run.out"
    with open(out_path, "wb") as out:
        p = subprocess.Popen(cmd, cwd=helpers.ROOT, stdout=out, stderr=subprocess.STDOUT,
                             preexec_fn=_as_a_terminal_job)
    try:
        deadline = time.time() + 120 * helpers.SLOW
        while "Ctrl-C stops it." not in out_path.read_text(errors="replace"):
            assert p.poll() is None, f"make run exited {p.returncode}:\n{out_path.read_text()}"
            assert time.time() < deadline, f"no banner:\n{out_path.read_text()}"
            time.sleep(0.1)
        assert helpers.get(port, "/v2/health/live").status == 200
        os.killpg(p.pid, signal.SIGINT)
        p.wait(timeout=30 * helpers.SLOW)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    text = out_path.read_text(errors="replace")
    # The server heard one signal (no "SIGINT again"/"SIGTERM again: still finishing") and
    # stopped; make reported no failed recipe ("make: *** [...] Error 130").
    assert text.count("SIGINT: no new connections") == 1, text
    assert "again" not in text and "SIGTERM" not in text, text
    assert "stopped" in text, text
    assert "Error" not in text and "***" not in text, text
    helpers.check_sanitizer_clean(text)
