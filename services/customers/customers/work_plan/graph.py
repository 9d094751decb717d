"""Finish-to-start dependencies between tasks — pure rules (no I/O).

- A dependency graph maps each task to the tasks it waits for. A cycle is refused: `find_cycle` names
  one (in order) so the error can say which tasks form it; `topological_order` orders tasks so every
  task comes after what it waits for, ties broken by the given order (stable, so a plan's order is
  the template's).
- The critical path (`critical_path`) is computed with the critical path method over task durations
  in days: earliest start = the latest earliest finish of its predecessors, latest finish from the
  backward pass; a task with zero slack is critical. The path returned is one chain of critical
  tasks from a start to the finish, following dependencies (where several chains tie, the first in
  the given order). Durations come from the tasks' dates (due − start + 1 days; a milestone 0; a
  task without dates 0), so the path reflects the plan as it stands.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable, Mapping, Sequence


class CycleError(ValueError):
    def __init__(self, cycle: list):
        super().__init__("dependencies form a cycle: " + " -> ".join(str(c) for c in cycle))
        self.cycle = cycle


def find_cycle(deps: Mapping[Hashable, Sequence[Hashable]]) -> list | None:
    """One cycle `[a, b, ..., a]` (a waits for b ...), or None. Iterative depth-first search."""
    WHITE, GREY, BLACK = 0, 1, 2
    colour = {node: WHITE for node in deps}
    for root in deps:
        if colour[root] != WHITE:
            continue
        stack = [(root, iter(deps.get(root, ())))]
        path = [root]
        colour[root] = GREY
        while stack:
            node, children = stack[-1]
            advanced = False
            for child in children:
                state = colour.get(child, BLACK)  # an unknown node waits for nothing
                if state == GREY:
                    return path[path.index(child):] + [child]
                if state == WHITE:
                    colour[child] = GREY
                    stack.append((child, iter(deps.get(child, ()))))
                    path.append(child)
                    advanced = True
                    break
            if not advanced:
                colour[node] = BLACK
                stack.pop()
                path.pop()
    return None


def topological_order(deps: Mapping[Hashable, Sequence[Hashable]]) -> list:
    """Every node after the nodes it waits for, otherwise in the given order; CycleError on a cycle."""
    cycle = find_cycle(deps)
    if cycle:
        raise CycleError(cycle)
    placed: set = set()
    order: list = []
    for root in deps:
        if root in placed:
            continue
        stack = [(root, iter([d for d in deps.get(root, ()) if d in deps]))]
        while stack:
            node, children = stack[-1]
            for child in children:
                if child not in placed:
                    stack.append((child, iter([d for d in deps.get(child, ()) if d in deps])))
                    break
            else:
                stack.pop()
                if node not in placed:
                    placed.add(node)
                    order.append(node)
    return order


@dataclass(frozen=True)
class Schedule:
    earliest_start: dict
    earliest_finish: dict
    slack: dict
    critical_path: list
    length: int


def critical_path(durations: Mapping[Hashable, int], deps: Mapping[Hashable, Sequence[Hashable]]) -> Schedule:
    """The critical path method over `durations` (days ≥ 0) and `deps` (see the module's doc)."""
    nodes = list(durations)
    known = {n: [d for d in deps.get(n, ()) if d in durations] for n in nodes}
    order = topological_order(known)
    es, ef = {}, {}
    for n in order:
        es[n] = max((ef[p] for p in known[n]), default=0)
        ef[n] = es[n] + max(int(durations[n]), 0)
    length = max(ef.values(), default=0)
    successors: dict = {n: [] for n in nodes}
    for n in nodes:
        for p in known[n]:
            successors[p].append(n)
    lf, ls = {}, {}
    for n in reversed(order):
        lf[n] = min((ls[s] for s in successors[n]), default=length)
        ls[n] = lf[n] - max(int(durations[n]), 0)
    slack = {n: ls[n] - es[n] for n in nodes}
    path: list = []
    if nodes:
        position = {n: i for i, n in enumerate(nodes)}
        # start at a critical task with no predecessors on the path, walk critical successors
        # that follow on without a gap, until one that finishes the plan
        starts = [n for n in nodes if slack[n] == 0 and es[n] == 0 and
                  not any(slack[p] == 0 and ef[p] == es[n] for p in known[n])]
        current = min(starts, key=position.get) if starts else None
        while current is not None:
            path.append(current)
            if ef[current] == length and not any(
                    slack[s] == 0 and es[s] == ef[current] for s in successors[current]):
                break
            nxt = [s for s in successors[current] if slack[s] == 0 and es[s] == ef[current]]
            current = min(nxt, key=position.get) if nxt else None
    return Schedule(es, ef, slack, path, length)
