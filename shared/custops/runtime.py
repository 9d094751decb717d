"""Starting custops processes: a nameko service, or an outbox relay."""
from __future__ import annotations

import importlib
import inspect
import signal
import warnings


def load_service_class(name: str):
    """The nameko service class of `<name>/service.py` (the class whose `name` is `name`)."""
    module = importlib.import_module(f"{name}.service")
    for _, obj in inspect.getmembers(module, inspect.isclass):
        if getattr(obj, "name", None) == name and obj.__module__ == module.__name__:
            return obj
    raise LookupError(f"{name}.service defines no service class named {name!r}")


RELAY_MODES = ("inprocess", "standalone")


def relay_mode(explicit: str | None = None) -> str:
    """Where a service's outbox relay runs: `inprocess` (default: in the service's own process) or
    `standalone` (not there: `custops relay <name>` processes publish its outbox)."""
    import os

    mode = explicit or os.environ.get("CUSTOPS_RELAY") or "inprocess"
    if mode not in RELAY_MODES:
        raise SystemExit(f"CUSTOPS_RELAY={mode!r}: expected one of {', '.join(RELAY_MODES)}")
    return mode


def run_service(name: str, relay: str | None = None, batch_size: int = 200) -> None:
    import os

    # eventlet's green DNS resolver loads dnspython and, through its DNSSEC support, cryptography:
    # ~22 MB of the ~98 MB a service held at rest (issue 14). A service resolves only its broker's
    # and database's host names, when it (re)connects (libpq resolves in C, blocking, either way);
    # the system resolver answers those at once. EVENTLET_NO_GREENDNS=no keeps eventlet's resolver.
    os.environ.setdefault("EVENTLET_NO_GREENDNS", "yes")
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    import eventlet

    eventlet.monkey_patch()

    from nameko.cli.run import run

    from custops import config, db, tracing

    mode = relay_mode(relay)
    db.cooperative_psycopg()
    tracing.setup(name)
    service_cls = load_service_class(name)
    if mode == "inprocess":
        from custops.service_relay import with_relay

        service_cls = with_relay(service_cls, batch_size)
    run([service_cls], config.nameko_config(name))


def relay_http_server(relay, port: int, addr: str = "0.0.0.0"):
    """A relay's side port, in a daemon thread: `/healthz` (the process runs), `/readyz` (503 while
    its database or broker does not answer, or its last cycle failed) and `/metrics`."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            path = self.path.split("?")[0]
            if path == "/metrics":
                status, ctype, body = 200, CONTENT_TYPE_LATEST, generate_latest()
            elif path in ("/healthz", "/readyz"):
                problems = relay.problems() if path == "/readyz" else []
                doc = {"status": "unavailable" if problems else ("ready" if path == "/readyz" else "ok"),
                       "service": f"{relay.service}-relay"}
                if problems:
                    doc["reason"] = "; ".join(problems)
                status, ctype, body = (503 if problems else 200), "application/json", json.dumps(doc).encode()
            else:
                status, ctype, body = 404, "application/json", b'{"status": "not found"}'
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):  # probes every few seconds: not worth a log line
            pass

    server = ThreadingHTTPServer((addr, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="relay-http", daemon=True).start()
    return server


def run_relay(name: str, batch_size: int = 200) -> None:
    import logging

    from custops import config, outbox, tracing

    tracing.setup(f"{name}-relay")
    relay = outbox.Relay(name, batch_size=batch_size)
    try:
        relay_http_server(relay, config.relay_port(name))
    except OSError as exc:  # a second relay on the same host: it still relays, without metrics
        logging.getLogger(__name__).warning("relay metrics port %s: %s", config.relay_port(name), exc)

    def stop(signum, frame):
        relay.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    logging.getLogger(__name__).info("outbox relay for %s started", name)
    relay.run()
