"""A local OAuth2 authorisation server for the mail tests (issue 8): it stands in for Google's and
Microsoft's token endpoints, which lie outside our system.

It grants access tokens for refresh tokens (RFC 6749 §6, `POST /token`, form-encoded, answering
`invalid_grant` / `invalid_client` the way Google and Microsoft do) and answers token
introspection (RFC 7662, `POST /introspect` -> `{"active": ..., "username": ...}`), which is what
dovecot's `passdb oauth2` asks (`Dovecot(oauth2=server)`) to decide whether an XOAUTH2 login holds.

    tokens = OAuthServer.start_new()
    refresh = tokens.grant("support@mail.test")   # a refresh token for that user
    tokens.token_url, tokens.client_id, tokens.client_secret
    tokens.expire_access_tokens()                  # every access token issued so far stops working
    tokens.revoke(refresh)                         # the refresh token is refused from now on
    tokens.refreshes                               # how many access tokens it granted
    tokens.stop()
"""
from __future__ import annotations

import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


class OAuthServer:
    def __init__(self, lifetime: int = 3600):
        self.client_id = "custops-test-client"
        self.client_secret = secrets.token_urlsafe(16)
        self.lifetime = lifetime  # seconds an access token is said (and made) to live
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> user
        self.access_tokens: dict[str, tuple[str, float]] = {}  # access token -> (user, expires at)
        self.refreshes = 0
        self.introspections = 0
        self.token_requests: list[dict] = []  # the form fields of every token request
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.token_url = f"{self.base_url}/token"
        self.introspection_url = f"{self.base_url}/introspect"
        self.thread: threading.Thread | None = None

    @classmethod
    def start_new(cls, **kwargs) -> "OAuthServer":
        server = cls(**kwargs)
        server.thread = threading.Thread(target=server.httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                         daemon=True)
        server.thread.start()
        return server

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # ------------------------------------------------------------------------------ what tests do

    def grant(self, user: str) -> str:
        token = f"1//refresh-{secrets.token_urlsafe(24)}"
        with self.lock:
            self.refresh_tokens[token] = user
        return token

    def revoke(self, refresh_token: str) -> None:
        with self.lock:
            self.refresh_tokens.pop(refresh_token, None)

    def expire_access_tokens(self) -> None:
        with self.lock:
            self.access_tokens = {t: (user, 0.0) for t, (user, _) in self.access_tokens.items()}

    # ------------------------------------------------------------------------------ the endpoints

    def _token(self, form: dict[str, str]) -> tuple[int, dict]:
        with self.lock:
            self.token_requests.append(form)
            if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
                return 401, {"error": "invalid_client", "error_description": "The OAuth client was not found."}
            if form.get("grant_type") != "refresh_token":
                return 400, {"error": "unsupported_grant_type"}
            user = self.refresh_tokens.get(form.get("refresh_token", ""))
            if user is None:
                return 400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
            access = f"ya29.{secrets.token_urlsafe(32)}"
            self.access_tokens[access] = (user, time.time() + self.lifetime)
            self.refreshes += 1
        return 200, {"access_token": access, "token_type": "Bearer", "expires_in": self.lifetime,
                     "scope": form.get("scope", "https://mail.google.com/")}

    def _introspect(self, form: dict[str, str]) -> tuple[int, dict]:
        with self.lock:
            self.introspections += 1
            user, expires_at = self.access_tokens.get(form.get("token", ""), (None, 0.0))
        if user is None or expires_at <= time.time():
            return 200, {"active": "false"}
        return 200, {"active": "true", "username": user, "exp": int(expires_at)}

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if self.path == "/token":
                    status, body = server._token(form)
                elif self.path == "/introspect":
                    status, body = server._introspect(form)
                else:
                    status, body = 404, {"error": "not_found"}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):  # quiet: tokens travel in these requests
                pass

        return Handler
