"""The work plan of the customers service (DESIGN.md §1, §7): projects and tasks per customer, their
three views (Kanban, Gantt, Table), onboarding templates and the plans applied from them.

Pure rules: `board` (columns, progress, late), `graph` (dependencies, critical path), `schedule`
(relative dates, business days, re-planning), `template_diff`. I/O: `store` (projects, tasks),
`templates_store`, `calendar_copy`. Commands (input shapes): `commands`. Entrypoints: `service`
(`WorkPlanEntrypoints`, a mixin of `CustomersService`).
"""
