"""A TCP forwarder on 127.0.0.1 that a test can cut: the broker "goes away" for the clients behind it
(their connections drop, new ones are refused) while the real broker, and everybody else on it,
carries on. `restore()` listens again on the same port.

    proxy = TcpProxy("127.0.0.1", 5672).start()
    uri = proxy.uri_for(amqp_uri)          # the same URI through the proxy
    proxy.cut(); ...; proxy.restore(); proxy.close()

It runs on real OS threads and sockets even under eventlet's monkey patching (the root conftest),
so it never shares the hub with the code under test. A socket is only ever closed by the last
thread using it; `cut()` shuts sockets down (which wakes their readers), it never closes a socket
another thread is blocked on (its descriptor could be reused under that thread).
"""
from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

try:
    from eventlet.patcher import original
except ImportError:  # pragma: no cover - without eventlet the stdlib is the original
    import importlib

    original = importlib.import_module

socket = original("socket")
threading = original("threading")
time = original("time")


class _Pair:
    def __init__(self, client, upstream):
        self.sockets = (client, upstream)
        self.running = 2
        self.lock = threading.Lock()

    def shutdown(self) -> None:
        for s in self.sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def done(self) -> bool:
        """One direction ended; the last one closes both sockets. True when both are closed."""
        self.shutdown()
        with self.lock:
            self.running -= 1
            last = self.running == 0
        if last:
            for s in self.sockets:
                s.close()
        return last


class TcpProxy:
    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.port = 0
        self._listener = None
        self._listener_closed = None
        self._pairs: set[_Pair] = set()
        self._lock = threading.Lock()

    def uri_for(self, uri: str) -> str:
        parts = urlsplit(uri)
        netloc = parts.netloc.rsplit("@", 1)
        auth = netloc[0] + "@" if len(netloc) == 2 else ""
        return urlunsplit(parts._replace(netloc=f"{auth}127.0.0.1:{self.port}"))

    def start(self) -> "TcpProxy":
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._listener_closed = threading.Event()
        threading.Thread(target=self._accept, args=(listener, self._listener_closed), daemon=True).start()
        return self

    def _accept(self, listener, closed) -> None:
        try:
            while True:
                try:
                    client, _ = listener.accept()
                except OSError:
                    return  # cut: the listener was shut down
                try:
                    upstream = socket.create_connection(self.target, timeout=5)
                    upstream.settimeout(None)
                except OSError:
                    client.close()
                    continue
                pair = _Pair(client, upstream)
                with self._lock:
                    self._pairs.add(pair)
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pipe, args=(pair, a, b), daemon=True).start()
        finally:
            listener.close()
            closed.set()

    def _pipe(self, pair: _Pair, source, sink) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            if pair.done():
                with self._lock:
                    self._pairs.discard(pair)

    def cut(self) -> None:
        """Every connection through the proxy drops; new ones are refused until `restore()`."""
        if self._listener is not None:
            try:
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._listener_closed.wait(5)
            self._listener = None
        with self._lock:
            pairs = list(self._pairs)
        for pair in pairs:
            pair.shutdown()
        deadline = time.monotonic() + 5
        while self._pairs and time.monotonic() < deadline:
            time.sleep(0.01)

    def restore(self) -> None:
        self.start()

    def close(self) -> None:
        self.cut()
