"""`custops import`: a Monday, ClickUp, Asana or Notion CSV export into a project, with a progress bar.

An operator's command on the trusted side of the broker (like `custops tenant create`): it asks the
customers service (`import_tasks`, `customers.work_plan.import_store`) chunk by chunk, so the bar
moves as rows are taken and a big export is never one long transaction. `--dry-run` reports what would
be created and every row that cannot be taken, and writes nothing. Re-running never doubles a task.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

CHUNK_ROWS = 500


def run(tenant_id: str, project_id: str, path: str, tool: str | None = None, mapping: dict | None = None,
        dry_run: bool = False, rpc=None, out=sys.stdout) -> dict:
    """Import the file; returns the totals (`{tool, rows, created, would_create, already_imported, errors,
    warnings}`) it also prints."""
    from tqdm import tqdm

    from custops.rpc import RpcClient

    text = Path(path).read_bytes().decode("utf-8-sig", errors="replace")
    client = rpc or RpcClient(timeout=60)
    totals = {"tool": None, "rows": 0, "created": 0, "would_create": 0, "already_imported": 0, "errors": [],
              "warnings": []}
    try:
        offset, bar = 0, None
        while offset is not None:
            payload = {"csv": text, "dry_run": dry_run, "offset": offset, "limit": CHUNK_ROWS}
            if tool:
                payload["tool"] = tool
            if mapping:
                payload["mapping"] = mapping
            page = client.call("customers", "import_tasks", tenant_id, project_id, payload)
            if bar is None:
                totals.update(tool=page["tool"], rows=page["rows"])
                bar = tqdm(total=page["rows"], unit="row", desc="checking" if dry_run else "importing", file=sys.stderr)
            taken = (page["next_offset"] or page["rows"]) - offset
            totals["created"] += page["created"]
            totals["would_create"] += len(page.get("would_create") or [])
            totals["already_imported"] += page["already_imported"]
            totals["errors"] += page["errors"]
            totals["warnings"] += page["warnings"]
            bar.update(taken)
            offset = page["next_offset"]
        if bar is not None:
            bar.close()
    finally:
        if rpc is None:
            client.close()
    print(json.dumps(totals, indent=2), file=out)
    return totals
