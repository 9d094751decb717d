"""gunicorn's own answers (over-long request line, too many or too large headers, a malformed request
line) are problem documents too. Against a real gunicorn process started with the gateway command of
deploy/Procfile; these answers come before the app, so no broker is needed."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from custops.procfile import parse_procfile

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def gateway_url(tmp_path_factory):
    command = dict(parse_procfile(ROOT / "deploy" / "Procfile"))["gateway"]
    port = _free_port()
    log = tmp_path_factory.mktemp("gunicorn") / "gateway.log"
    env = dict(os.environ, CUSTOPS_GATEWAY_PORT=str(port),
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    with open(log, "wb") as out:
        proc = subprocess.Popen(["bash", "-c", "exec " + command], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, process_group=0)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the gateway did not start:\n" + log.read_text(errors="replace")[-3000:])
            time.sleep(0.2)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _raw(url: str, request: bytes) -> tuple[int, dict, bytes]:
    """Send raw bytes; (status, headers, body) of the answer."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


def _assert_problem(status, headers, body, expected) -> dict:
    assert status == expected, (status, body[:300])
    assert headers["content-type"] == "application/problem+json", headers
    doc = json.loads(body)
    assert doc["status"] == expected and doc["type"].startswith("https://") and doc["title"], doc
    return doc


def test_an_overlong_url_is_a_414_problem(gateway_url):
    answer = _raw(gateway_url, b"GET /api/v1/tickets?q=" + b"x" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    _assert_problem(*answer, 414)


def test_a_url_within_the_limit_reaches_the_app(gateway_url):
    response = requests.get(gateway_url + "/healthz", params={"q": "x" * 7000}, timeout=10)
    assert response.status_code == 200  # the request line limit is gunicorn's maximum, 8190, not 4094


def test_an_overlong_header_is_a_431_problem(gateway_url):
    answer = _raw(gateway_url, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"y" * 9000 + b"\r\n\r\n")
    _assert_problem(*answer, 431)


def test_too_many_headers_is_a_431_problem(gateway_url):
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(150))
    answer = _raw(gateway_url, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
    _assert_problem(*answer, 431)


def test_a_malformed_request_line_is_a_400_problem(gateway_url):
    answer = _raw(gateway_url, b"GET /healthz HTTP/9.9 extra\r\nHost: x\r\n\r\n")
    _assert_problem(*answer, 400)
