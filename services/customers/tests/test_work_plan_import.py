"""Importing Monday, ClickUp, Asana and Notion CSV exports (fixtures shaped like each tool's own: BOM,
group lines, repeated headers, subitems, multiple assignees, empty columns, epoch milliseconds, a
semicolon variant): the pure reader directly, and the import in the real customers service — a dry
run writes nothing, a re-run never doubles a task, every row it cannot take is named with its line."""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from custops.errors import InvalidInput
from customers.work_plan import imports

FIXTURES = Path(__file__).parent / "fixtures" / "imports"
EXPECTED = {  # file: (tool, delimiter, rows taken, lines refused)
    "monday.csv": ("monday", ",", 7, []), "clickup.csv": ("clickup", ",", 4, [6]),
    "asana.csv": ("asana", ",", 4, [6]), "notion.csv": ("notion", ",", 4, [6]),
    "asana_semicolon.csv": ("asana", ";", 2, []),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_tools_export_is_detected_and_read(name):
    parsed = imports.parse((FIXTURES / name).read_bytes())
    tool, delimiter, count, refused = EXPECTED[name]
    assert (parsed.tool, parsed.delimiter, len(parsed.rows)) == (tool, delimiter, count)
    assert [e.line for e in parsed.errors] == refused
    assert len({r.key for r in parsed.rows}) == len(parsed.rows)
    again = imports.parse((FIXTURES / name).read_bytes())
    assert [r.key for r in again.rows] == [r.key for r in parsed.rows]  # stable keys


def test_dates_statuses_and_people_as_each_tool_writes_them():
    clickup = {r.title: r for r in imports.parse((FIXTURES / "clickup.csv").read_bytes()).rows}
    assert str(clickup["Collect requirements"].start) == "2024-01-09" and clickup["Kickoff call"].estimate_hours == 1
    assert clickup["Collect requirements"].assignees == ["Ada Lovelace", "Grace Hopper"]
    assert clickup["Security review"].parent == "86a1b2c3e"
    monday = {r.title: r for r in imports.parse((FIXTURES / "monday.csv").read_bytes()).rows}
    assert monday["Configure SSO"].category == "blocked" and monday["Security review"].parent == "Collect requirements"
    assert monday["Configure SSO"].group == "Setup"
    notion = {r.title: r for r in imports.parse((FIXTURES / "notion.csv").read_bytes()).rows}
    assert (str(notion["Configure SSO"].start), str(notion["Configure SSO"].due)) == ("2024-01-15", "2024-01-17")
    assert imports.parse((FIXTURES / "asana_semicolon.csv").read_bytes()).rows[1].category == "done"
    with pytest.raises(imports.UnreadableExport):
        imports.parse(b"just,some,columns\n1,2,3\n")


@pytest.fixture
def tenant(new_tenant):
    return new_tenant(f"owner-{uuid.uuid4().hex[:8]}@import.example", "Olive Owner")


def test_importing_each_fixture_twice_gives_the_same_rows_once(rpc, tenant):
    t = tenant["tenant_id"]
    rpc.call("customers", "create_member", t, {"email": "ada@acme.example", "name": "Ada Lovelace", "role": "member"})
    customer = rpc.call("customers", "create_customer", t, {"name": "Acme", "tier": "smb"})
    for name, (tool, _, count, refused) in EXPECTED.items():
        project = rpc.call("customers", "create_project", t, customer["id"], {"name": f"from {name}"})
        text = (FIXTURES / name).read_text(encoding="utf-8-sig")
        dry = rpc.call("customers", "import_tasks", t, project["id"], {"csv": text})
        assert dry["dry_run"] and dry["tool"] == tool and len(dry["would_create"]) == count
        assert [e["line"] for e in dry["errors"]] == refused
        assert rpc.call("customers", "list_tasks", t, project["id"])["total"] == 0  # a dry run writes nothing
        first = rpc.call("customers", "import_tasks", t, project["id"], {"csv": text, "dry_run": False})
        second = rpc.call("customers", "import_tasks", t, project["id"], {"csv": text, "dry_run": False})
        assert (first["created"], second["created"], second["already_imported"]) == (count, 0, count)
        listed = rpc.call("customers", "list_tasks", t, project["id"], {}, 200)
        assert listed["total"] == count
    ada = rpc.call("customers", "list_members", t, {"q": "ada@acme"})["items"][0]
    asana = rpc.call("customers", "list_projects", t, {"customer_id": customer["id"]})["items"]
    asana_project = next(p for p in asana if p["name"] == "from asana.csv")
    kickoff = next(x for x in rpc.call("customers", "list_tasks", t, asana_project["id"], {})["items"]
                   if x["title"] == "Kickoff call")
    assert kickoff["assignee_id"] == ada["id"] and kickoff["category"] == "done"  # matched by e-mail
    with pytest.raises(InvalidInput):
        rpc.call("customers", "import_tasks", t, asana_project["id"], {"csv": "a,b\n1,2\n"})


def test_the_cli_imports_in_chunks_with_a_progress_bar_and_never_doubles(rpc, tenant, capsys, monkeypatch):
    from custops import import_command

    monkeypatch.setattr(import_command, "CHUNK_ROWS", 3)  # three calls for the seven rows
    t = tenant["tenant_id"]
    customer = rpc.call("customers", "create_customer", t, {"name": "Acme", "tier": "smb"})
    project = rpc.call("customers", "create_project", t, customer["id"], {"name": "from the CLI"})
    path = str(FIXTURES / "monday.csv")
    dry = import_command.run(t, project["id"], path, dry_run=True, rpc=rpc)
    assert (dry["tool"], dry["would_create"], dry["created"]) == ("monday", 7, 0)
    first = import_command.run(t, project["id"], path, rpc=rpc)
    again = import_command.run(t, project["id"], path, rpc=rpc)
    assert (first["created"], again["created"], again["already_imported"]) == (7, 0, 7)
    assert "importing" in capsys.readouterr().err  # the bar
    assert rpc.call("customers", "list_tasks", t, project["id"])["total"] == 7


def test_a_big_chunk_is_copied_in_with_every_field_and_a_concurrent_duplicate_is_a_conflict(rpc, tenant):
    """From `store.COPY_AT_LEAST` rows a chunk is written by COPY: the rows read back as an INSERT
    wrote them, and a row whose stable key another import wrote meanwhile is refused as a Conflict."""
    from sqlalchemy.exc import IntegrityError

    from custops import db
    from customers.work_plan import import_store, store

    rows = store.COPY_AT_LEAST + 50
    header = ("Task ID,Created At,Completed At,Last Modified,Name,Section/Column,Assignee,Assignee Email,"
              "Start Date,Due Date,Tags,Notes,Projects,Parent task,Blocked By (Dependencies),Blocking (Dependencies)")
    lines = [header] + [f"{1206311500000000 + i},2024-01-05,{'2024-01-09' if i % 5 == 0 else ''},2024-01-09,"
                        f"Task {i},Setup,,,2024-01-{1 + i % 28:02d},2024-02-{1 + i % 28:02d},,note {i},Acme,,,"
                        for i in range(rows)]
    text = "\n".join(lines) + "\n"
    t = tenant["tenant_id"]
    customer = rpc.call("customers", "create_customer", t, {"name": "Acme", "tier": "smb"})
    project = rpc.call("customers", "create_project", t, customer["id"], {"name": "big"})
    first = rpc.call("customers", "import_tasks", t, project["id"], {"csv": text, "dry_run": False})
    assert first["created"] == rows
    listed, cursor = [], None
    for _ in range(5):  # pages of 200
        page = rpc.call("customers", "list_tasks", t, project["id"], {}, 200, cursor)
        listed += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(listed) == rows
    task = next(x for x in listed if x["title"] == "Task 7")
    assert (task["start_date"], task["due_date"], task["category"]) == ("2024-01-08", "2024-02-08", "todo")
    assert task["checklist"] == [] and task["description"] == "note 7"
    assert sum(1 for x in listed if x["category"] == "done") == rows // 5
    assert rpc.call("customers", "import_tasks", t, project["id"], {"csv": text, "dry_run": False})["created"] == 0

    # the same rows written again behind the look-up's back (as a concurrent import would): refused
    with pytest.raises(IntegrityError):
        with db.transaction(db.engine_for("customers"), "customers") as session:
            project_row = store.load_project(session, uuid.UUID(t), uuid.UUID(project["id"]))
            parsed = import_store.read_export(text.encode())
            store.insert_tasks(session, uuid.UUID(t), project_row, [
                {"title": r.title, "position": i, "import_key": r.key} for i, r in enumerate(parsed.rows)])
