#!/usr/bin/env python3
"""`make run`: start every process in deploy/Procfile, wait for the gateway, seed the demo tenant.

Each Procfile line (`name: command`) runs as its own OS process in its own process group, through
`bash -c "exec <command>"` so ${VAR:-default} expands. Output lines are prefixed with the process
name. Ctrl-C / SIGTERM stops everything started here (SIGTERM, then SIGKILL after 10 s); if any
process dies on its own, it is reported and everything is shut down with a non-zero exit.
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
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROCFILE = Path(os.environ.get("CUSTOPS_PROCFILE", ROOT / "deploy" / "Procfile"))
VENV_BIN = ROOT / ".venv" / "bin"
DEMO_ENV = ROOT / "var" / "demo.env"
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
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

    def log(self, line: str) -> None:
        say("run", line, self.width, 1)

    def start(self) -> None:
        for name, command in self.entries:
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

    def _pump(self, name: str, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            say(name, line, self.width, self.colors[name])

    def dead(self) -> list[tuple[str, int]]:
        return [(n, p.returncode) for n, p in self.procs.items() if p.poll() is not None]

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


class Interrupted(Exception):
    pass


def _on_signal(signum, frame):
    raise Interrupted(signal.Signals(signum).name)


def port_in_use(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def wait_ready(sup: Supervisor, url: str) -> None:
    sup.log(f"waiting for {url} (up to {READY_TIMEOUT:.0f}s)")
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        check_children(sup)
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{url} did not answer 200 within {READY_TIMEOUT:.0f}s")
        time.sleep(0.5)


def check_children(sup: Supervisor) -> None:
    dead = sup.dead()
    if dead:
        raise SystemExit("unexpected exit: " + ", ".join(f"{n} (exit code {rc})" for n, rc in dead))


def seed_demo(sup: Supervisor) -> dict[str, str]:
    sup.log("seeding the demo tenant (custops seed-demo)")
    result = subprocess.run([str(VENV_BIN / "custops"), "seed-demo"], cwd=ROOT, env=sup.env,
                            capture_output=True, text=True, timeout=120)
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
        print(f"\n  (also in {DEMO_ENV.relative_to(ROOT)}: `. {DEMO_ENV.relative_to(ROOT)}`)"
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

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    try:
        sup.start()
        wait_ready(sup, f"http://127.0.0.1:{port}/readyz")
        announce(seed_demo(sup))
        while True:
            check_children(sup)
            time.sleep(0.5)
    except Interrupted as exc:
        sup.log(f"{exc}: shutting down")
        return 0
    except SystemExit as exc:
        if isinstance(exc.code, str):
            sup.log(f"ERROR: {exc.code}; shutting everything down")
            return 1
        raise
    finally:
        # a second Ctrl-C during shutdown must not leave orphans: ignore it, we are stopping anyway
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        sup.stop()


if __name__ == "__main__":
    sys.exit(main())
