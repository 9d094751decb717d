"""The benchmark's baseline: a bare Flask app that reads one ticket with psycopg directly.

It does the SQL the tickets service does for `get_ticket`, with none of the suite in between (no
auth, no RPC, no nameko), so gateway-vs-this shows what the architecture costs per read. Served by
tests/bench/run_all.py with the gateway's own gunicorn settings.
"""
from __future__ import annotations

import threading

import psycopg
from flask import Flask, abort, jsonify, request

from custops import config

SQL = ("SELECT id, number, customer_id, subject, description, priority, status, source, created_at, updated_at "
       "FROM tickets WHERE tenant_id = %s AND id = %s")


def create_app() -> Flask:
    app = Flask(__name__)
    dsn = config.database_url("tickets").replace("postgresql+psycopg://", "postgresql://")
    local = threading.local()  # one connection per gthread worker thread

    def connection() -> psycopg.Connection:
        conn = getattr(local, "conn", None)
        if conn is None or conn.closed:
            conn = local.conn = psycopg.connect(dsn, autocommit=True)
        return conn

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    @app.get("/tickets/<ticket_id>")
    def get_ticket(ticket_id):
        row = connection().execute(SQL, (request.headers["X-Tenant-Id"], ticket_id)).fetchone()
        if row is None:
            abort(404)
        keys = ("id", "number", "customer_id", "subject", "description", "priority", "status", "source",
                "created_at", "updated_at")
        doc = dict(zip(keys, row))
        for key in ("id", "customer_id"):
            doc[key] = str(doc[key])
        for key in ("created_at", "updated_at"):
            doc[key] = doc[key].isoformat()
        return jsonify(doc)

    return app
