#!/usr/bin/env python3
"""Run the whole test suite as parallel pytest shards, one per core (what `make test` calls).

Most of the suite waits — on the broker, on PostgreSQL, on service processes starting — so one pytest
process leaves a core idle. Each shard is a whole pytest run over its own share of the test FILES (a
file never splits, so module fixtures stay shared), with its own RabbitMQ vhost, database prefix and
preferred ports, so two shards never take each other's messages, rows or ports:

    shard k: CUSTOPS_TEST_VHOST=<base>_s<k>, CUSTOPS_DB_PREFIX=<base>s<k>_, the e2e ones likewise,
             CUSTOPS_TEST_PORT_OFFSET=<k * 1000> (tests/harness.py free_port)

Files are dealt out longest first (LPT) by the durations recorded in `tests/durations.json`; a file
not in it counts as DEFAULT_SECONDS. `--record` rewrites that file from the shards' JUnit reports.

A broker we do not administer (AMQP_URI on another host, or no rabbitmqctl) cannot be given a vhost
per shard, so the suite then runs as one shard. CUSTOPS_TEST_SHARDS overrides the count; 1 is the
plain serial run. The exit status is non-zero when any shard fails; every shard's output is printed
whole when it ends (and kept under var/test-logs/).
"""
from __future__ import annotations

import argparse
import configparser
import json
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
DURATIONS = ROOT / "tests" / "durations.json"
LOG_DIR = ROOT / "var" / "test-logs"
DEFAULT_SECONDS = 5.0
HEARTBEAT_SECONDS = 120


def test_files() -> list[str]:
    """Every file pytest would collect, from pytest.ini's testpaths and python_files."""
    ini = configparser.ConfigParser()
    ini.read(ROOT / "pytest.ini")
    paths = ini.get("pytest", "testpaths").split()
    pattern = ini.get("pytest", "python_files", fallback="test_*.py").split()[0]
    found = set()
    for base in paths:
        for path in (ROOT / base).rglob(pattern):
            if ".venv" not in path.parts and "node_modules" not in path.parts:
                found.add(path.relative_to(ROOT).as_posix())
    return sorted(found)


def deal(files: list[str], durations: dict[str, float], shards: int) -> list[list[str]]:
    """Longest first onto the least loaded shard: within 4/3 of the best split, and stable."""
    loads = [0.0] * shards
    out: list[list[str]] = [[] for _ in range(shards)]
    for name in sorted(files, key=lambda f: (-durations.get(f, DEFAULT_SECONDS), f)):
        k = loads.index(min(loads))
        out[k].append(name)
        loads[k] += durations.get(name, DEFAULT_SECONDS)
    return [sorted(group) for group in out]


def own_broker() -> bool:
    """True when each shard can have a vhost of its own (conftest.py makes it with rabbitmqctl)."""
    uri = os.environ.get("AMQP_URI")
    if uri and urlsplit(uri).hostname not in ("127.0.0.1", "localhost", "::1"):
        return False
    if uri:  # a local broker given by URI: conftest.py uses it as it is, vhost and all
        return False
    return bool(shutil.which("rabbitmqctl") or shutil.which("rabbitmqctl", path="/usr/sbin:/sbin"))


def shard_env(k: int) -> dict[str, str]:
    env = dict(os.environ)
    vhost = env.get("CUSTOPS_TEST_VHOST", "custops_test")
    prefix = env.get("CUSTOPS_DB_PREFIX", "custops_test_")
    e2e_vhost = env.get("CUSTOPS_E2E_VHOST", "custops_e2e")
    e2e_prefix = env.get("CUSTOPS_E2E_DB_PREFIX", "custops_e2e_")
    env.update({
        "CUSTOPS_TEST_VHOST": f"{vhost}_s{k}",
        "CUSTOPS_DB_PREFIX": f"{prefix}s{k}_",
        "CUSTOPS_E2E_VHOST": f"{e2e_vhost}_s{k}",
        "CUSTOPS_E2E_DB_PREFIX": f"{e2e_prefix}s{k}_",
        "CUSTOPS_TEST_PORT_OFFSET": str(k * 1000),
    })
    return env


