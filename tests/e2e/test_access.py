"""A team set up from nothing, end to end: `custops tenant create` → the owner's token → an admin and a
member invited → tokens issued → `/me` → a revoked token refused by two gateway processes (two
workers each) within a second → a deactivated member's every token refused → the last owner kept.
And the demo seed never hands out a new owner token."""
from __future__ import annotations

import subprocess
import time
import uuid

import requests

from harness import PROCFILE, ROOT, VENV_BIN, Api, eventually, free_port, problem

WITHIN = 1.0  # seconds from a revocation to every gateway process refusing the token
WARM_REQUESTS = 16  # each on a new connection, so both workers of a gateway cache the login


def _custops(suite, *args) -> subprocess.CompletedProcess:
    return subprocess.run([str(VENV_BIN / "custops"), *args], cwd=ROOT, env=suite.env, capture_output=True,
                          text=True, timeout=60)


def _second_gateway(suite) -> str:
    """Another gunicorn gateway (the Procfile's command, on a port of its own); its base URL."""
    from custops.procfile import parse_procfile

    command = dict(parse_procfile(PROCFILE))["gateway"]
    port = free_port()
    suite.add("gateway-b", command, extra_env={"CUSTOPS_GATEWAY_PORT": str(port)},
              ready_url=f"http://127.0.0.1:{port}/readyz")
    suite.start("gateway-b")
    return f"http://127.0.0.1:{port}"


def _statuses(urls: list[str], token: str, n: int) -> list[int]:
    """`n` GET /me per gateway, each on a new connection (so the kernel spreads them over workers)."""
    headers = {"Authorization": f"Bearer {token}", "Connection": "close"}
    return [requests.get(f"{url}/api/v1/me", headers=headers, timeout=10).status_code
            for url in urls for _ in range(n)]


def _refused_everywhere_within(urls: list[str], token: str) -> float:
    started = time.monotonic()
    while True:
        statuses = _statuses(urls, token, 6)
        elapsed = time.monotonic() - started
        if set(statuses) == {401}:
            return elapsed
        assert elapsed < WITHIN, f"still accepted {WITHIN}s after: {statuses}"
        time.sleep(0.02)


