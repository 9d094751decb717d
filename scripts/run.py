#!/usr/bin/env python3
"""`make run`: start every process in deploy/Procfile, wait for the gateway, seed the demo tenant (and,
with dovecot installed, give it a demo mailbox on loopback: scripts/demo_mail.py).

Each Procfile line (`name: command`) runs as its own OS process in its own process group, through
`bash -c "exec <command>"` so ${VAR:-default} expands. Output lines are prefixed with the process
name.

It supervises like a process manager: a process that exits on its own is logged and restarted after
a backoff (1, 2, 4, 8, 16, then 30 s); only a crash loop — `CRASH_LOOP_EXITS` exits of one process
within `CRASH_LOOP_SECONDS` — stops the suite (exit code 1), saying which process and its last exit
code. Ctrl-C / SIGTERM stops everything started here (SIGTERM, then SIGKILL after 10 s). Signals only
set a flag, so a second one (a second Ctrl-C, or make passing on the SIGTERM a process manager sent
to the whole group) arriving at any moment, shutdown included, cannot interrupt the shutdown and
leave processes behind.
"""
from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
from collections import deque
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROCFILE = Path(os.environ.get("CUSTOPS_PROCFILE", ROOT / "deploy" / "Procfile"))
VENV_BIN = ROOT / ".venv" / "bin"
# where the demo owner's token is kept, and the demo tenant's name (tests give their own: the token is
# handed out once per tenant, and a test must not touch a developer's var/demo.env)
DEMO_ENV = Path(os.environ.get("CUSTOPS_DEMO_ENV") or ROOT / "var" / "demo.env")
DEMO_TENANT = os.environ.get("CUSTOPS_DEMO_TENANT") or "Demo Co"
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
RESTART_BACKOFF = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)  # seconds before the 1st, 2nd, ... restart
CRASH_LOOP_EXITS = 5
CRASH_LOOP_SECONDS = 60.0
COLORS = [36, 33, 32, 35, 34, 31, 96, 93, 92, 95, 94, 91]

_print_lock = threading.Lock()
_color = sys.stdout.isatty()


def say(name: str, line: str, width: int = 0, color: int = 0) -> None:
    prefix = f"{time.strftime('%H:%M:%S')} {name:<{width}} | "
    if _color and color:
        prefix = f"\033[{color}m{prefix}\033[0m"
    with _print_lock:
        sys.stdout.write(prefix + line.rstrip("\n") + "\n")
        sys.stdout.flush()