def record(reports: list[Path]) -> None:
    """tests/durations.json from JUnit reports: seconds per test file (setup + call + teardown)."""
    per_file: dict[str, float] = {}
    for report in reports:
        for case in ET.parse(report).getroot().iter("testcase"):
            # classname is the dotted module path under --import-mode=importlib, e.g. gateway.tests.test_x
            parts = case.get("classname", "").split(".")
            while parts:
                candidate = "/".join(parts) + ".py"
                if (ROOT / candidate).exists():
                    per_file[candidate] = per_file.get(candidate, 0.0) + float(case.get("time") or 0)
                    break
                parts.pop()
    if per_file:
        DURATIONS.write_text(json.dumps({k: round(v, 1) for k, v in sorted(per_file.items())}, indent=1) + "\n")
        total = sum(per_file.values())
        print(f"run_tests: recorded {len(per_file)} files, {total:.0f} s, in {DURATIONS.relative_to(ROOT)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shards", type=int, default=None,
                        help="default: CUSTOPS_TEST_SHARDS or the core count (at most 2)")
    parser.add_argument("--record", action="store_true", help="rewrite tests/durations.json from this run")
    parser.add_argument("--dry-run", action="store_true", help="print the shards and their expected seconds")
    args, args.pytest_args = parser.parse_known_args(argv)  # the rest goes to every shard's pytest

    shards = args.shards or int(os.environ.get("CUSTOPS_TEST_SHARDS") or min(2, os.cpu_count() or 1))
    if shards > 1 and not own_broker():
        print("run_tests: the broker is not ours to add vhosts to (AMQP_URI given or no rabbitmqctl): one shard")
        shards = 1
    durations = json.loads(DURATIONS.read_text()) if DURATIONS.exists() else {}
    groups = deal(test_files(), durations, shards) if shards > 1 else [[]]
    if args.dry_run:
        for k, group in enumerate(groups, 1):
            print(f"shard {k}: {len(group)} files, ~{sum(durations.get(f, DEFAULT_SECONDS) for f in group):.0f} s")
        return 0

    LOG_DIR.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    running = []
    for k, group in enumerate(groups, 1):
        junit = LOG_DIR / f"shard-{k}.xml"
        log = LOG_DIR / f"shard-{k}.log"
        cmd = [sys.executable, "-m", "pytest", f"--junitxml={junit}", *args.pytest_args, *group]
        env = shard_env(k) if shards > 1 else dict(os.environ)
        out = log.open("w")
        running.append((k, subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT),
                        log, junit, out, len(group)))
        print(f"run_tests: shard {k}/{len(groups)}: {len(group) or 'all'} files -> {log.relative_to(ROOT)}", flush=True)

    codes = {}
    next_beat = time.monotonic() + HEARTBEAT_SECONDS
    try:
        while len(codes) < len(running):
            for k, proc, log, _junit, out, _n in running:
                if k not in codes and proc.poll() is not None:
                    codes[k] = proc.returncode
                    out.close()
                    print(f"\n===== shard {k}: exit {proc.returncode} after {time.monotonic() - started:.0f} s =====")
                    print(log.read_text(errors="replace"), flush=True)
            if time.monotonic() >= next_beat and len(codes) < len(running):
                waiting = [str(k) for k, *_ in running if k not in codes]
                print(f"run_tests: {time.monotonic() - started:.0f} s, shard(s) {', '.join(waiting)} still running",
                      flush=True)
                next_beat += HEARTBEAT_SECONDS
            time.sleep(0.5)
    except KeyboardInterrupt:
        for _k, proc, *_ in running:
            proc.terminate()
        raise
    if args.record:
        record([junit for _k, _p, _l, junit, *_ in running if junit.exists()])
    failed = sorted(k for k, code in codes.items() if code != 0)
    print(f"run_tests: {len(running)} shard(s) in {time.monotonic() - started:.0f} s; "
          + (f"FAILED: shard(s) {', '.join(map(str, failed))}" if failed else "all passed"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
