"""IMAP intake: every enabled, unpaused mailbox synced by one green thread of one mailsync instance.

How nothing is lost or doubled:
- Bookkeeping per folder: the UIDVALIDITY it was read under and the highest UID committed
  (`mail_folder_states`), advanced in the transaction that stores the messages. A restart resumes
  after the last commit (UIDs below it are never fetched again; none above it is skipped).
- A UIDVALIDITY change (the server renumbered the folder) restarts the folder from UID 1 under the
  new value; every message is read again and the dedupe key (Message-ID, else sha256 of the bytes,
  unique per mailbox) keeps the ones already stored from being stored or told twice — no duplicate,
  no stall.
- A message is committed (stored + deduplicated + `mail.received` in the outbox) before it is flagged
  on the server (`$CustopsImported`, a keyword: never `\\Seen`, which is the team's). A crash between
  the two re-reads it and the dedupe key absorbs it; the flag is for people, never our bookkeeping.
- IDLE when the server has it (on the first watched folder; the others are read on every wake, at
  least every `idle_seconds`), polling every `poll_seconds` otherwise.
- Isolation: each mailbox has its own green thread and IMAP connection; parsing a large message runs
  in a native thread (`eventlet.tpool`) so it never holds the hub; large messages are fetched alone,
  batches are bounded in count and bytes. A failure backs off (to `backoff_max` seconds) for that
  mailbox only and is reported in its status.
- Several instances: a mailbox is synced only under its lease (`mailbox_leases`), renewed every third
  of its lifetime; another instance takes it over once it expired. Each commit checks the lease in
  its transaction.

Environment: `CUSTOPS_MAIL_LEASE_SECONDS` (15), `CUSTOPS_MAIL_POLL_SECONDS` (10),
`CUSTOPS_MAIL_IDLE_SECONDS` (60), `CUSTOPS_MAIL_SCAN_SECONDS` (1: how soon a new, resumed or
orphaned mailbox is picked up), `CUSTOPS_MAIL_SIZE_LIMIT` (bytes, 25 MiB), `CUSTOPS_MAIL_INTAKE`
(`on`; `off` runs no sync loops in this process).
"""
from __future__ import annotations

import ctypes
import logging
import os
import socket
import ssl
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

import eventlet
import imapclient
import imapclient.imapclient
from eventlet import tpool
from imapclient.exceptions import IMAPClientError, LoginError
from sqlalchemy import select
from sqlalchemy.orm import Session

from custops import db
from mailsync import intake, intake_store, mail_auth, parsing
from mailsync.blob_store import sha256_of
from mailsync.models import mailboxes
from mailsync.oauth2 import OAuth2Error
from mailsync.secrets_box import UnreadableSecret

# eventlet's green `select` has no poll(): make imapclient's IDLE wait on select(), which is green
imapclient.imapclient.POLL_SUPPORT = False

log = logging.getLogger(__name__)

IMPORTED_KEYWORD = "$CustopsImported"
TPOOL_PARSE_BYTES = 256 * 1024  # parse messages larger than this in a native thread


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


@dataclass(frozen=True)
class Settings:
    lease_seconds: float = 15.0
    poll_seconds: float = 10.0
    idle_seconds: float = 60.0
    scan_seconds: float = 1.0
    batch_size: int = 200
    batch_bytes: int = 8 * 1024 * 1024
    size_limit: int = parsing.DEFAULT_SIZE_LIMIT
    backoff_min: float = 0.25
    backoff_max: float = 10.0
    timeout: float = 30.0

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(lease_seconds=_env_float("CUSTOPS_MAIL_LEASE_SECONDS", 15.0),
                   poll_seconds=_env_float("CUSTOPS_MAIL_POLL_SECONDS", 10.0),
                   idle_seconds=_env_float("CUSTOPS_MAIL_IDLE_SECONDS", 60.0),
                   scan_seconds=_env_float("CUSTOPS_MAIL_SCAN_SECONDS", 1.0),
                   size_limit=int(_env_float("CUSTOPS_MAIL_SIZE_LIMIT", parsing.DEFAULT_SIZE_LIMIT)))


