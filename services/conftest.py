"""Real PostgreSQL and RabbitMQ servers for the services' tests, started once per session.

Both run from temporary directories on 127.0.0.1 and free ports, so the tests need no
system service and leave nothing behind. As root the servers run as their Debian system
users (initdb refuses root; rabbitmq should not run as root either).
"""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pika
import psycopg
import pytest

SERVICES_DIR = Path(__file__).resolve().parent
for package_dir in ("hotline", "portal", "catalog"):
    sys.path.insert(0, str(SERVICES_DIR / package_dir))

PG_BIN = Path("/usr/lib/postgresql/15/bin")
RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")
LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def wait_until_ready(
    not_ready: Callable[[], str | None], timeout: float, process: subprocess.Popen, log: Path
) -> None:
    """Poll a server we started until `not_ready` returns None; it returns why not, the
    reason the error gives if the server exits or `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"server exited with {process.returncode}:\n{log.read_text()[-3000:]}"
            )
        why = not_ready()
        if why is None:
            return
        if time.monotonic() >= deadline:
            raise RuntimeError(f"{why} after {timeout} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def wait_for_port(port: int, timeout: float, process: subprocess.Popen, log: Path) -> None:
    def not_listening() -> str | None:
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.5):
                return None
        except OSError:
            return f"nothing listens on {LOOPBACK}:{port}"

    wait_until_ready(not_listening, timeout, process, log)


def wait_for_postgres(dsn: str, timeout: float, process: subprocess.Popen, log: Path) -> None:
    """Wait until PostgreSQL accepts a session: it listens before its startup has finished
    and refuses connections until then ("the database system is starting up")."""

    def refusing_sessions() -> str | None:
        try:
            with psycopg.connect(dsn, connect_timeout=2):
                return None
        except psycopg.OperationalError as error:
            return f"postgres refuses sessions ({error})"

    wait_until_ready(refusing_sessions, timeout, process, log)


def stop(server: subprocess.Popen, stop_signal: int) -> None:
    """Stop a server we started, its whole process group if it will not go quietly."""
    if server.poll() is None:
        server.send_signal(stop_signal)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def server_user(name: str) -> dict:
    """subprocess arguments that drop to the system user `name` when we are root."""
    if os.geteuid() != 0:
        return {}
    return {"user": name, "group": pwd.getpwnam(name).pw_gid}


def hand_over(path: Path, name: str) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam(name)
        for item in [path, *path.rglob("*")]:
            os.chown(item, entry.pw_uid, entry.pw_gid)


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway cluster; yields a DSN for its `postgres` database."""
    base = Path(tempfile.mkdtemp(prefix="regionstack-pg-"))
    base.chmod(0o755)
    data, log = base / "data", base / "server.log"
    hand_over(base, "postgres")
    as_postgres = server_user("postgres")
    # trust: a throwaway cluster that only listens on loopback
    initdb_options = ["-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8"]
    subprocess.run(
        [PG_BIN / "initdb", "-D", data, *initdb_options],
        check=True,
        capture_output=True,
        **as_postgres,
    )
    # postgres runs as our child, not daemonized by pg_ctl, so we reap it ourselves and
    # no orphan or zombie is left behind.
    port = free_port()
    server_options = ["-c", f"listen_addresses={LOOPBACK}", "-c", "fsync=off"]
    with log.open("wb") as log_file:
        server = subprocess.Popen(
            [PG_BIN / "postgres", "-D", data, "-p", str(port), "-k", base, *server_options],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **as_postgres,
        )
    try:
        dsn = f"postgresql://postgres@{LOOPBACK}:{port}/postgres"
        wait_for_postgres(dsn, 30, server, log)
        yield dsn
    finally:
        stop(server, signal.SIGINT)  # SIGINT: PostgreSQL's fast shutdown
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def database_url(postgres_server):
    """A fresh, empty database per test, so tests cannot see each other's rows."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield postgres_server.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def rabbitmq_server():
    """A throwaway RabbitMQ node; yields its AMQP URL. Its own epmd on a free loopback port,
    so a system epmd/rabbitmq is neither needed nor disturbed; both are stopped at the end."""
    base = Path(tempfile.mkdtemp(prefix="regionstack-rabbitmq-"))
    base.chmod(0o755)
    amqp_port, dist_port, epmd_port = free_port(), free_port(), free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(base),  # the Erlang cookie is created here
        "LANG": "C.UTF-8",
        "RABBITMQ_NODENAME": f"regionstack-test-{amqp_port}@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": LOOPBACK,
        "RABBITMQ_NODE_PORT": str(amqp_port),
        "RABBITMQ_DIST_PORT": str(dist_port),
        "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
        "RABBITMQ_LOG_BASE": str(base / "log"),
        "RABBITMQ_LOGS": "-",
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
        "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"),
        "RABBITMQ_PID_FILE": str(base / "rabbitmq.pid"),
        "ERL_EPMD_ADDRESS": LOOPBACK,
        "ERL_EPMD_PORT": str(epmd_port),
    }
    (base / "enabled_plugins").write_text("[].\n")
    (base / "rabbitmq.conf").write_text("loopback_users = none\n")
    log = base / "server.log"
    hand_over(base, "rabbitmq")
    as_rabbitmq = server_user("rabbitmq")
    # A private epmd as our child: the node would otherwise start a daemonized one that
    # outlives it.
    epmd = subprocess.Popen(
        ["epmd", "-address", LOOPBACK, "-port", str(epmd_port)],
        env=env,
        start_new_session=True,
        **as_rabbitmq,
    )
    server = None
    try:
        wait_for_port(epmd_port, 10, epmd, log)
        with log.open("wb") as log_file:
            server = subprocess.Popen(
                [RABBITMQ_BIN / "rabbitmq-server"],
                env=env,
                cwd=base,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **as_rabbitmq,
            )
        wait_for_port(amqp_port, 60, server, log)
        yield f"amqp://guest:guest@{LOOPBACK}:{amqp_port}/%2F"
    finally:
        if server is not None:
            subprocess.run(
                [RABBITMQ_BIN / "rabbitmqctl", "stop"],
                env=env,
                cwd=base,
                check=False,
                capture_output=True,
                timeout=60,
                **as_rabbitmq,
            )
            stop(server, signal.SIGTERM)
        stop(epmd, signal.SIGTERM)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def amqp_channel(rabbitmq_server):
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_server))
    yield connection.channel()
    connection.close()


@pytest.fixture
def hotline_settings(database_url, rabbitmq_server):
    from hotline.settings import Settings

    return Settings(
        database_url=database_url,
        amqp_url=rabbitmq_server,
        region_code="330127",
        api_token="test-token-0f3a9c",
    )


@pytest.fixture
def work_order_queue(amqp_channel):
    """A durable queue bound to the work-order exchange for every routing key; without a
    bound queue the hotline refuses work orders (they are published as mandatory)."""
    from hotline import work_orders

    work_orders.declare_exchange(amqp_channel)
    name = f"test.work_orders.{uuid.uuid4().hex[:8]}"
    amqp_channel.queue_declare(name, durable=True)
    amqp_channel.queue_bind(name, work_orders.EXCHANGE, routing_key="#")
    yield name
    amqp_channel.queue_delete(name)
