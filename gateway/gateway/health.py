"""Liveness, readiness and metrics of the gateway process (no token needed)."""
from __future__ import annotations

from flask import Flask, current_app, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from custops.rpc import broker_reachable
from gateway import problems, rpc

READY_TIMEOUT = 2.0


def install(app: Flask) -> None:
    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok", service="gateway")

    @app.get("/readyz")
    def readyz():
        state = rpc.state()
        try:
            broker_reachable(state.amqp_uri, current_app.config["READY_TIMEOUT"])
        except Exception as exc:  # noqa: BLE001 - a probe reports, it does not crash
            return problems.response(503, f"message broker not reachable ({type(exc).__name__})")
        return jsonify(status="ready", service="gateway")

    @app.get("/metrics")
    def metrics():
        return generate_latest(REGISTRY), 200, {"Content-Type": CONTENT_TYPE_LATEST}
