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


def run_service(name: str) -> None:
    import eventlet

    eventlet.monkey_patch()
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

    from nameko.cli.run import run

    from custops import config, db, tracing

    db.cooperative_psycopg()
    tracing.setup(name)
    service_cls = load_service_class(name)
    run([service_cls], config.nameko_config(name))


def run_relay(name: str, batch_size: int = 200) -> None:
    import logging

    from prometheus_client import start_http_server

    from custops import config, outbox, tracing

    tracing.setup(f"{name}-relay")
    try:
        start_http_server(config.relay_port(name), addr="0.0.0.0")
    except OSError as exc:  # a second relay on the same host: it still relays, without metrics
        logging.getLogger(__name__).warning("relay metrics port %s: %s", config.relay_port(name), exc)
    relay = outbox.Relay(name, batch_size=batch_size)

    def stop(signum, frame):
        relay.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    logging.getLogger(__name__).info("outbox relay for %s started", name)
    relay.run()