# --- connecting, and saying why it failed ----------------------------------------------------------

class ConnectionProblem(Exception):
    """Why a mailbox could not be reached: `kind` is dns, connect, tls, auth, folder, secret or protocol."""

    def __init__(self, kind: str, message: str):
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


def problem_of(exc: BaseException, host: str = "", port: int = 0) -> ConnectionProblem:
    """A clear reason for an exception met while connecting or syncing (never the password)."""
    if isinstance(exc, ConnectionProblem):
        return exc
    if isinstance(exc, socket.gaierror):
        return ConnectionProblem("dns", f"the host name {host!r} does not resolve ({exc.strerror or exc})")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return ConnectionProblem("tls", f"the server's certificate was refused: {exc.verify_message or exc}")
    if isinstance(exc, ssl.SSLError):
        reason = getattr(exc, "reason", None) or exc
        return ConnectionProblem("tls", f"TLS failed ({reason}); check the port and the TLS setting")
    if isinstance(exc, OAuth2Error):  # the token endpoint refused (kind oauth2), or the server a fresh token (auth)
        return ConnectionProblem(exc.kind, str(exc))
    if isinstance(exc, UnreadableSecret):
        return ConnectionProblem("secret", "the stored password cannot be decrypted with the configured key "
                                           "(CUSTOPS_SECRET_KEY changed?): set the password again")
    if isinstance(exc, LoginError):
        return ConnectionProblem("auth", "the server refused the user name or password")
    if isinstance(exc, ConnectionRefusedError):
        return ConnectionProblem("connect", f"{host}:{port} refused the connection")
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return ConnectionProblem("connect", f"{host}:{port} did not answer in time")
    if isinstance(exc, OSError):
        return ConnectionProblem("connect", f"{host}:{port}: {exc.strerror or exc}")
    if isinstance(exc, IMAPClientError):
        return ConnectionProblem("protocol", f"the IMAP server answered: {exc}")
    return ConnectionProblem("protocol", f"{type(exc).__name__}: {exc}")


