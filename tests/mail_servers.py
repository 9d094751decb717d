"""A real IMAP server of a test's own: Debian's dovecot on loopback, on a free port, from a config in a
temp dir, with one test user and their mailbox (Maildir) — so intake tests talk IMAP to a real server
(IDLE, UIDVALIDITY, keywords) and never to a mock or to the machine's own mail setup.

    server = Dovecot.start_new()         # RuntimeError saying why when it cannot start
    server.host, server.port, server.user, server.password
    server.append(raw_bytes, folder="INBOX")   # a message delivered (IMAP APPEND), its UID returned
    server.restart(down_for=1)           # every connection cut, the port refused meanwhile
    server.reset_uidvalidity()           # stopped, its indexes and UID list removed, started: the
                                         # server renumbers every message under a new UIDVALIDITY
    server.stop()                        # the server is gone and its directory removed

Installed by `scripts/infra.sh dovecot` (apt-get dovecot-imapd; the package's own system service is
left alone: ours runs from its own config). As root the server runs mail access as the `dovecot`
user; as another user it runs as that user. `idle=False` leaves IDLE out of the capabilities the
server announces, to test the polling path against the same server.

`oauth2=OAuthServer` (tests/oauth_server.py) adds SASL XOAUTH2/OAUTHBEARER logins checked by
dovecot's `passdb oauth2`, which asks that server's introspection endpoint (RFC 7662) whether an
access token is active and whose it is; the password login stays. `tls=True` gives the server a
self-signed certificate for 127.0.0.1 (`server.ca_pem`): STARTTLS on `server.port` and implicit
TLS on `server.tls_port`.
"""
from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

DOVECOT = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/sbin")
START_TIMEOUT = 15.0
USER = "support@mail.test"
PASSWORD = "imap-test-password"

# IMAP4rev1 capabilities dovecot 2.3 announces after login, less IDLE (for `idle=False`)
_NO_IDLE_CAPABILITIES = ("IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE SORT SORT=DISPLAY THREAD=REFERENCES "
                         "THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN "
                         "NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES "
                         "WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY "
                         "LITERAL+ NOTIFY SPECIAL-USE")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.settimeout(2)
            return s.recv(64).startswith(b"* OK")
    except OSError:
        return False


def _self_signed(cert_path: Path, key_path: Path) -> str:
    """A self-signed certificate for 127.0.0.1 / localhost written beside its key; its PEM returned
    (the CA a client must trust to verify the server)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "custops test IMAP")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    cert_path.write_text(pem)
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    os.chmod(key_path, 0o644)  # dovecot's master reads it as root; the temp dir is the test's own
    return pem


class Dovecot:
    def __init__(self, idle: bool = True, folders: tuple[str, ...] = (), oauth2=None, tls: bool = False):
        self.host = "127.0.0.1"
        self.port = _free_port()
        self.user = USER
        self.password = PASSWORD
        self.idle = idle
        self.folders = folders
        self.oauth2 = oauth2
        self.tls = tls
        self.tls_port = _free_port() if tls else 0
        self.ca_pem = ""
        self.dir = Path(tempfile.mkdtemp(prefix="custops-dovecot-"))
        os.chmod(self.dir, 0o755)
        self.config = self.dir / "dovecot.conf"
        self.log = self.dir / "dovecot.log"
        self.home = self.dir / "home"
        self.process: subprocess.Popen | None = None

    @classmethod
    def start_new(cls, **kwargs) -> "Dovecot":
        server = cls(**kwargs)
        try:
            server._write_config()
            server.start()
        except BaseException:
            server.stop()
            raise
        return server

    # --------------------------------------------------------------------------------- lifecycle

    def _write_config(self) -> None:
        if DOVECOT is None:
            raise RuntimeError("dovecot is not installed: run `scripts/infra.sh dovecot` (apt-get install "
                               "dovecot-imapd) or `make setup`")
        if os.geteuid() == 0:
            mail_user = pwd.getpwnam("dovecot")  # mail access never as root (dovecot refuses uid 0)
            internal = "dovecot"
            login = "dovenull"
        else:
            mail_user = pwd.getpwuid(os.geteuid())
            internal = login = mail_user.pw_name
        self.home.mkdir()
        os.chown(self.home, mail_user.pw_uid, mail_user.pw_gid)
        for sub in ("run", "state"):
            (self.dir / sub).mkdir()
        (self.dir / "passwd").write_text(f"{self.user}:{{PLAIN}}{self.password}::::::\n")
        mechanisms, passdbs, ssl = "plain login", "", "ssl = no"
        if self.oauth2 is not None:
            mechanisms = "plain login xoauth2 oauthbearer"
            (self.dir / "oauth2.conf.ext").write_text(
                f"introspection_mode = post\nintrospection_url = {self.oauth2.introspection_url}\n"
                "username_attribute = username\nactive_attribute = active\nactive_value = true\n")
            passdbs = (f"passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n"
                       f"  args = {self.dir}/oauth2.conf.ext\n}}\n")
        if self.tls:
            cert, key = self.dir / "cert.pem", self.dir / "key.pem"
            self.ca_pem = _self_signed(cert, key)
            ssl = f"ssl = yes\nssl_cert = <{cert}\nssl_key = <{key}"
        capability = "" if self.idle else f"protocol imap {{\n  imap_capability = {_NO_IDLE_CAPABILITIES}\n}}\n"
        namespace_folders = "".join(
            f"  mailbox \"{name}\" {{\n    auto = subscribe\n  }}\n" for name in self.folders)
        self.config.write_text(f"""\
