"""The demo data `seed_demo_tenant` creates (through the normal create paths)."""
from __future__ import annotations

from customers.commands import CreateContact, CreateCustomer

DEMO_CUSTOMERS: list[tuple[CreateCustomer, CreateContact]] = [
    (CreateCustomer(name="Acme Corp", tier="enterprise", domains=["acme.example"]),
     CreateContact(name="Wile E. Coyote", email="wile@acme.example", portal_access=True)),
    (CreateCustomer(name="Globex", tier="smb", domains=["globex.example"]),
     CreateContact(name="Hank Scorpio", email="hank@globex.example")),
]