def connect(mailbox: dict, password, timeout: float) -> imapclient.IMAPClient:  # password: str | Credentials
    host, port = mailbox["imap_host"], mailbox["imap_port"]
    try:
        # resolved in a native thread first: a slow resolver never holds the hub, and DNS is its own reason
        tpool.execute(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
        client = imapclient.IMAPClient(host, port=port, ssl=mailbox["imap_tls"],
                                       ssl_context=mail_auth.tls_context(mailbox), timeout=timeout)
        try:
            if mail_auth.imap_security(mailbox) == "starttls":
                mail_auth.imap_starttls(client, mailbox)
            mail_auth.imap_login(client, mailbox, password)
        except BaseException:
            _close(client)
            raise
        return client
    except Exception as exc:  # noqa: BLE001 - every failure gets its reason
        raise problem_of(exc, host, port) from exc


def check_connection(mailbox: dict, password, folders: list[str], timeout: float = 10.0) -> dict:
    """The `test connection` command: `{ok: true, idle, folders: {name: messages}}` or `{ok: false, kind, reason}`."""
    try:
        client = connect(mailbox, password, timeout)
    except ConnectionProblem as problem:
        return {"ok": False, "kind": problem.kind, "reason": problem.message}
    try:
        counts = {}
        for folder in folders:
            try:
                counts[folder] = client.folder_status(folder, [b"MESSAGES"])[b"MESSAGES"]
            except IMAPClientError:
                return {"ok": False, "kind": "folder", "reason": f"the folder {folder!r} does not exist on the server"}
        return {"ok": True, "idle": client.has_capability("IDLE"), "folders": counts}
    except Exception as exc:  # noqa: BLE001
        problem = problem_of(exc, mailbox["imap_host"], mailbox["imap_port"])
        return {"ok": False, "kind": problem.kind, "reason": problem.message}
    finally:
        _close(client)


def _close(client) -> None:
    try:
        client.logout()
    except Exception:  # noqa: BLE001 - it is going away either way
        try:
            client.shutdown()
        except Exception:  # noqa: BLE001
            pass


# --- preparing fetched messages ----------------------------------------------------------------------

def prepare(raw: bytes, uid: int, received_at: datetime, *, ours: intake.OurAddresses, size_limit: int,
            matcher) -> intake_store.Incoming:
    """Parse and match one fetched message (`matcher(email) -> Match | None`)."""
    raw_sha256 = sha256_of(raw)
    own = ours.own
    try:
        parsed = (tpool.execute(parsing.parse, raw, size_limit=size_limit, own_addresses=own)
                  if len(raw) > TPOOL_PARSE_BYTES else parsing.parse(raw, size_limit=size_limit, own_addresses=own))
    except parsing.Unparseable as exc:
        return intake_store.Incoming(uid=uid, raw=raw, raw_sha256=raw_sha256, received_at=received_at,
                                     dedupe_key=f"sha256:{raw_sha256}", status=intake.QUARANTINED,
                                     row={"quarantine_reason": exc.reason}, received=None, attachments=[],
                                     match=None)
    mail_id = uuid.uuid4()
    attachments = [(a.sha256, a.data) for a in parsed.attachments]
    described = [{"sha256": a.sha256, "filename": a.filename, "content_type": a.content_type, "size": a.size,
                  "content_id": a.content_id, "inline": a.inline} for a in parsed.attachments]
    senders = intake.senders_of(parsed, own)
    received = intake.received_payload(parsed, senders, mail_id=mail_id, mailbox_id=ours.route(parsed), own=own,
                                       received_at=received_at, raw_sha256=raw_sha256, attachments=described)
    sender = senders.customer  # None: our own mail, or no sender at all: no customer to match
    match = matcher(sender.email) if sender is not None and sender.email else None
    return intake_store.Incoming(
        uid=uid, raw=raw, raw_sha256=raw_sha256, received_at=received_at, dedupe_key=parsing.dedupe_key(parsed),
        status=intake.status_for(match),
        row={"internet_message_id": parsed.message_id, "subject": parsed.subject[:10000],
             "sender_email": received["sender"]["email"][:320] or None, "sender_name": received["sender"]["name"],
             "sent_at": parsed.sent_at, "oversized": parsed.oversized},
        received=received, attachments=attachments, match=match)


def batches(sizes: dict[int, int], max_count: int, max_bytes: int) -> list[list[int]]:
    """UIDs in order, grouped so that a batch holds at most `max_count` messages and `max_bytes`
    (a message larger than `max_bytes` goes alone)."""
    out: list[list[int]] = []
    current: list[int] = []
    total = 0
    for uid in sorted(sizes):
        size = sizes[uid]
        if current and (len(current) >= max_count or total + size > max_bytes):
            out.append(current)
            current, total = [], 0
        current.append(uid)
        total += size
    if current:
        out.append(current)
    return out


# --- one mailbox ---------------------------------------------------------------------------------------

@dataclass
class MailboxSync:
    """The sync loop of one mailbox, in its own green thread, while this instance holds its lease."""

    mailbox_id: uuid.UUID
    tenant_id: uuid.UUID
    holder: str
    settings: Settings
    secrets: object  # SecretBox
    rpc: object  # custops.rpc.RpcClient
    engine: object
    running: bool = True
    client: imapclient.IMAPClient | None = None
    thread: object = None
    imported: int = 0
    _ours: intake.OurAddresses | None = None
    _uidnext: dict = field(default_factory=dict)  # folder -> UIDNEXT its last sync saw

    def stop(self) -> None:
        self.running = False

    def run(self) -> None:
        backoff = self.settings.backoff_min
        while self.running:
            try:
                mailbox = self._mailbox()
                if mailbox is None:
                    return  # removed, paused or disabled: the manager lets the lease go
                credentials = mail_auth.credentials_for(
                    mailbox, self.secrets, mail_auth.store_rotated_refresh_token(self.engine, self.secrets, mailbox))
                self.client = connect(mailbox, credentials, self.settings.timeout)
                backoff = self.settings.backoff_min
                self._status(connected=True, last_error=None)
                self._sync_forever(mailbox)
            except intake_store.LeaseLost:
                log.info("mailbox %s: lease lost; another instance syncs it now", self.mailbox_id)
                self.running = False
            except Exception as exc:  # noqa: BLE001 - this mailbox backs off; the others go on
                problem = problem_of(exc)
                log.warning("mailbox %s: %s (retrying in %.1fs)", self.mailbox_id, problem, backoff)
                self._status_quietly(connected=False, last_error=str(problem)[:2000],
                                     last_error_at=datetime.now(timezone.utc))
                self._sleep(backoff)
                backoff = min(backoff * 2, self.settings.backoff_max)
            finally:
                client, self.client = self.client, None
                if client is not None:
                    _close(client)
        self._status_quietly(connected=False)

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while self.running and time.monotonic() < deadline:
            eventlet.sleep(min(0.1, deadline - time.monotonic()))

    def _mailbox(self) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(mailboxes).where(mailboxes.c.id == self.mailbox_id)).mappings().first()
        if row is None or not row["enabled"] or row["paused"]:
            return None
        with self.engine.connect() as conn:
            tenant_mailboxes = conn.execute(select(mailboxes.c.id, mailboxes.c.email, mailboxes.c.username,
                                                   mailboxes.c.addresses)
                                            .where(mailboxes.c.tenant_id == row["tenant_id"])).mappings().all()
        self._ours = intake.OurAddresses.of(self.mailbox_id, [dict(m) for m in tenant_mailboxes])
        return dict(row)

    def _sync_forever(self, mailbox: dict) -> None:
        folders = list(mailbox["folders"] or ["INBOX"])
        idle = self.client.has_capability("IDLE")
        while self.running:
            for folder in folders:
                self._sync_folder(folder)
            self._status(connected=True, mode="idle" if idle else "poll", last_sync_at=datetime.now(timezone.utc),
                         backlog=0, last_error=None)
            if not self.running:
                return
            fresh = self._mailbox()
            if fresh is None or list(fresh["folders"]) != folders or fresh["updated_at"] != mailbox["updated_at"]:
                return  # paused, removed, or its settings changed: reconnect (or stop) with the new ones
            if idle:
                self._idle(folders[0])
            else:
                self._sleep(self.settings.poll_seconds)

    def _idle(self, folder: str) -> None:
        """Wait in IDLE on `folder` until the server says something changed (or `idle_seconds`).

        Mail that arrived between the sync's SELECT and this one raises no EXISTS in IDLE: a UIDNEXT
        other than the one the sync saw sends us back to syncing at once."""
        selected = self.client.select_folder(folder)
        if selected.get(b"UIDNEXT") != self._uidnext.get(folder):
            return
        self.client.idle()
        try:
            deadline = time.monotonic() + self.settings.idle_seconds
            while self.running and time.monotonic() < deadline:
                responses = self.client.idle_check(timeout=0.25)
                if any(isinstance(r, tuple) and len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses):
                    return
        finally:
            self.client.idle_done()

    def _sync_folder(self, folder: str) -> None:
        selected = self.client.select_folder(folder)
        self._uidnext[folder] = selected.get(b"UIDNEXT")
        uidvalidity = int(selected[b"UIDVALIDITY"])
        with Session(self.engine) as session:
            state = intake_store.folder_state(session, self.mailbox_id, folder)
        last_uid = 0
        if state is not None and state[0] == uidvalidity:
            last_uid = state[1]
        elif state is not None:
            log.warning("mailbox %s folder %s: UIDVALIDITY %s -> %s: reading it again (duplicates absorbed)",
                        self.mailbox_id, folder, state[0], uidvalidity)
        if int(selected.get(b"UIDNEXT", last_uid + 2) or 0) <= last_uid + 1 and state is not None \
                and state[0] == uidvalidity:
            return  # nothing new
        uids = [u for u in self.client.search(["UID", f"{last_uid + 1}:*"]) if u > last_uid]
        if not uids:
            return
        sizes = {uid: int(data.get(b"RFC822.SIZE", 0))
                 for uid, data in self.client.fetch(uids, [b"RFC822.SIZE"]).items()}
        backlog = len(sizes)
        self._status(backlog=backlog)
        for batch in batches(sizes, self.settings.batch_size, self.settings.batch_bytes):
            if not self.running:
                return
            self._import(folder, uidvalidity, batch)
            backlog -= len(batch)
            self._status(backlog=backlog)

    def _import(self, folder: str, uidvalidity: int, uids: list[int]) -> None:
        fetched = self.client.fetch(uids, [b"BODY.PEEK[]", b"INTERNALDATE"])
        matches: dict[str, intake.Match | None] = {}

        def matcher(email: str):
            if email not in matches:
                answer = self.rpc.call("customers", "match_sender", str(self.tenant_id), email)
                matches[email] = intake.match_from(answer, uuid.uuid4())
            return matches[email]

        prepared = []
        for uid in uids:
            data = fetched.pop(uid, None)
            if data is None or b"BODY[]" not in data:
                continue  # expunged meanwhile
            received_at = _aware(data.get(b"INTERNALDATE"))
            prepared.append(prepare(bytes(data[b"BODY[]"]), uid, received_at, ours=self._ours,
                                    size_limit=self.settings.size_limit, matcher=matcher))
            # parsing is CPU: let the other mailboxes and the lease renewals run between messages (a
            # batch parsed in one go held the hub past the lease, and its commit was refused)
            eventlet.sleep(0)
        del fetched
        with db.transaction(self.engine, "mailsync") as session:
            self.imported += intake_store.store_batch(
                session, _blobs(), tenant_id=self.tenant_id, mailbox_id=self.mailbox_id, holder=self.holder,
                folder=folder, uidvalidity=uidvalidity, messages=prepared, last_uid=max(uids))
        # committed: now the flag (a crash before it re-reads these; their dedupe keys absorb it)
        self.client.add_flags([m.uid for m in prepared], [IMPORTED_KEYWORD], silent=True)
        if sum(len(m.raw) for m in prepared) >= LARGE_BATCH_BYTES:
            del prepared
            give_back_memory()

    def _status(self, **values) -> None:
        with db.transaction(self.engine, "mailsync") as session:
            intake_store.report_status(session, self.tenant_id, self.mailbox_id, **values)

    def _status_quietly(self, **values) -> None:
        try:
            self._status(**values)
        except Exception:  # noqa: BLE001 - the database may be what failed
            log.debug("mailbox %s: status not recorded", self.mailbox_id, exc_info=True)


