"""`make run`'s launcher (scripts/run.py) as a process manager: it stops everything it started
however the signals arrive, restarts a process that died, and stops the suite on a crash loop.

Each test runs scripts/run.py on a small Procfile of real processes (customers, its relay, the
gateway) against the end-to-end suite's broker vhost and databases, on free ports; every process it
starts carries a marker in its environment, so a process left behind is found whatever its pid.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from harness import ROOT, VENV_BIN, eventually, free_port

RUN_PY = ROOT / "scripts" / "run.py"
STARTED = re.compile(r"started (?P<name>\S+) \(pid (?P<pid>\d+)\)")


class Launcher:
    def __init__(self, suite, tmp_path: Path, extra_entries: str = ""):
        self.marker = uuid.uuid4().hex
        self.gateway_port = free_port()
        procfile = tmp_path / "Procfile"
        procfile.write_text(
            f"customers: env CUSTOPS_HTTP_PORT={free_port()} custops service customers\n"
            f"customers-relay: env CUSTOPS_RELAY_PORT={free_port()} custops relay customers\n"
            f"gateway: gunicorn --no-control-socket --pythonpath gateway -k gthread -w 2 --threads 2 "
            f"-b 127.0.0.1:{self.gateway_port} 'gateway.app:create_app()'\n" + extra_entries)
        env = dict(suite.env, CUSTOPS_PROCFILE=str(procfile), CUSTOPS_GATEWAY_PORT=str(self.gateway_port),
                   CUSTOPS_RUN_TEST_MARKER=self.marker,
                   # a tenant of its own (the suite's databases outlive runs; a demo tenant's owner token is
                   # handed out once), its token kept here, never in the checkout's var/demo.env
                   CUSTOPS_DEMO_TENANT=f"Run test {self.marker[:12]}", CUSTOPS_DEMO_ENV=str(tmp_path / "demo.env"))
        self.proc = subprocess.Popen([str(VENV_BIN / "python"), str(RUN_PY)], cwd=ROOT, env=env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, process_group=0)
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            sys.stdout.write("run.py | " + line)

    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, text: str, timeout: float = 90.0) -> None:
        eventually(lambda: text in self.output() or self.proc.poll() is not None, timeout, f"run.py says {text!r}")
        assert text in self.output(), self.output()[-3000:]

    def pids(self, name: str) -> list[int]:
        return [int(m.group("pid")) for m in STARTED.finditer(self.output()) if m.group("name") == name]

    def signal_group(self, sig: int) -> None:
        os.killpg(self.proc.pid, sig)  # what a process manager (or make's job control) sends

    def left_behind(self) -> list[str]:
        """Processes still alive (not zombies) that run.py started: they carry its marker."""
        found = []
        needle = f"CUSTOPS_RUN_TEST_MARKER={self.marker}".encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == self.proc.pid:
                continue
            try:
                if needle not in (entry / "environ").read_bytes().split(b"\0"):
                    continue
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")[:120]
                    found.append(f"{entry.name}: {command!r}")
            except OSError:  # gone meanwhile, or not ours to read
                continue
        return found

    def kill(self) -> None:
        """Cleanup after a failed test: nothing outlives it."""
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if f"CUSTOPS_RUN_TEST_MARKER={self.marker}".encode() in (entry / "environ").read_bytes():
                        os.kill(int(entry.name), signal.SIGKILL)
                except OSError:
                    pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def launch(suite, tmp_path):
    started = []

    def start(extra_entries: str = "") -> Launcher:
        launcher = Launcher(suite, tmp_path, extra_entries)
        started.append(launcher)
        return launcher

    yield start
    for launcher in started:
        launcher.kill()


@pytest.mark.parametrize("second_signal_after", [0.05, 1.5])
def test_a_second_sigterm_during_shutdown_leaves_no_process_behind(launch, second_signal_after):
    run = launch()
    run.wait_for("custops is running")
    assert run.pids("gateway") and run.pids("customers") and run.pids("customers-relay")
    assert run.left_behind(), "the marker finds the running processes"

    run.signal_group(signal.SIGTERM)
    time.sleep(second_signal_after)  # lands inside the shutdown (in or after the SIGTERM wait)
    if run.proc.poll() is None:
        run.signal_group(signal.SIGTERM)
    assert run.proc.wait(timeout=30) == 0, run.output()[-3000:]
    assert "all stopped" in run.output()
    eventually(lambda: not run.left_behind(), 5, "no process left behind")


def test_a_dead_process_is_restarted_and_a_crash_loop_stops_the_suite(launch):
    # `flaky` exits 1 s after each start: restarted after 1, 2, 4, 8 s, its 5th exit (~20 s after the
    # first start) is a crash loop
    run = launch("flaky: sh -c 'sleep 1; exit 3'\n")
    run.wait_for("custops is running")
    [relay_pid] = run.pids("customers-relay")
    os.kill(relay_pid, signal.SIGKILL)
    run.wait_for("customers-relay exited unexpectedly (exit code -9); restarting in 1s", timeout=10)
    eventually(lambda: len(run.pids("customers-relay")) == 2, 10, "the relay started again")
    assert run.proc.poll() is None, "one death does not stop the suite"

    assert run.proc.wait(timeout=60) == 1, run.output()[-3000:]
    assert "flaky exited 5 times within 60s (last exit code 3)" in run.output()
    assert "restarting flaky (restart 4)" in run.output()
    eventually(lambda: not run.left_behind(), 5, "no process left behind")
