#!/usr/bin/env python3
"""Resident memory of every custops process at rest (issue 14: each service <= 120 MB RSS).

Starts the suite as the end-to-end tests do (tests/harness.py `Suite`: every deploy/Procfile process
on its own virtual host and databases), waits until all are ready and `--settle` seconds more, then
prints RSS and PSS (the private part plus a share of what forked processes share, e.g. gunicorn's
workers) of every OS process in each Procfile process's group, and the totals.

    .venv/bin/python tests/bench/memory.py                        # the Procfile as it is
    .venv/bin/python tests/bench/memory.py --standalone-relays    # each relay a process of its own

`--standalone-relays` runs the services with CUSTOPS_RELAY=standalone plus one `custops relay <name>`
process per service: the layout before in-process relays, to compare. Bounded (about a minute);
asserts nothing; stops everything it started.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/harness.py

import warnings  # noqa: E402

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

from harness import PROCFILE, ROOT, Suite  # noqa: E402

MB = 1024 * 1024


def group_pids(pgid: int) -> list[int]:
    """Every live process whose process group is `pgid` (the harness starts each entry in its own)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # state, ppid, pgrp
            pids.append(int(entry.name))
    return sorted(pids)


def memory_of(pid: int) -> tuple[int, int | None]:
    """(RSS, PSS) in bytes; PSS is None when smaps_rollup cannot be read."""
    rss = pss = None
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) * 1024
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                pss = int(line.split()[1]) * 1024
    except OSError:
        pass
    return rss or 0, pss


def command_of(pid: int) -> str:
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    words = [Path(w.decode()).name if i == 0 or w.startswith(b"/") else w.decode() for i, w in enumerate(argv) if w]
    return " ".join(words)[:70]


def measure(suite: Suite) -> list[tuple[str, int, str, int, int | None]]:
    rows = []
    for name, proc in suite.procs.items():
        if not proc.alive():
            raise SystemExit(f"{name} is not running\n" + suite.tail(name))
        for pid in group_pids(proc.popen.pid):
            rss, pss = memory_of(pid)
            rows.append((name, pid, command_of(pid), rss, pss))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procfile", type=Path, default=PROCFILE)
    parser.add_argument("--standalone-relays", action="store_true",
                        help="services with CUSTOPS_RELAY=standalone and a relay process each")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds at rest before measuring")
    args = parser.parse_args(argv)
    os.chdir(ROOT)

    extra_env = {"CUSTOPS_RELAY": "standalone"} if args.standalone_relays else {"CUSTOPS_RELAY": "inprocess"}
    suite = Suite(args.procfile, extra_env=extra_env)
    missing = suite.missing()
    if missing:
        raise SystemExit("the suite is not complete: " + "; ".join(missing))
    if args.standalone_relays:
        for proc in list(suite.procs.values()):
            if proc.kind == "service" and f"{proc.service}-relay" not in suite.procs:
                suite.add(f"{proc.service}-relay", f"custops relay {proc.service}")
    layout = "standalone relays" if args.standalone_relays else "as in the Procfile"
    print(f"RSS at rest, {len(suite.procs)} Procfile processes ({layout}; {args.procfile.relative_to(ROOT)})",
          flush=True)
    suite.setup_broker_and_databases()
    try:
        suite.start_all()
        time.sleep(args.settle)
        rows = measure(suite)
    finally:
        suite.stop_all()
        suite.dispose_engines()

    print(f"    {'process':<18} {'pid':>7}  {'RSS MB':>7} {'PSS MB':>7}  command")
    for name, pid, command, rss, pss in rows:
        pss_text = f"{pss / MB:7.1f}" if pss is not None else "      -"
        print(f"    {name:<18} {pid:>7}  {rss / MB:7.1f} {pss_text}  {command}")
    total_rss = sum(r[3] for r in rows)
    total_pss = sum(r[4] or 0 for r in rows)
    print(f"    {'total':<18} {len(rows):>7}  {total_rss / MB:7.1f} {total_pss / MB:7.1f}  "
          f"({len(rows)} OS processes)")
    services = [r for r in rows if suite.procs[r[0]].kind == "service"]
    if services:
        largest = max(services, key=lambda r: r[3])
        print(f"    largest service   {largest[0]}: {largest[3] / MB:.1f} MB RSS (goal <= 120 MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