def one_malloc_arena() -> None:
    """glibc gives each native thread a malloc arena of its own: what a large message's parse (in a
    tpool thread) freed stayed in that arena, unusable by the hub's thread, and a 25 MB message's
    import peaked 27 MB higher. One arena for the process (before the tpool threads exist): the GIL
    serialises Python's allocations anyway. Not glibc: nothing to do."""
    try:
        ctypes.CDLL("libc.so.6").mallopt(_M_ARENA_MAX, 1)
    except (OSError, AttributeError):
        pass


def give_back_memory() -> None:
    """Return freed heap to the system after a large message (glibc keeps it otherwise), so that a
    mailbox's one 25 MB mail does not leave the process that much larger at rest."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


_M_ARENA_MAX = -8  # glibc's mallopt parameter
LARGE_BATCH_BYTES = 8 * 1024 * 1024  # a batch this large gives its memory back when stored


def _aware(value) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime.now(timezone.utc)


def _blobs():
    from mailsync.blob_store import store

    return store


# --- every mailbox of this instance -------------------------------------------------------------------

class IntakeManager:
    """Takes the leases of mailboxes nobody syncs, runs a `MailboxSync` for each, renews the leases,
    stops the syncs of mailboxes paused, disabled or removed, and lets their leases go."""

    def __init__(self, engine, secrets, rpc, settings: Settings | None = None, spawn=eventlet.spawn):
        self.engine = engine
        self.secrets = secrets
        self.rpc = rpc
        self.settings = settings or Settings.from_env()
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.spawn = spawn
        self.syncs: dict[uuid.UUID, MailboxSync] = {}
        self.running = True
        self._last_renew = 0.0

    def run(self) -> None:
        while self.running:
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - the database may be away: try again
                log.warning("mail intake: scan failed", exc_info=True)
            deadline = time.monotonic() + self.settings.scan_seconds
            while self.running and time.monotonic() < deadline:
                eventlet.sleep(0.1)

    def tick(self) -> None:
        now = time.monotonic()
        with db.transaction(self.engine, "mailsync") as session:
            wanted = {r["id"]: r for r in intake_store.syncable(session)}
            if now - self._last_renew >= self.settings.lease_seconds / 3:
                held = intake_store.renew_leases(session, self.holder, self.settings.lease_seconds)
                self._last_renew = now
            else:
                held = set(self.syncs)
        for mailbox_id, sync in list(self.syncs.items()):
            finished = sync.thread is not None and sync.thread.dead
            if mailbox_id not in wanted or mailbox_id not in held or finished or not sync.running:
                sync.stop()
                self.syncs.pop(mailbox_id)
                if mailbox_id in held:
                    self._release(mailbox_id, sync)
        for mailbox_id, row in wanted.items():
            if mailbox_id in self.syncs:
                continue
            with db.transaction(self.engine, "mailsync") as session:
                if not intake_store.acquire_lease(session, mailbox_id, self.holder, self.settings.lease_seconds):
                    continue
            sync = MailboxSync(mailbox_id, row["tenant_id"], self.holder, self.settings, self.secrets, self.rpc,
                               self.engine)
            sync.thread = self.spawn(sync.run)
            self.syncs[mailbox_id] = sync

    def _release(self, mailbox_id, sync: MailboxSync) -> None:
        if sync.thread is not None and not sync.thread.dead:
            with eventlet.Timeout(5, False):
                sync.thread.wait()
        try:
            with db.transaction(self.engine, "mailsync") as session:
                intake_store.release_lease(session, mailbox_id, self.holder)
        except Exception:  # noqa: BLE001 - it expires by itself
            log.warning("mailbox %s: lease not released", mailbox_id, exc_info=True)

    def stop(self, grace: float = 2.0) -> None:
        """Every sync asked to stop at once, given `grace` seconds together (one in IDLE leaves it
        within a quarter second), the rest killed; then every lease of this instance let go, so
        another instance takes the mailboxes over at once rather than when the leases expire."""
        self.running = False
        syncs, self.syncs = list(self.syncs.values()), {}
        for sync in syncs:
            sync.stop()
        deadline = time.monotonic() + grace
        for sync in syncs:
            if sync.thread is not None and not sync.thread.dead:
                with eventlet.Timeout(max(deadline - time.monotonic(), 0.01), False):
                    sync.thread.wait()
                if not sync.thread.dead:
                    sync.thread.kill()
        try:
            with db.transaction(self.engine, "mailsync") as session:
                intake_store.release_leases(session, self.holder)
        except Exception:  # noqa: BLE001 - they expire by themselves
            log.warning("mail intake: leases not released", exc_info=True)


try:
    from nameko.extensions import DependencyProvider
except ImportError:  # pragma: no cover
    DependencyProvider = object  # type: ignore[assignment,misc]


class MailIntake(DependencyProvider):
    """nameko dependency running the IMAP intake inside the mailsync process (off with CUSTOPS_MAIL_INTAKE=off)."""

    def setup(self):
        self.manager = None
        self.enabled = os.environ.get("CUSTOPS_MAIL_INTAKE", "on").strip().lower() not in ("off", "0", "no")

    def start(self):
        if not self.enabled:
            return
        from custops.rpc import RpcClient
        from mailsync import secrets_box

        db.cooperative_psycopg()
        one_malloc_arena()
        self._rpc = RpcClient(self.container.config.get("AMQP_URI"))
        self.manager = IntakeManager(db.engine_for(self.container.service_name), secrets_box.load(), self._rpc)
        self._thread = eventlet.spawn(self.manager.run)

    def stop(self):
        if self.manager is not None:
            self.manager.stop()
            self._thread.kill()
            self._rpc.close()
            self.manager = None

    def kill(self):
        self.stop()

    def get_dependency(self, worker_ctx):
        return self.manager
