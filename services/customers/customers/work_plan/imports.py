"""Reading CSV exports of Monday, ClickUp, Asana and Notion boards into tasks — pure rules (no I/O).

Decisions:
- Bytes are UTF-8 (a BOM is dropped; Windows-1252 is tried when UTF-8 fails). The delimiter is `,`
  or `;`, whichever splits the header line into more known columns.
- The tool is detected from the header (`TOOLS`: each tool's own column names, as it exports
  them); the caller may name it. Monday exports repeat the header once per group and put the board
  and group names on lines of their own: every line before a header, and every repeated header, is
  skipped (group names are kept as the rows' `group`).
- The mapping of columns to task fields is the detected tool's; a caller's `mapping` overrides
  single fields. Fields: key (the tool's stable row id), title, status, assignees, start, due,
  description, estimate (hours), parent (a subtask's parent), completed.
- Every row gets a stable key: the tool's own id (`Item ID`, `Task ID`), else (Notion exports carry
  none) a digest of the title and creation time. Re-running an import of the same export takes
  every key it already took as "already imported", so nothing is doubled.
- Dates: ISO `YYYY-MM-DD`, Monday timelines `A - B`, Notion `January 8, 2024` and ranges
  `A → B`, ClickUp epoch milliseconds; a date that cannot be read is that row's error (the row is
  reported, not guessed). A row with no title is an error; an empty line is skipped silently.
- Status text maps to a category by words (`done`, `complete`, `closed` → done; `progress`,
  `working`, `review` → in_progress; `stuck`, `blocked` → blocked; anything else → todo); a
  completion date (Asana `Completed At`) means done.
- Several assignees: the first one a member matches (by e-mail, else by name, case-insensitive) is
  the assignee; the others are reported as warnings. Subtasks become tasks of their own that depend
  on nothing, titled as exported, their parent named in `parent`.
"""
from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

MAX_ROWS = 20_000
MAX_BYTES = 20 * 1024 * 1024

TOOLS: dict[str, dict[str, tuple[str, ...]]] = {
    "monday": {"key": ("Item ID",), "title": ("Name",), "status": ("Status",), "assignees": ("Person", "Owner"),
               "start": ("Timeline",), "due": ("Date", "Timeline"), "estimate": ("Estimate",),
               "subitems": ("Subitems",)},
    "clickup": {"key": ("Task ID",), "title": ("Task Name",), "status": ("Status",), "assignees": ("Assignees",),
                "start": ("Start Date",), "due": ("Due Date",), "description": ("Task Content",),
                "estimate_ms": ("Time Estimated",), "parent": ("Parent ID",)},
    "asana": {"key": ("Task ID",), "title": ("Name",), "assignees": ("Assignee Email", "Assignee"),
              "start": ("Start Date",), "due": ("Due Date",), "description": ("Notes",), "parent": ("Parent task",),
              "completed": ("Completed At",), "status": ("Section/Column",)},
    "notion": {"title": ("Name",), "status": ("Status",), "assignees": ("Assignee", "Assignees", "Person"),
               "start": ("Due", "Date"), "due": ("Due", "Date"), "created": ("Created time", "Created"),
               "estimate": ("Estimate (h)", "Estimate")},
}
# the columns that tell each tool apart (all of them in the header)
SIGNATURES = {"clickup": ("Task ID", "Task Name", "Assignees"), "asana": ("Task ID", "Section/Column", "Assignee"),
              "monday": ("Name", "Person", "Item ID"), "notion": ("Name", "Created time")}
FIELDS = ("key", "title", "status", "assignees", "start", "due", "description", "estimate", "estimate_ms", "parent",
          "completed", "created", "subitems")


class UnreadableExport(ValueError):
    """The file as a whole cannot be read (not CSV, no known header, too big)."""


@dataclass
class SourceRow:
    line: int
    key: str
    title: str
    category: str
    status_text: str
    assignees: list[str]
    start: date | None
    due: date | None
    description: str
    estimate_hours: float | None
    parent: str | None
    group: str | None


