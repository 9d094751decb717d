#!/usr/bin/env bash
# Make sure RabbitMQ and PostgreSQL are reachable; idempotent.
#
#   AMQP_URI      set: only check it answers.  unset: amqp://guest:guest@127.0.0.1:5672//, started
#                 (and installed with apt-get, as root) here when nothing answers on 5672.
#   DATABASE_URL  set: only check it answers.  unset: postgresql://postgres@127.0.0.1:5432/postgres,
#                 started (and installed, as root) here when nothing answers on 5432.
#
# `infra.sh python` makes sure python3 + venv are there (used by `make venv`).
# Only plain AMQP is needed (classic + quorum queues: RabbitMQ >= 3.8); no management plugin.
set -euo pipefail

DEFAULT_AMQP_URI='amqp://guest:guest@127.0.0.1:5672//'
DEFAULT_DATABASE_URL='postgresql://postgres@127.0.0.1:5432/postgres'
WAIT_SECONDS=60
export PATH="$PATH:/usr/sbin:/sbin"   # rabbitmq-server, rabbitmqctl live in /usr/sbin

log() { echo "infra: $*" >&2; }
die() { echo "infra: ERROR: $*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }
is_root() { [ "$(id -u)" -eq 0 ]; }

# hide the password when printing a URL
redact() { sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#' <<<"$1"; }

# url_hostport URL DEFAULT_PORT -> "host port"
url_hostport() {
    python3 - "$1" "$2" <<'EOF'
import sys
from urllib.parse import urlsplit
u = urlsplit(sys.argv[1])
try:
    port = u.port or int(sys.argv[2])
except ValueError:
    sys.exit("bad port in URL")
print(u.hostname or "127.0.0.1", port)
EOF
}

# tcp_open HOST PORT [amqp]: 0 when something accepts a TCP connection within 3 s.
# With "amqp", also require an AMQP 0-9-1 server to answer the protocol header.
tcp_open() {
    python3 - "$1" "$2" "${3:-}" <<'EOF' 2>/dev/null
import socket, sys
host, port, proto = sys.argv[1], int(sys.argv[2]), sys.argv[3]
try:
    with socket.create_connection((host, port), timeout=3) as s:
        if proto == "amqp":
            s.settimeout(5)
            s.sendall(b"AMQP\x00\x00\x09\x01")
            # connection.start is a method frame: type 1
            sys.exit(0 if s.recv(1) == b"\x01" else 1)
except OSError:
    sys.exit(1)
EOF
}

APT_UPDATED=0
apt_install() {
    is_root && have apt-get || return 1
    if [ "$APT_UPDATED" -eq 0 ]; then
        log "apt-get update"
        apt-get update -qq
        APT_UPDATED=1
    fi
    log "apt-get install $*"
    # no policy-rc.d tricks: if the package's own start works, fine; we start it ourselves otherwise
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# wait_for SECONDS CMD...: run CMD every second until it succeeds
wait_for() {
    local deadline=$((SECONDS + $1)); shift
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 1
    done
}

# ---------------------------------------------------------------------------------------- RabbitMQ

rabbitmq() {
    local uri host port proto=""
    if [ -n "${AMQP_URI:-}" ]; then
        uri=$AMQP_URI
        read -r host port < <(url_hostport "$uri" 5672) || die "cannot parse AMQP_URI=$(redact "$uri")"
        [[ $uri == amqp://* ]] && proto=amqp
        tcp_open "$host" "$port" $proto \
            || die "RabbitMQ at AMQP_URI=$(redact "$uri") ($host:$port) is not reachable. Start it, or unset AMQP_URI to use a local one."
        echo "rabbitmq: ok ($(redact "$uri"))"
        return
    fi

    uri=$DEFAULT_AMQP_URI host=127.0.0.1 port=5672
    if ! tcp_open "$host" "$port" amqp; then
        if ! have rabbitmq-server; then
            apt_install rabbitmq-server \
                || die "nothing answers on $host:$port and rabbitmq-server is not installed. Install it (Debian/Ubuntu: sudo apt-get install rabbitmq-server; or run this as root), or set AMQP_URI to a running broker."
            # the package may have started it already
            wait_for 5 tcp_open "$host" "$port" amqp || true
        fi
    fi
    if ! tcp_open "$host" "$port" amqp; then
        have rabbitmq-server || die "rabbitmq-server not found on PATH (try PATH=\$PATH:/usr/sbin)"
        if is_root || [ "$(id -un)" = rabbitmq ]; then
            # -detached forks and returns at once; it fails harmlessly when a node is already booting
            log "starting RabbitMQ (rabbitmq-server -detached)"
            rabbitmq-server -detached || log "rabbitmq-server -detached exited $? (a node may already be starting)"
        else
            die "RabbitMQ is installed but not running, and only root or the rabbitmq user can start it: run 'sudo rabbitmq-server -detached' (or 'sudo systemctl start rabbitmq-server'), or set AMQP_URI."
        fi
        # `rabbitmqctl await_startup` right after the start exits 69 (node not registered yet), so poll
        # the AMQP port itself: it opens last, once the broker accepts clients.
        wait_for "$WAIT_SECONDS" tcp_open "$host" "$port" amqp \
            || die "RabbitMQ did not come up on $host:$port within ${WAIT_SECONDS}s; see /var/log/rabbitmq/"
    fi
    echo "rabbitmq: ok ($(redact "$uri"))"
}

# -------------------------------------------------------------------------------------- PostgreSQL

# libpq does not know SQLAlchemy's "+driver" suffix
libpq_url() { sed -E 's#^postgres(ql)?\+[a-z0-9_]+://#postgresql://#' <<<"$1"; }

pg_answers() {  # URL HOST PORT
    if have pg_isready; then
        pg_isready -q -t 3 -d "$(libpq_url "$1")"
    else
        tcp_open "$2" "$3"
    fi
}

pg_can_login() {  # URL: 0 = logged in, 1 = refused, 2 = cannot tell (no psql)
    have psql || return 2
    PGCONNECT_TIMEOUT=5 psql "$(libpq_url "$1")" -w -Atqc 'select 1' >/dev/null 2>&1 || return 1
}

# version of the cluster to start: the one configured on port 5432, else the first one
pg_cluster_version() {
    local v
    if have pg_lsclusters; then
        v=$(pg_lsclusters -h 2>/dev/null | awk '$2 == "main" && $3 == 5432 {print $1; exit}')
        [ -n "$v" ] && { echo "$v"; return; }
    fi
    ls /etc/postgresql 2>/dev/null | sort -V | head -1
}

# Let user postgres in over TCP from localhost without a password (Debian default: scram-sha-256).
# Only for a server this script installed: never rewrite someone else's pg_hba.conf.
pg_allow_local_trust() {
    local version=$1 hba
    hba=/etc/postgresql/$version/main/pg_hba.conf
    [ -f "$hba" ] || die "$hba not found"
    if ! grep -q '^# custops: local trust' "$hba"; then
        log "allowing trust auth for postgres on 127.0.0.1 / ::1 in $hba"
        # first matching line wins: put ours on top
        {
            echo '# custops: local trust for development (added by scripts/infra.sh)'
            echo 'host    all    postgres    127.0.0.1/32    trust'
            echo 'host    all    postgres    ::1/128         trust'
            cat "$hba"
        } >"$hba.custops.tmp"
        chown --reference="$hba" "$hba.custops.tmp"
        chmod --reference="$hba" "$hba.custops.tmp"
        mv "$hba.custops.tmp" "$hba"
    fi
    pg_ctlcluster --skip-systemctl-redirect "$version" main reload
}

postgresql() {
    local url host port version installed=0
    if [ -n "${DATABASE_URL:-}" ]; then
        url=$DATABASE_URL
        read -r host port < <(url_hostport "$url" 5432) || die "cannot parse DATABASE_URL=$(redact "$url")"
        pg_answers "$url" "$host" "$port" \
            || die "PostgreSQL at DATABASE_URL=$(redact "$url") is not reachable. Start it, or unset DATABASE_URL to use a local one."
        pg_can_login "$url" || [ $? -eq 2 ] \
            || die "PostgreSQL at DATABASE_URL=$(redact "$url") answers but refuses the login (check user/password/pg_hba.conf)."
        echo "postgresql: ok ($(redact "$url"))"
        return
    fi

    url=$DEFAULT_DATABASE_URL host=127.0.0.1 port=5432
    if ! pg_answers "$url" "$host" "$port"; then
        if ! have pg_ctlcluster || [ -z "$(pg_cluster_version)" ]; then
            apt_install postgresql \
                || die "nothing answers on $host:$port and PostgreSQL is not installed. Install it (Debian/Ubuntu: sudo apt-get install postgresql; or run this as root), or set DATABASE_URL to a running server."
            installed=1
        fi
        version=$(pg_cluster_version)
        [ -n "$version" ] || die "no PostgreSQL cluster in /etc/postgresql; create one (pg_createcluster <version> main) or set DATABASE_URL."
        if ! pg_answers "$url" "$host" "$port"; then
            is_root || [ "$(id -un)" = postgres ] \
                || die "PostgreSQL $version is installed but not running: run 'sudo pg_ctlcluster $version main start', or set DATABASE_URL."
            log "starting PostgreSQL $version/main"
            # exits 2 when the cluster already runs (e.g. the package started it meanwhile): poll below decides
            pg_ctlcluster --skip-systemctl-redirect "$version" main start \
                || log "pg_ctlcluster $version main start exited $?"
        fi
        # pg_isready exits 1 while the server is still starting up
        wait_for "$WAIT_SECONDS" pg_isready -q -t 3 -h "$host" -p "$port" \
            || die "PostgreSQL did not come up on $host:$port within ${WAIT_SECONDS}s; see /var/log/postgresql/"
    fi
    local rc=0
    pg_can_login "$url" || rc=$?
    if [ "$rc" -eq 1 ]; then
        if [ "$installed" -eq 1 ]; then
            pg_allow_local_trust "$version"
            wait_for 10 pg_can_login "$url" || die "still cannot log in as postgres on $host:$port after enabling trust auth"
        else
            die "PostgreSQL on $host:$port refuses user postgres without a password. Allow it in pg_hba.conf
       (host all postgres 127.0.0.1/32 trust, then reload), or set DATABASE_URL with a user and password."
        fi
    fi
    echo "postgresql: ok ($(redact "$url"))"
}

# ------------------------------------------------------------------------ RabbitMQ user (make run)

# `make run` talks to the local broker as its own user, never guest (docs/access.md, the trust model).
# Creates user `custops` on the local broker with a password generated once and kept in
# var/rabbitmq.env (mode 0600, AMQP_URI=...), which `make run` reads. Nothing to do when AMQP_URI is
# set (the operator chose the broker and its user); only a warning when rabbitmqctl cannot be used
# (not root): `make run` then stays on guest, which RabbitMQ accepts from localhost only.
RABBITMQ_USER=custops
rabbitmq_user() {
    local root env_file password
    if [ -n "${AMQP_URI:-}" ]; then
        echo "rabbitmq-user: AMQP_URI is set; its user is used"
        return
    fi
    if ! have rabbitmqctl || ! { is_root || [ "$(id -un)" = rabbitmq ]; }; then
        log "cannot run rabbitmqctl here (root or the rabbitmq user needed): make run uses guest on 127.0.0.1"
        return
    fi
    root=$(cd "$(dirname "$0")/.." && pwd)
    env_file=$root/var/rabbitmq.env
    mkdir -p "$root/var"
    if [ -f "$env_file" ]; then
        password=$(sed -nE 's#^AMQP_URI=amqp://[^:]*:([^@]*)@.*#\1#p' "$env_file")
    fi
    if [ -z "${password:-}" ]; then
        password=$(python3 -c 'import secrets; print(secrets.token_hex(20))')
        (umask 077; echo "AMQP_URI=amqp://$RABBITMQ_USER:$password@127.0.0.1:5672//" >"$env_file")
    fi
    if rabbitmqctl -q list_users | awk '{print $1}' | grep -qx "$RABBITMQ_USER"; then
        rabbitmqctl -q change_password "$RABBITMQ_USER" "$password" >/dev/null
    else
        log "creating RabbitMQ user $RABBITMQ_USER (password in var/rabbitmq.env)"
        rabbitmqctl -q add_user "$RABBITMQ_USER" "$password" >/dev/null
    fi
    rabbitmqctl -q set_permissions -p / "$RABBITMQ_USER" '.*' '.*' '.*' >/dev/null
    echo "rabbitmq-user: ok ($RABBITMQ_USER, AMQP_URI in var/rabbitmq.env)"
}

# ------------------------------------------------------------------------------------------ Python

# python3 with venv + ensurepip (Debian ships them as python3-venv); also used by the checks above
python() {
    if have python3 && python3 -c 'import ensurepip, venv' 2>/dev/null; then
        echo "python: ok ($(python3 --version 2>&1))"
        return
    fi
    apt_install python3 python3-venv \
        || die "python3 with the venv module is needed: install it (Debian/Ubuntu: sudo apt-get install python3 python3-venv)."
    echo "python: ok ($(python3 --version 2>&1))"
}

# ------------------------------------------------------------------------------------------ Dovecot

# The IMAP server the mail intake tests start on loopback from a config of their own (tests/mail_servers.py):
# only the binary is needed. The package's own system service is not started or configured here.
# (`type -P`/`command`: this function's name would shadow the binary's)
dovecot() {
    if ! type -P dovecot >/dev/null; then
        apt_install dovecot-imapd \
            || die "dovecot (the IMAP server the mail tests run) is not installed. Install it (Debian/Ubuntu: sudo apt-get install dovecot-imapd; or run this as root)."
    fi
    echo "dovecot: ok ($(command dovecot --version 2>/dev/null | cut -d' ' -f1))"
}

# usage: infra.sh [rabbitmq] [postgresql] [python] [rabbitmq-user] [dovecot]   (default: rabbitmq postgresql)
[ "$#" -gt 0 ] || set -- rabbitmq postgresql
for component in "$@"; do
    case $component in
        rabbitmq|postgresql|python|rabbitmq-user|dovecot) ;;
        *) die "unknown component '$component' (rabbitmq, postgresql, python, rabbitmq-user, dovecot)" ;;
    esac
done
have python3 || python >/dev/null
for component in "$@"; do
    "${component//-/_}"
done