class Supervisor:
    def __init__(self, entries: list[tuple[str, str]], env: dict[str, str]):
        self.entries = entries
        self.env = env
        self.width = max([len(n) for n, _ in entries] + [len("seed-demo")])
        self.procs: dict[str, subprocess.Popen] = {}
        self.colors = {name: COLORS[i % len(COLORS)] for i, (name, _) in enumerate(entries)}
        self.stopping = False
        self.exits: dict[str, deque[float]] = {}  # recent exit times per process (crash-loop window)
        self.restarts: dict[str, int] = {}
        self.restart_at: dict[str, float] = {}  # process -> when its pending restart is due

    def log(self, line: str) -> None:
        say("run", line, self.width, 1)

    def start(self) -> None:
        for name, command in self.entries:
            self._spawn(name, command)

    def _spawn(self, name: str, command: str) -> None:
        proc = subprocess.Popen(
            ["bash", "-c", "exec " + command],
            cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            process_group=0,  # own group: the terminal's Ctrl-C reaches us only; we stop them
            bufsize=1, text=True, errors="replace",
        )
        self.procs[name] = proc
        self.log(f"started {name} (pid {proc.pid}): {command}")
        threading.Thread(target=self._pump, args=(name, proc), daemon=True).start()

    def supervise(self) -> None:
        """Restart what exited on its own (after its backoff); CrashLoop when one keeps exiting."""
        now = time.monotonic()
        commands = dict(self.entries)
        for name, proc in list(self.procs.items()):
            if self.stopping or proc.poll() is None:
                continue
            if name not in self.restart_at:  # a new exit
                exits = self.exits.setdefault(name, deque(maxlen=CRASH_LOOP_EXITS))
                exits.append(now)
                if len(exits) == CRASH_LOOP_EXITS and now - exits[0] <= CRASH_LOOP_SECONDS:
                    raise CrashLoop(f"{name} exited {CRASH_LOOP_EXITS} times within {CRASH_LOOP_SECONDS:.0f}s "
                                    f"(last exit code {proc.returncode}); see its lines above")
                delay = RESTART_BACKOFF[min(self.restarts.get(name, 0), len(RESTART_BACKOFF) - 1)]
                self.restart_at[name] = now + delay
                self.log(f"{name} exited unexpectedly (exit code {proc.returncode}); restarting in {delay:.0f}s")
            elif now >= self.restart_at[name]:
                del self.restart_at[name]
                self.restarts[name] = self.restarts.get(name, 0) + 1
                self.log(f"restarting {name} (restart {self.restarts[name]})")
                self._spawn(name, commands[name])

    def _pump(self, name: str, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            say(name, line, self.width, self.colors[name])

    def _signal_all(self, sig: int) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    pass

    def stop(self) -> None:
        if not self.procs:
            return
        self.stopping = True
        alive = [n for n, p in self.procs.items() if p.poll() is None]
        if alive:
            self.log(f"stopping {len(alive)} processes (SIGTERM)")
        self._signal_all(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline and any(p.poll() is None for p in self.procs.values()):
            time.sleep(0.1)
        left = [n for n, p in self.procs.items() if p.poll() is None]
        if left:
            self.log(f"still running after {STOP_TIMEOUT:.0f}s, SIGKILL: {', '.join(left)}")
        # also reaps leftovers in the groups (e.g. gunicorn workers) whose leader already exited
        for proc in self.procs.values():
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait()
        self.log("all stopped")


class CrashLoop(Exception):
    pass


class Interrupted(Exception):
    pass


class StopRequest:
    """The signal handler: it records the first SIGINT/SIGTERM and never raises, so no signal can
    land inside the shutdown and cut it short. The main loop polls `requested`."""

    def __init__(self):
        self.signal_name: str | None = None

    def __call__(self, signum, frame):
        if self.signal_name is None:
            self.signal_name = signal.Signals(signum).name

    @property
    def requested(self) -> bool:
        return self.signal_name is not None

    def check(self) -> None:
        if self.requested:
            raise Interrupted(self.signal_name)


def port_in_use(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def wait_ready(sup: Supervisor, stop: StopRequest, url: str) -> None:
    sup.log(f"waiting for {url} (up to {READY_TIMEOUT:.0f}s)")
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        stop.check()
        sup.supervise()
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{url} did not answer 200 within {READY_TIMEOUT:.0f}s")
        time.sleep(0.5)


def seed_demo(sup: Supervisor, stop: StopRequest) -> dict[str, str]:
    sup.log("seeding the demo tenant (custops seed-demo)")
    seeding = subprocess.Popen([str(VENV_BIN / "custops"), "seed-demo", "--tenant", DEMO_TENANT,
                                "--env-file", str(DEMO_ENV)], cwd=ROOT, env=sup.env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while seeding.poll() is None:  # polled, so that Ctrl-C meanwhile stops at once
        if stop.requested or time.monotonic() > deadline:
            seeding.kill()
            seeding.wait()
            stop.check()
            raise SystemExit("custops seed-demo did not finish within 120s")
        sup.supervise()
        time.sleep(0.2)
    stdout, stderr = seeding.communicate()
    result = subprocess.CompletedProcess(seeding.args, seeding.returncode, stdout, stderr)
    for line in result.stderr.splitlines():
        say("seed-demo", line, sup.width)
    values = {}
    for line in result.stdout.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key in ("CUSTOPS_URL", "CUSTOPS_TOKEN"):
            values[key] = value
        else:
            say("seed-demo", line, sup.width)
    if result.returncode != 0 or len(values) != 2:
        raise SystemExit(f"custops seed-demo failed (exit code {result.returncode}, "
                         f"got {sorted(values)} of CUSTOPS_URL, CUSTOPS_TOKEN)")
    return values


def announce(values: dict[str, str]) -> None:
    DEMO_ENV.parent.mkdir(parents=True, exist_ok=True)
    DEMO_ENV.write_text("".join(f"{k}={shlex.quote(v)}\n" for k, v in values.items()))
    bar = "=" * 72
    with _print_lock:
        print(f"\n{bar}\n  custops is running. Demo tenant:\n")
        for key, value in values.items():
            print(f"  {key}={value}")
        shown = DEMO_ENV.relative_to(ROOT) if DEMO_ENV.is_relative_to(ROOT) else DEMO_ENV
        print(f"\n  (also in {shown}: `. {shown}`)"
              f"  Ctrl-C stops everything.\n{bar}\n", flush=True)


def main() -> int:
    from custops.procfile import parse_procfile

    try:
        entries = parse_procfile(PROCFILE)
    except ValueError as exc:
        sys.exit(str(exc))
    port = int(os.environ.get("CUSTOPS_GATEWAY_PORT", "8080"))
    if port_in_use(port):
        print(f"run: port {port} is already in use (another `make run`?); "
              f"stop it or set CUSTOPS_GATEWAY_PORT", file=sys.stderr)
        return 1

    env = dict(os.environ, PYTHONUNBUFFERED="1", VIRTUAL_ENV=str(VENV_BIN.parent))
    env["PATH"] = os.pathsep.join([str(VENV_BIN), env.get("PATH", os.defpath)])
    sup = Supervisor(entries, env)

    stop = StopRequest()
    demo_mail = None
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        sup.start()
        wait_ready(sup, stop, f"http://127.0.0.1:{port}/readyz")
        values = seed_demo(sup, stop)
        announce(values)
        if any(name == "mailsync" for name, _ in entries):  # a demo mailbox, with dovecot (scripts/demo_mail.py)
            sys.path.insert(0, str(ROOT / "scripts"))
            import demo_mail as demo_mail_module

            demo_mail = demo_mail_module.start(values["CUSTOPS_URL"], values["CUSTOPS_TOKEN"], sup.log)
        while not stop.requested:
            sup.supervise()
            time.sleep(0.5)
        raise Interrupted(stop.signal_name)
    except Interrupted as exc:
        sup.log(f"{exc}: shutting down")
        return 0
    except CrashLoop as exc:
        sup.log(f"ERROR: {exc}; shutting everything down")
        return 1
    except SystemExit as exc:
        if isinstance(exc.code, str):
            sup.log(f"ERROR: {exc.code}; shutting everything down")
            return 1
        raise
    finally:
        if demo_mail is not None:
            demo_mail.stop()
        sup.stop()  # signals arriving now only set the flag again: the stop runs to its end

if __name__ == "__main__":
    sys.exit(main())
