"""Reading `deploy/Procfile` (`name: command` lines), for the `make run` launcher and the
end-to-end harness alike."""
from __future__ import annotations

from pathlib import Path


def parse_procfile(path: Path) -> list[tuple[str, str]]:
    """`[(name, command)]`; blank lines and `#` comments are skipped."""
    entries = []
    for lineno, raw in enumerate(Path(path).read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, command = line.partition(":")
        if not sep or not name.strip() or not command.strip():
            raise ValueError(f"{path}:{lineno}: expected 'name: command', got {raw!r}")
        entries.append((name.strip(), command.strip()))
    return entries
