"""A PostgreSQL server for the tests: the one ``ARSHJUL_TEST_POSTGRES_URL`` names, or a
throwaway cluster started from the PostgreSQL binaries on this machine.

The throwaway cluster lives in a temporary folder, listens only on a Unix socket in that folder
(no TCP port, so parallel test sessions never collide), trusts local connections, and skips
fsync: its data is gone when the session ends. ``initdb`` refuses to run as root, so under root
(CI) the cluster runs as the ``postgres`` user that Debian's ``postgresql`` package creates.

Each test database is created fresh (``CREATE DATABASE``) and dropped afterwards, so the URL in
``ARSHJUL_TEST_POSTGRES_URL`` must name a role that may create databases, e.g.
``postgresql://arshjul@localhost/postgres``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import URL, create_engine, text
from sqlalchemy.engine import make_url

URL_VARIABLE = "ARSHJUL_TEST_POSTGRES_URL"
#: the account a cluster runs under when the tests run as root
SERVICE_USER = "postgres"
#: speed over durability: the cluster is thrown away
SETTINGS = {
    "listen_addresses": "''",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


class Unavailable(Exception):
    """No PostgreSQL to test against; the message says why and what would provide one."""


def find_bin_dir() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``: on PATH, or Debian's newest
    ``/usr/lib/postgresql/<version>/bin``."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).resolve().parent
    found = [Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")]
    found = [d for d in found if (d / "initdb").exists()]
    return max(found, key=lambda d: int(d.parent.name), default=None)


class PostgresServer:
    """A PostgreSQL server the tests may create and drop databases in."""

    def __init__(self, url: URL, cluster: _Cluster | None = None) -> None:
        self.url = url
        self._cluster = cluster
        self._admin = create_engine(url, isolation_level="AUTOCOMMIT")

    @classmethod
    def start(cls) -> PostgresServer:
        """The server ``ARSHJUL_TEST_POSTGRES_URL`` names, else a throwaway cluster.
        Raises :class:`Unavailable` when neither can be had."""
        given = os.environ.get(URL_VARIABLE)
        if given:
            url = make_url(given)
            if url.drivername == "postgresql":
                url = url.set(drivername="postgresql+psycopg")
            return cls(url)
        bin_dir = find_bin_dir()
        if bin_dir is None:
            raise Unavailable(
                "PostgreSQL server binaries (initdb, pg_ctl) are not installed and "
                f"{URL_VARIABLE} is not set (.ci/run installs the postgresql package)"
            )
        _Cluster.stop_orphans(bin_dir)
        cluster = _Cluster(bin_dir)
        try:
            cluster.start()
        except BaseException:
            cluster.remove()
            raise
        return cls(cluster.url(), cluster)

    def create_database(self) -> URL:
        """A new empty database; its URL."""
        name = f"arshjul_test_{uuid.uuid4().hex[:12]}"
        with self._admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        return self.url.set(database=name)

    def drop_database(self, url: URL) -> None:
        with self._admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))

    @contextmanager
    def unavailable(self, url: URL) -> Iterator[None]:
        """The database at ``url`` unavailable for the block, as while it restarts: it refuses
        new connections and the open ones are closed."""
        name = url.database
        with self._admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
        self.drop_connections(url)
        try:
            yield
        finally:
            with self._admin.connect() as conn:
                conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))

    def drop_connections(self, url: URL) -> int:
        """Close every open connection to the database at ``url``, as when the server
        restarts or the network drops them; new ones are accepted. How many were closed."""
        with self._admin.connect() as conn:
            closed = conn.execute(
                text(
                    "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))"
                    " FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": url.database},
            ).scalar_one()
        return int(closed)

    def stop(self) -> None:
        self._admin.dispose()
        if self._cluster is not None:
            self._cluster.stop()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, another user's
    return True


class _Cluster:
    """A cluster in a temporary folder, run with ``initdb`` and ``pg_ctl``.

    The folder names the test process that owns it (``owner.pid``): a session killed before
    its teardown leaves its cluster running, and the next session stops and removes it."""

    PREFIX = "arshjul-pg-"

    def __init__(self, bin_dir: Path, root: Path | None = None) -> None:
        self.bin_dir = bin_dir
        self.root = root or Path(tempfile.mkdtemp(prefix=self.PREFIX))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.as_user: str | None = None
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam(SERVICE_USER)
            except KeyError:
                raise Unavailable(
                    f"initdb refuses to run as root and there is no {SERVICE_USER!r} user "
                    "(the postgresql package creates it)"
                ) from None
            self.as_user = SERVICE_USER
            if root is None:
                os.chown(self.root, account.pw_uid, account.pw_gid)

    @classmethod
    def stop_orphans(cls, bin_dir: Path) -> None:
        """Stop and remove the clusters of test sessions that died without their teardown."""
        for owner in Path(tempfile.gettempdir()).glob(f"{cls.PREFIX}*/owner.pid"):
            try:
                pid = int(owner.read_text())
            except (OSError, ValueError):
                continue
            if not _alive(pid):
                orphan = cls(bin_dir, owner.parent)
                try:
                    orphan.stop()
                except Unavailable:
                    orphan.remove()

    def _run(self, *args: str) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self.as_user is not None:
            command = ["runuser", "-u", self.as_user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=self.root)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise Unavailable(
                f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()}\n{log}"
            )

    def start(self) -> None:
        (self.root / "owner.pid").write_text(str(os.getpid()))
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        options = " ".join(f"-c {k}={v}" for k, v in SETTINGS.items())
        self._run(
            "pg_ctl", "start", "-w", "-D", str(self.data), "-l", str(self.log),
            "-o", f"-k {self.root} {options}",
        )  # fmt: skip

    def url(self) -> URL:
        return URL.create(
            "postgresql+psycopg", username="postgres", database="postgres",
            query={"host": str(self.root)},
        )  # fmt: skip

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "stop", "-w", "-m", "immediate", "-D", str(self.data))
        finally:
            self.remove()

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
