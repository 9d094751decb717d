"""`custops tenant create` and `custops seed-demo`: the first owner of a tenant, over RPC to the
customers service (so an operator's machine needs only this library and the broker).

An owner's token is printed once, when the tenant is made; it is never printed again, and nothing
here can mint another for an existing tenant. The demo seed keeps the demo owner's token in
`var/demo.env` (mode 0600) the first time and shows that file's token on later runs; the customers
service checks it is still a live owner token of the demo tenant and refuses otherwise.
"""
from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

DEMO_ENV = Path("var") / "demo.env"


def _client():
    from custops.rpc import RpcClient

    return RpcClient(timeout=15)


def _refused(exc) -> int:
    print(f"error: {exc}", file=sys.stderr)
    for error in getattr(exc, "errors", None) or []:
        print(f"  {error.get('field')}: {error.get('message')}", file=sys.stderr)
    return 2


def _unreachable(exc) -> int:
    print(f"error: the customers service did not answer ({exc}); is it running on this AMQP_URI?", file=sys.stderr)
    return 1


def create_tenant(name: str, owner_email: str, owner_name: str | None, timezone: str | None) -> int:
    from custops.errors import EXPECTED, ServiceTimeout, ServiceUnavailable

    client = _client()
    try:
        created = client.call("customers", "create_tenant", name, owner_email, owner_name, timezone)
    except EXPECTED as exc:
        return _refused(exc)
    except (ServiceUnavailable, ServiceTimeout) as exc:
        return _unreachable(exc)
    finally:
        client.close()
    print(f"tenant {created['tenant_id']} created; owner member {created['member_id']} ({owner_email})")
    print("The owner's API token (shown this once; it is stored hashed, keep it safe):")
    print(f"CUSTOPS_TOKEN={created['token']}")
    return 0


def read_env_file(path: Path) -> dict[str, str]:
    """`KEY=value` lines (values shell-quoted or not); {} when the file is absent."""
    values = {}
    if path.exists():
        for line in path.read_text().splitlines():
            key, sep, value = line.strip().partition("=")
            if sep and not key.startswith("#"):
                parts = shlex.split(value) if value else [""]
                values[key] = parts[0] if parts else ""
    return values


def write_env_file(path: Path, values: dict[str, str]) -> None:
    """Written readable by its owner only: it holds an owner token."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write("".join(f"{k}={shlex.quote(v)}\n" for k, v in values.items()))
    os.chmod(path, 0o600)


def seed_demo(tenant: str, email: str, env_file: Path = DEMO_ENV) -> int:
    from custops.errors import EXPECTED, Conflict, ServiceTimeout, ServiceUnavailable

    known = read_env_file(env_file).get("CUSTOPS_TOKEN") or None
    client = _client()
    try:
        result = client.call("customers", "seed_demo_tenant", tenant, email, known)
    except Conflict as exc:
        print(f"error: {exc}.\n  {env_file} does not hold that token (deleted, or from another database). "
              f"Create a tenant of your own with `custops tenant create --name ... --owner-email ...`, "
              f"or start from empty demo databases.", file=sys.stderr)
        return 1
    except EXPECTED as exc:
        return _refused(exc)
    except (ServiceUnavailable, ServiceTimeout) as exc:
        return _unreachable(exc)
    finally:
        client.close()
    port = os.environ.get("CUSTOPS_GATEWAY_PORT", "8080")
    values = {"CUSTOPS_URL": f"http://127.0.0.1:{port}/api/v1", "CUSTOPS_TOKEN": result["token"]}
    write_env_file(env_file, values)
    for key, value in values.items():
        print(f"{key}={value}")
    return 0
