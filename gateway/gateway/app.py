"""The gateway's Flask app factory.

Run: the gateway line of deploy/Procfile (gunicorn, `gateway.server.ProblemThreadWorker`, 'gateway.app:create_app()').
Nothing is opened here: the RPC client is made lazily in each worker process on first use.
"""
from __future__ import annotations

from flask import Flask

from custops import config, tracing
from gateway import auth, health, observability, problems
from gateway import api
from gateway.rpc import ProcessRpc

DEFAULTS = {
    "AMQP_URI": None,  # None: custops.config (AMQP_URI env, local default)
    "RPC_TIMEOUT": None,  # None: CUSTOPS_RPC_TIMEOUT env, default 5 s
    "RPC_POOL_SIZE": 16,  # one connection per worker thread, with room to spare
    "RPC_CLIENT": None,  # an object with `call(service, method, *args)`; default: custops.rpc.RpcClient
    "AUTH_CACHE_SECONDS": auth.CACHE_SECONDS,
    "READY_TIMEOUT": health.READY_TIMEOUT,
    # larger bodies are a 413 problem; every body its schema allows fits (gateway/tests/test_openapi.py)
    "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
}


def create_app(options: dict | None = None) -> Flask:
    tracing.setup("gateway")
    app = Flask(__name__)
    app.config.update(DEFAULTS)
    app.config.update(options or {})
    app.json.sort_keys = False
    app.url_map.strict_slashes = False

    timeout = app.config["RPC_TIMEOUT"]
    app.extensions["custops_rpc"] = ProcessRpc(
        app.config["AMQP_URI"] or config.amqp_uri(),
        float(timeout) if timeout is not None else config.rpc_timeout(),
        int(app.config["RPC_POOL_SIZE"]), client=app.config["RPC_CLIENT"])
    app.extensions["custops_auth_cache"] = auth.TtlCache(ttl=float(app.config["AUTH_CACHE_SECONDS"]))

    problems.install(app)
    observability.install(app)
    health.install(app)
    api.load().install(app)
    app.make_default_options_response = api.default_options_response
    return app
