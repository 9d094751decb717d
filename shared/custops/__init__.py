"""custops shared library: plumbing only (events, outbox/inbox, db, config, RPC, observability).

Business rules live in the services, never here.
"""