@dataclass
class RowError:
    line: int
    message: str
    key: str | None = None


@dataclass
class Parsed:
    tool: str
    delimiter: str
    mapping: dict[str, str]
    rows: list[SourceRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def decode(raw: bytes) -> str:
    if len(raw) > MAX_BYTES:
        raise UnreadableExport(f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB")
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _known(cells: list[str]) -> int:
    names = {n for tool in TOOLS.values() for cols in tool.values() for n in cols}
    return sum(1 for c in cells if c.strip() in names)


def _split(line: str, delimiter: str) -> list[str]:
    return next(csv.reader([line], delimiter=delimiter), [])


def detect(text: str, tool: str | None = None) -> tuple[str, str, int]:
    """(tool, delimiter, index of the header line) of an export."""
    lines = text.splitlines()[:50]
    best = None
    for index, line in enumerate(lines):
        for delimiter in (",", ";"):
            cells = [c.strip() for c in _split(line, delimiter)]
            score = _known(cells)
            if score >= 2 and (best is None or score > best[0]):
                best = (score, delimiter, index, cells)
        if best is not None and best[2] == index:
            break
    if best is None:
        raise UnreadableExport("no header row of a Monday, ClickUp, Asana or Notion export was found")
    _, delimiter, index, cells = best
    if tool is None:
        found = [name for name, columns in SIGNATURES.items() if all(c in cells for c in columns)]
        if not found:
            raise UnreadableExport("the columns are not those of a Monday, ClickUp, Asana or Notion export; "
                               "name the tool and map the columns")
        tool = found[0]
    elif tool not in TOOLS:
        raise UnreadableExport(f"unknown tool {tool}: one of {', '.join(TOOLS)}")
    return tool, delimiter, index


def mapping_for(tool: str, header: list[str], overrides: dict[str, str] | None = None) -> dict[str, str]:
    """{field: column} for the columns present (overrides win; an override naming no column is an error)."""
    found = {}
    for name, candidates in TOOLS[tool].items():
        for column in candidates:
            if column in header:
                found[name] = column
                break
    for name, column in (overrides or {}).items():
        if name not in FIELDS:
            raise UnreadableExport(f"unknown field {name} in the mapping: one of {', '.join(FIELDS)}")
        if column not in header:
            raise UnreadableExport(f"the mapping names column {column!r}, which the file does not have")
        found[name] = column
    if "title" not in found:
        raise UnreadableExport("no title column (map `title` to one)")
    return found


_MONTHS = {m: i for i, m in enumerate(("january", "february", "march", "april", "may", "june", "july", "august",
                                       "september", "october", "november", "december"), start=1)}


def parse_date(text: str) -> date | None:
    """A date as the tools write them (see the module's doc); ValueError when it is not one."""
    text = text.strip()
    if not text:
        return None
    if re.fullmatch(r"\d{12,14}", text):  # ClickUp: epoch milliseconds
        return datetime.fromtimestamp(int(text) / 1000, tz=timezone.utc).date()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return date.fromisoformat(text)
    found = re.fullmatch(r"([A-Za-z]+) (\d{1,2}), (\d{4})(?: \d{1,2}:\d{2}(?: ?[AP]M)?)?", text)
    if found and found.group(1).lower() in _MONTHS:
        return date(int(found.group(3)), _MONTHS[found.group(1).lower()], int(found.group(2)))
    raise ValueError(f"not a date: {text!r}")


def parse_range(text: str) -> tuple[date | None, date | None]:
    """`A - B` (Monday), `A → B` (Notion) or a single date (start = due)."""
    text = text.strip()
    for separator in (" → ", " - "):
        if separator in text:
            first, _, last = text.partition(separator)
            return parse_date(first), parse_date(last)
    day = parse_date(text)
    return day, day


def category_of(status: str, completed: bool = False) -> str:
    words = status.lower()
    if completed or any(w in words for w in ("done", "complete", "closed", "finished")):
        return "done"
    if any(w in words for w in ("stuck", "blocked")):
        return "blocked"
    if any(w in words for w in ("progress", "working", "review", "doing")):
        return "in_progress"
    return "todo"


def _people(text: str) -> list[str]:
    text = text.strip().strip("[]")
    return [p.strip() for p in re.split(r"[,;]", text) if p.strip()]


def parse(raw: bytes, tool: str | None = None, overrides: dict[str, str] | None = None) -> Parsed:
    """Every row of an export as a SourceRow or a RowError (see the module's doc)."""
    text = decode(raw)
    tool, delimiter, header_index = detect(text, tool)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows = list(reader)
    header = [c.strip() for c in rows[header_index]]
    mapping = mapping_for(tool, header, overrides)
    column = {name: header.index(col) for name, col in mapping.items()}
    parsed = Parsed(tool, delimiter, mapping)
    group = None
    taken: set[str] = set()
    for number, cells in enumerate(rows[header_index + 1:], start=header_index + 2):
        cells = [c.strip() for c in cells]
        if not any(cells):
            continue
        if [c for c in cells] == header[:len(cells)] or cells[:len(header)] == header:
            continue  # Monday repeats the header per group
        if len([c for c in cells if c]) == 1 and cells[0] and tool == "monday":
            group = cells[0]  # a Monday group title line
            continue
        if len(parsed.rows) + len(parsed.errors) >= MAX_ROWS:
            parsed.errors.append(RowError(number, f"more than {MAX_ROWS} rows: the rest is not read"))
            break

        def cell(name, cells=cells):
            i = column.get(name)
            return cells[i] if i is not None and i < len(cells) else ""

        title = cell("title")
        key = cell("key") or None
        if key is None:
            digest = hashlib.sha256(f"{title}\x1f{cell('created')}\x1f{cell('parent')}".encode()).hexdigest()[:24]
            key = f"row:{digest}"
        key = f"{tool}:{key}"
        if not title:
            parsed.errors.append(RowError(number, "no title", key))
            continue
        if key in taken:
            parsed.errors.append(RowError(number, "the same row id appears twice in the file", key))
            continue
        try:
            ranged = mapping.get("start") is not None and (
                mapping.get("start") == mapping.get("due") or mapping.get("start") == "Timeline")
            if ranged:  # one column holds both dates (Monday's timeline, Notion's date range)
                start, due = parse_range(cell("start"))
                if mapping.get("due") != mapping.get("start") and cell("due"):
                    due = parse_date(cell("due"))
            else:
                start, due = parse_date(cell("start")), parse_date(cell("due"))
            if start and due and due < start:
                raise ValueError("the due date lies before the start date")
            estimate = None
            if cell("estimate_ms"):
                estimate = round(int(cell("estimate_ms")) / 3_600_000, 2)
            elif cell("estimate"):
                estimate = float(cell("estimate").replace(",", "."))
            if estimate is not None and not 0 <= estimate <= 100_000:
                raise ValueError("the estimate is out of range")
        except ValueError as exc:
            parsed.errors.append(RowError(number, str(exc), key))
            continue
        taken.add(key)
        status = cell("status")
        parsed.rows.append(SourceRow(
            line=number, key=key, title=title[:300], category=category_of(status, bool(cell("completed"))),
            status_text=status, assignees=_people(cell("assignees")), start=start, due=due,
            description=cell("description")[:20_000], estimate_hours=estimate, parent=cell("parent") or None,
            group=group))
        for sub in _people(cell("subitems")):  # Monday subitems: tasks of their own
            sub_key = f"{key}/sub:{hashlib.sha256(sub.encode()).hexdigest()[:12]}"
            if sub_key not in taken:
                taken.add(sub_key)
                parsed.rows.append(SourceRow(number, sub_key, sub[:300], "todo", "", [], None, None, "", None,
                                             title, group))
    return parsed