def test_a_team_is_set_up_by_cli_and_api_and_revocation_reaches_every_gateway(suite):
    suffix = uuid.uuid4().hex[:8]
    made = _custops(suite, "tenant", "create", "--name", f"Team {suffix}", "--owner-email",
                    f"Olive-{suffix}@Team.Example", "--owner-name", "Olive", "--timezone", "Europe/Berlin")
    assert made.returncode == 0, made.stderr
    [owner_token] = [line.split("=", 1)[1] for line in made.stdout.splitlines() if line.startswith("CUSTOPS_TOKEN=")]
    owner = suite.api(owner_token)
    me = owner.get("/api/v1/me").json()
    assert (me["role"], me["name"], me["email"], me["tenant"]["name"]) == (
        "owner", "Olive", f"olive-{suffix}@team.example", f"Team {suffix}")
    assert "members:write" in me["permissions"] and "billing:write" in me["permissions"]
    refused = _custops(suite, "tenant", "create", "--name", "Bad", "--owner-email", "nobody", "--timezone", "Mars/Base")
    assert refused.returncode == 2 and "CUSTOPS_TOKEN" not in refused.stdout and "timezone" in refused.stderr

    settings = owner.patch("/api/v1/tenant", json={"locale": "de-ch", "week_start": "sunday"})
    assert settings.status_code == 200, settings.text
    assert (settings.json()["timezone"], settings.json()["locale"], settings.json()["week_start"]) == (
        "Europe/Berlin", "de-CH", "sunday")
    problem(owner.patch("/api/v1/tenant", json={"locale": "Deutsch (Schweiz)"}), 422)

    def invite(api, role, name):
        response = api.post("/api/v1/members", json={"email": f"{name}-{suffix}@team.example", "name": name,
                                                      "role": role})
        assert response.status_code == 201, response.text
        return response.json()

    admin = invite(owner, "admin", "ada")
    problem(owner.post("/api/v1/members", json={"email": f"ada-{suffix}@team.example", "name": "Ada 2",
                                                "role": "member"}), 409)
    problem(owner.post("/api/v1/members", json={"email": "x@team.example", "name": "X", "role": "superuser"}), 422)
    admin_api = suite.api(owner.post(f"/api/v1/members/{admin['id']}/tokens", json={"name": "ada"}).json()["token"])
    member = invite(admin_api, "member", "max")  # an admin invites members ...
    problem(admin_api.post("/api/v1/members", json={"email": f"o2-{suffix}@team.example", "name": "O2",
                                                    "role": "owner"}), 403)  # ... but no owners
    problem(admin_api.patch(f"/api/v1/members/{me['id']}", json={"role": "admin"}), 403)

    issued = admin_api.post(f"/api/v1/members/{member['id']}/tokens", json={"name": "laptop"})
    assert issued.status_code == 201, issued.text
    member_api = suite.api(issued.json()["token"])
    seen = member_api.get("/api/v1/me").json()
    assert (seen["id"], seen["role"], seen["tenant"]["id"]) == (member["id"], "member", me["tenant"]["id"])
    assert "members:write" not in seen["permissions"] and "tickets:write" in seen["permissions"]
    problem(member_api.post("/api/v1/members", json={"email": "y@team.example", "name": "Y", "role": "member"}), 403)

    # a member's own tokens: a second one, read-only; reading works, writing does not
    own = member_api.post("/api/v1/me/tokens", json={"name": "ci", "read_only": True})
    assert own.status_code == 201, own.text
    read_only = suite.api(own.json()["token"])
    assert read_only.get("/api/v1/customers").status_code == 200
    problem(read_only.post("/api/v1/customers", json={"name": "Acme", "tier": "smb"}), 403)
    listed = member_api.get("/api/v1/me/tokens").json()
    assert listed["total"] == 2 and {t["name"] for t in listed["items"]} == {"laptop", "ci"}
    assert all("token" not in t and issued.json()["token"] not in str(t) for t in listed["items"])
    assert any(t["last_used_at"] for t in listed["items"])

    # revocation reaches two gateway processes, two workers each, within a second
    urls = [suite.url, _second_gateway(suite)]
    try:
        ci_token = own.json()["token"]
        assert set(_statuses(urls, ci_token, WARM_REQUESTS)) == {200}  # cached in every worker now
        assert member_api.delete(f"/api/v1/tokens/{own.json()['id']}").status_code == 200
        print(f"revoked token refused by every gateway worker after {_refused_everywhere_within(urls, ci_token):.3f}s")
        assert set(_statuses(urls, issued.json()["token"], 4)) == {200}  # the member's other token lives on

        # deactivating the member: all their tokens stop at once
        again = admin_api.post(f"/api/v1/members/{member['id']}/tokens", json={"name": "phone"}).json()["token"]
        assert set(_statuses(urls, again, WARM_REQUESTS)) == {200}
        gone = admin_api.post(f"/api/v1/members/{member['id']}/deactivate")
        assert gone.status_code == 200 and gone.json()["active"] is False
        elapsed = _refused_everywhere_within(urls, again)
        print(f"deactivated member refused by every gateway worker after {elapsed:.3f}s")
        assert set(_statuses(urls, issued.json()["token"], 4)) == {401}
    finally:
        suite.stop("gateway-b")
    listed = owner.get("/api/v1/members", params={"active": "false"}).json()
    assert [m["id"] for m in listed["items"]] == [member["id"]] and listed["total"] == 1

    # the last active owner can be neither demoted nor deactivated; a second owner makes it possible
    problem(owner.patch(f"/api/v1/members/{me['id']}", json={"role": "admin"}), 409)
    problem(owner.post(f"/api/v1/members/{me['id']}/deactivate"), 409)
    promoted = owner.patch(f"/api/v1/members/{admin['id']}", json={"role": "owner"})
    assert promoted.status_code == 200 and promoted.json()["role"] == "owner"
    assert owner.patch(f"/api/v1/members/{me['id']}", json={"role": "admin"}).json()["role"] == "admin"
    problem(admin_api.post(f"/api/v1/members/{admin['id']}/deactivate"), 409)  # now Ada is the last one
    problem(Api(suite.url, "cst_" + "x" * 43).get("/api/v1/me"), 401)

    # every access event told was taken (none unroutable) and published
    def all_sent():
        rows = suite.query("customers", "SELECT type, status FROM outbox WHERE tenant_id = :t AND status <> 'sent'",
                           t=uuid.UUID(me["tenant"]["id"]))
        assert rows == [], rows
        return True

    eventually(all_sent, 15, "every customers event of the tenant sent")


def test_the_demo_seed_hands_out_its_owner_token_once(suite, tmp_path):
    env_file = tmp_path / "demo.env"
    name = f"Demo {uuid.uuid4().hex[:8]}"
    first = _custops(suite, "seed-demo", "--tenant", name, "--env-file", str(env_file))
    assert first.returncode == 0, first.stderr
    assert oct(env_file.stat().st_mode & 0o777) == "0o600"
    token = dict(line.split("=", 1) for line in first.stdout.splitlines())["CUSTOPS_TOKEN"]
    assert suite.api(token).get("/api/v1/me").json()["role"] == "owner"
    again = _custops(suite, "seed-demo", "--tenant", name, "--env-file", str(env_file))
    assert again.returncode == 0 and again.stdout == first.stdout  # the same token, from the file
    env_file.unlink()
    asked = _custops(suite, "seed-demo", "--tenant", name, "--env-file", str(env_file))
    assert asked.returncode == 1 and "CUSTOPS_TOKEN" not in asked.stdout and not env_file.exists()
    tokens = suite.api(token).get("/api/v1/me/tokens").json()
    assert tokens["total"] == 1  # no second owner token was made
