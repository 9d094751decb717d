"""`custops` command: run a service or a relay, set up databases and queues, seed demo data,
generate the event catalog, inspect and replay dead letters, rebuild reports' read models."""
from __future__ import annotations

import argparse
import sys


def _setup(args) -> None:
    from kombu import Connection

    from custops import config, migrations, topology
    from custops.runtime import load_service_class

    import importlib.util

    services = args.services or list(config.SERVICES)
    missing = [s for s in services if importlib.util.find_spec(s) is None]
    for service in missing:
        print(f"{service}: not installed, skipped")
    services = [s for s in services if s not in missing]
    for service in services:
        created = migrations.create_database(service)
        migrations.upgrade(service)
        print(f"{service}: database {config.database_name(service)} {'created and ' if created else ''}migrated")
    with Connection(config.amqp_uri()) as conn:
        for service in services:
            queues = topology.service_queues(load_service_class(service))
            topology.declare(conn, queues)
            print(f"{service}: {len(queues) // 2} event queues (+ dead-letter queues) declared")


def _seed_demo(args) -> int:
    from pathlib import Path

    from custops import tenant_commands

    return tenant_commands.seed_demo(args.tenant, args.email, Path(args.env_file))


def _tenant(args) -> int:
    from custops import tenant_commands

    return tenant_commands.create_tenant(args.name, args.owner_email, args.owner_name, args.timezone)


def _catalog(args) -> int:
    from pathlib import Path

    from custops.catalog import render

    text = render()
    path = Path(args.output)
    if args.check:
        if not path.exists() or path.read_text() != text:
            print(f"{path} is out of date: run `custops catalog`", file=sys.stderr)
            return 1
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f"wrote {path}")
    return 0


def _dlq(args) -> None:
    import json

    from custops import deadletters

    if args.action == "list":
        for queue, count in deadletters.counts().items():
            print(f"{count:6d}  {queue}")
    elif args.action == "show":
        for item in deadletters.peek(args.queue):
            print(json.dumps(item))
    elif args.action == "replay":
        print(f"replayed {deadletters.replay(args.queue)} messages onto {args.queue}")


def main(argv=None) -> int:
    from custops.runtime import RELAY_MODES

    parser = argparse.ArgumentParser(prog="custops")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("service", help="run one service (nameko) in this process, with its outbox relay")
    p.add_argument("name")
    p.add_argument("--relay", choices=RELAY_MODES, default=None,
                   help="inprocess: relay this service's outbox in this process too (the default, "
                        "or CUSTOPS_RELAY); standalone: leave it to `custops relay` processes")
    p.add_argument("--batch-size", type=int, default=200, help="of the in-process relay")
    p = sub.add_parser("relay", help="run the outbox relay of one service")
    p.add_argument("name")
    p.add_argument("--batch-size", type=int, default=200)
    p = sub.add_parser("setup", help="create databases, migrate, declare every subscriber queue")
    p.add_argument("services", nargs="*")
    p = sub.add_parser("seed-demo", help="create the demo tenant and print its owner token")
    p.add_argument("--tenant", default="Demo Co")
    p.add_argument("--email", default="owner@demo.example")
    p.add_argument("--env-file", default="var/demo.env", help="keeps the demo owner's token (made once)")
    p = sub.add_parser("tenant", help="tenants: `tenant create` makes one and prints its owner's token once")
    p.add_argument("action", choices=["create"])
    p.add_argument("--name", required=True)
    p.add_argument("--owner-email", required=True)
    p.add_argument("--owner-name")
    p.add_argument("--timezone", help="IANA zone, e.g. Europe/Berlin (default UTC)")
    p = sub.add_parser("catalog", help="generate docs/events.md from the contracts")
    p.add_argument("--output", default="docs/events.md")
    p.add_argument("--check", action="store_true")
    p = sub.add_parser("import", help="import a Monday/ClickUp/Asana/Notion CSV export into a project")
    p.add_argument("csv_file")
    p.add_argument("--tenant", required=True, help="the tenant's id")
    p.add_argument("--project", required=True, help="the project's id")
    p.add_argument("--tool", choices=["monday", "clickup", "asana", "notion"], help="default: detected")
    p.add_argument("--map", action="append", default=[], metavar="FIELD=COLUMN", help="override a column")
    p.add_argument("--dry-run", action="store_true", help="report what would be created, write nothing")
    p = sub.add_parser("reports", help="reports: `reports rebuild` replays the event log into read models")
    p.add_argument("action", choices=["rebuild"])
    p.add_argument("--model", default="all", help="a read model's name (reports.replay.MODELS), or all")
    p.add_argument("--tenant", help="only this tenant's rows (its id)")
    p = sub.add_parser("dlq", help="dead-lettered events")
    p.add_argument("action", choices=["list", "show", "replay"])
    p.add_argument("queue", nargs="?")

    args = parser.parse_args(argv)
    if args.command == "service":
        from custops.runtime import run_service

        run_service(args.name, args.relay, args.batch_size)
    elif args.command == "relay":
        from custops.runtime import run_relay

        run_relay(args.name, args.batch_size)
    elif args.command == "setup":
        _setup(args)
    elif args.command == "seed-demo":
        return _seed_demo(args)
    elif args.command == "tenant":
        return _tenant(args)
    elif args.command == "catalog":
        return _catalog(args)
    elif args.command == "import":
        from custops import import_command

        mapping = dict(item.split("=", 1) for item in args.map if "=" in item)
        totals = import_command.run(args.tenant, args.project, args.csv_file, args.tool, mapping, args.dry_run)
        return 1 if totals["errors"] and not args.dry_run and not totals["created"] else 0
    elif args.command == "reports":
        from reports import replay

        return replay.command(args.model, args.tenant)
    elif args.command == "dlq":
        if args.action != "list" and not args.queue:
            parser.error("dlq show/replay need a queue name")
        _dlq(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