base_dir = {self.dir}/run
state_dir = {self.dir}/state
log_path = {self.log}
info_log_path = {self.log}
protocols = imap
listen = 127.0.0.1
{ssl}
disable_plaintext_auth = no
auth_mechanisms = {mechanisms}
auth_failure_delay = 0
default_internal_user = {internal}
default_internal_group = {internal}
default_login_user = {login}
first_valid_uid = {mail_user.pw_uid}
last_valid_uid = {mail_user.pw_uid}
mail_uid = {mail_user.pw_uid}
mail_gid = {mail_user.pw_gid}
mail_location = maildir:~/Maildir
mail_fsync = never
namespace inbox {{
  inbox = yes
  separator = /
{namespace_folders}}}
{passdbs}passdb {{
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN username_format=%u {self.dir}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_user.pw_uid} gid={mail_user.pw_gid} home={self.home}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.tls_port}
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
{capability}""")

    def start(self) -> None:
        # -F: in the foreground, so the process is ours to stop (and to kill, for a crash)
        self.process = subprocess.Popen([DOVECOT, "-F", "-c", str(self.config)], stdout=subprocess.DEVNULL,
                                        stderr=open(self.dir / "stderr.log", "ab"), start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while not _listening(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                code = self.process.poll()
                self._terminate()
                raise RuntimeError(f"dovecot did not start on 127.0.0.1:{self.port} (exit {code}): "
                                   f"{self.log_tail()}")
            time.sleep(0.05)

    def _terminate(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)

    def restart(self, down_for: float = 0.5) -> None:
        """Stopped (every client connection cut), down `down_for` seconds, started on the same port."""
        self._terminate()
        deadline = time.monotonic() + down_for
        while time.monotonic() < deadline:  # the port refuses meanwhile: that is the fault under test
            time.sleep(0.05)
        self.start()

    def reset_uidvalidity(self) -> None:
        """As after a server rebuild: the same messages, renumbered from UID 1 under a new UIDVALIDITY."""
        self._terminate()
        maildir = self.home / self.user / "Maildir"
        for path in list(maildir.rglob("dovecot*")):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
        time.sleep(1.1)  # dovecot takes UIDVALIDITY from the clock (seconds): a new second, a new value
        self.start()

    def stop(self) -> None:
        self._terminate()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self, chars: int = 1500) -> str:
        parts = []
        for path in (self.log, self.dir / "stderr.log"):
            try:
                parts.append(path.read_text(errors="replace")[-chars:])
            except OSError:
                pass
        return " | ".join(parts)

    # ------------------------------------------------------------------------------------ client

    def client(self) -> imaplib.IMAP4:
        conn = imaplib.IMAP4(self.host, self.port, timeout=30)
        conn.login(self.user, self.password)
        return conn

    def append(self, raw: bytes, folder: str = "INBOX") -> int:
        """Deliver `raw` into `folder` (IMAP APPEND); its UID (UIDPLUS's APPENDUID)."""
        conn = self.client()
        try:
            typ, data = conn.append(folder, None, None, raw)
            assert typ == "OK", data
            # b'[APPENDUID <validity> <uid>] Append completed.'
            return int(data[0].split(b"]")[0].split()[-1])
        finally:
            conn.logout()

    def append_many(self, raws, folder: str = "INBOX") -> None:
        conn = self.client()
        try:
            for raw in raws:
                typ, data = conn.append(folder, None, None, raw)
                assert typ == "OK", data
        finally:
            conn.logout()

    def flagged(self, keyword: str, folder: str = "INBOX") -> set[int]:
        """UIDs in `folder` that carry `keyword`."""
        conn = self.client()
        try:
            conn.select(folder, readonly=True)
            typ, data = conn.uid("SEARCH", "KEYWORD", keyword)
            return {int(u) for u in data[0].split()}
        finally:
            conn.logout()


def message(n: int | str, sender: str = "ada@customer.test", subject: str | None = None,
            message_id: str | None = "auto", body: str = "Hello, the printer is on fire.") -> bytes:
    """A small plain-text message; `message_id=None` leaves the Message-ID header out."""
    mid = f"<intake-{n}-{time.time_ns()}@customer.test>" if message_id == "auto" else message_id
    headers = [f"From: Ada <{sender}>", f"To: {USER}", f"Subject: {subject or f'Test message {n}'}",
               "Date: Tue, 01 Dec 2026 10:00:00 +0000", "MIME-Version: 1.0",
               "Content-Type: text/plain; charset=utf-8"]
    if mid is not None:
        headers.append(f"Message-ID: {mid}")
    return ("\r\n".join(headers) + "\r\n\r\n" + body + "\r\n").encode()
