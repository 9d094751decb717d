"""The gateway's gunicorn worker: gthread, with gunicorn's own error answers as problem documents.

gunicorn answers some requests before the app sees them: a request line longer than
`--limit-request-line` (414), too many or too large header fields (431), a malformed request line or
header (400), an unsupported transfer coding (501). It writes those as small HTML pages. Raising its
limits and checking ours in a WSGI middleware would not remove them (the request line cannot exceed
8190 bytes in gunicorn, and "unlimited" would buffer whatever a client sends), so this worker keeps
gunicorn's limits and its choice of status and log line, and changes only the body it writes:
`application/problem+json`, like every other answer of the API.

Use: `gunicorn -k gateway.server.ProblemThreadWorker ...` (deploy/Procfile). The limits in force are
listed in docs/api.md.
"""
from __future__ import annotations

import json

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker

from gateway import problems

# gunicorn's own ceilings, which deploy/Procfile sets explicitly (docs/api.md lists them)
REQUEST_LINE_LIMIT = 8190  # bytes of "METHOD /path?query HTTP/1.1" (gunicorn's maximum)
HEADER_FIELDS_LIMIT = 100
HEADER_FIELD_SIZE_LIMIT = 8190  # bytes of one "Name: value" line


def write_problem(sock, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's `util.write_error`, answering a problem document instead of an HTML page."""
    detail = (mesg or reason)[:300]  # gunicorn quotes the offending line; a little of it is enough
    body = json.dumps(problems.document(status_int, detail)).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
            f"Content-Type: {problems.CONTENT_TYPE}\r\nContent-Length: {len(body)}\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin-1") + body)


class ProblemThreadWorker(ThreadWorker):
    def init_process(self):
        # gunicorn's Worker.handle_error writes through util.write_error; in this worker process only
        util.write_error = write_problem
        super().init_process()
