"""Reused test databases for the ``store_url`` fixture: copies of the migrated template,
emptied between tests instead of created and dropped for each one.

Why: a copy (``CREATE DATABASE ... TEMPLATE``) writes the whole ~8 MB template to the
WAL and its first connections build the catalog caches from scratch; the drop forces a
checkpoint. Emptying a used copy costs a fraction of that (figures and the command in
docs/reliability.md, "Tests under load"), and about a fifth of the suite runs on Postgres.

What the next test may rely on, enforced each time a database comes back
(:func:`release`):

1. **No client of the last test reaches it.** Every connection to it is ended and the
   database renamed, so a pool or runtime a test left behind reconnects to a name that
   no longer exists, as it would to a dropped database.
2. **Its schema is the template's.** A fingerprint of the catalog (tables, columns,
   indexes, constraints, policies, functions, triggers, grants, schemas, extensions,
   database settings, and the ``schema_version`` and ``store_identity`` rows) must equal
   the one taken from a fresh copy. A test that changed any of it (a newer schema
   version written as an owner, a column dropped to inject a fault) leaves a database
   that is dropped, not reused.
3. **No row survives.** Every other table is emptied in one ``TRUNCATE ... RESTART
   IDENTITY``; the HNSW indexes the store makes for new dimensions are dropped; the
   planner statistics a past ``ANALYZE`` gathered are removed, so a plan is chosen as
   on a fresh copy.

``tests/test_postgres_pool.py`` checks each of these against a database that had rows
of every table, an index of its own, a live client and a changed schema.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import os
import time

import psycopg
from psycopg import sql

from tests import _postgres

log = logging.getLogger("voxmem.tests.postgres")

#: Tables the migrations fill, kept as the template has them (the fingerprint covers
#: their rows; every other table is emptied).
KEPT_TABLES = ("schema_version", "store_identity")
#: The indexes ``voxmem_ensure_vector_index`` creates on first sight of a dimension.
VECTOR_INDEX_PATTERN = "chunks_embedding_%_hnsw"
#: How the pool's maintenance connection names itself to the server.
ADMIN_APPLICATION = "voxmem-tests-pool"

# One row per schema object a test could change; md5 of them all, sorted. Names, not
# OIDs: a copy of the template has the template's OIDs anyway, and TRUNCATE keeps them.
_FINGERPRINT = """
SELECT md5(string_agg(entry, E'\\n' ORDER BY entry)) FROM (
  SELECT concat_ws(' ', 'class', c.oid::regclass::text, c.relkind, c.relowner::regrole,
                   c.relacl::text, c.relrowsecurity, c.relforcerowsecurity,
                   array_to_string(c.reloptions, ','), c.relpersistence) AS entry
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
     AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
  UNION ALL
  SELECT concat_ws(' ', 'column', a.attrelid::regclass::text, a.attname,
                   format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attidentity,
                   a.attgenerated, a.attacl::text, pg_get_expr(d.adbin, d.adrelid))
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE a.attnum > 0 AND NOT a.attisdropped AND n.nspname = 'public'
  UNION ALL
  SELECT concat_ws(' ', 'index', pg_get_indexdef(i.indexrelid))
    FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'
  UNION ALL
  SELECT concat_ws(' ', 'constraint', conrelid::regclass::text, conname,
                   pg_get_constraintdef(oid))
    FROM pg_constraint WHERE connamespace = 'public'::regnamespace
  UNION ALL
  SELECT concat_ws(' ', 'policy', polrelid::regclass::text, polname, polcmd, polpermissive,
                   polroles::regrole[]::text, pg_get_expr(polqual, polrelid),
                   pg_get_expr(polwithcheck, polrelid))
    FROM pg_policy
  UNION ALL
  SELECT concat_ws(' ', 'function', p.oid::regprocedure::text, p.proowner::regrole,
                   p.proacl::text, p.prosecdef, md5(p.prosrc),
                   array_to_string(p.proconfig, ','))
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  UNION ALL
  SELECT concat_ws(' ', 'trigger', tgrelid::regclass::text, tgname, tgenabled)
    FROM pg_trigger WHERE NOT tgisinternal
  UNION ALL
  SELECT concat_ws(' ', 'rule', ev_class::regclass::text, rulename)
    FROM pg_rewrite WHERE rulename <> '_RETURN'
  UNION ALL
  SELECT concat_ws(' ', 'event trigger', evtname, evtenabled) FROM pg_event_trigger
  UNION ALL
  SELECT concat_ws(' ', 'statistics', stxrelid::regclass::text, stxname) FROM pg_statistic_ext
  UNION ALL
  SELECT concat_ws(' ', 'schema', nspname, nspowner::regrole, nspacl::text) FROM pg_namespace
   WHERE nspname NOT LIKE 'pg_temp%' AND nspname NOT LIKE 'pg_toast_temp%'
  UNION ALL
  SELECT concat_ws(' ', 'type', t.oid::regtype::text, t.typtype)
    FROM pg_type t WHERE t.typnamespace = 'public'::regnamespace AND t.typtype IN
         ('e', 'd', 'r', 'm')
  UNION ALL
  SELECT concat_ws(' ', 'extension', extname, extversion) FROM pg_extension
  UNION ALL
  SELECT concat_ws(' ', 'default acl', defaclrole::regrole, defaclnamespace::regnamespace,
                   defaclobjtype, defaclacl::text) FROM pg_default_acl
  UNION ALL
  SELECT concat_ws(' ', 'setting', setrole::regrole, array_to_string(setconfig, ','))
    FROM pg_db_role_setting
   WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
  UNION ALL
  SELECT concat_ws(' ', 'database', datdba::regrole, datacl::text, datallowconn,
                   datconnlimit)
    FROM pg_database WHERE datname = current_database()
  UNION ALL
  SELECT concat_ws(' ', 'schema_version', version, name) FROM public.schema_version
  UNION ALL
  SELECT concat_ws(' ', 'store_identity', id, store_id) FROM public.store_identity
) AS entries
"""


@dataclasses.dataclass
class _Pool:
    fingerprint: str
    emptied_tables: sql.Composed
    free: list[str] = dataclasses.field(default_factory=list)
    admin: psycopg.Connection[tuple[object, ...]] | None = None
    names: itertools.count[int] = dataclasses.field(default_factory=itertools.count)


_pools: dict[str, _Pool] = {}
#: Counts for the docs and the pool's own test: copies made, reuses, databases dropped
#: because a test changed their schema.
stats = {"created": 0, "reused": 0, "discarded": 0}


def _next_name(pool: _Pool) -> str:
    return f"voxmem_p_{os.getpid()}_{next(pool.names)}"


def _create(dsn: str, pool: _Pool | None) -> str:
    prepared = _postgres._prepare(dsn)
    name = f"voxmem_p_{os.getpid()}_new_{stats['created']}" if pool is None else _next_name(pool)
    _postgres._admin(dsn, [sql.SQL("CREATE DATABASE {} TEMPLATE {} OWNER {}").format(
        sql.Identifier(name), sql.Identifier(prepared.template),
        sql.Identifier(_postgres.OWNER_ROLE))])
    stats["created"] += 1
    return name


def _pool_for(dsn: str) -> tuple[_Pool, str | None]:
    """The server's pool, made on first use from a fresh copy (returned, unused) whose
    schema is the reference every later reuse is checked against."""
    pool = _pools.get(dsn)
    if pool is not None:
        return pool, None
    name = _create(dsn, None)
    with psycopg.connect(_postgres.superuser_dsn(dsn, name), autocommit=True) as conn:
        fingerprint = _fingerprint(conn)
        tables = [row[0] for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            " AND NOT tablename = ANY(%s) ORDER BY tablename", (list(KEPT_TABLES),))]
    emptied = sql.SQL("TRUNCATE {} RESTART IDENTITY").format(
        sql.SQL(", ").join(sql.Identifier("public", t) for t in tables))
    pool = _Pool(fingerprint, emptied)
    _pools[dsn] = pool
    return pool, name


def _fingerprint(conn: psycopg.Connection[tuple[object, ...]]) -> str:
    row = conn.execute(_FINGERPRINT).fetchone()
    return str(row[0]) if row else ""


def acquire(dsn: str) -> str:
    """The application role's DSN for an empty, migrated database of its own."""
    pool, first = _pool_for(dsn)
    if first is not None:
        return _postgres.app_dsn(dsn, first)
    if pool.free:
        stats["reused"] += 1
        return _postgres.app_dsn(dsn, pool.free.pop())
    return _postgres.app_dsn(dsn, _create(dsn, pool))


def release(dsn: str, url: str) -> None:
    """Take back the database of ``url`` (see the module docstring for what it checks
    and resets); dropped instead when its schema is no longer the template's."""
    pool = _pools[dsn]
    old = _postgres.database_of(url)
    new = _next_name(pool)
    started = time.perf_counter()
    _rename_cutting_clients(pool, dsn, old, new)
    try:
        with psycopg.connect(_postgres.superuser_dsn(dsn, new), autocommit=True) as conn:
            for (index,) in conn.execute(
                    "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'"
                    " AND indexname LIKE %s", (VECTOR_INDEX_PATTERN,)).fetchall():
                conn.execute(sql.SQL("DROP INDEX public.{}").format(sql.Identifier(index)))
            same = _fingerprint(conn) == pool.fingerprint
            if same:
                conn.execute(pool.emptied_tables)
                # ANALYZE's figures would steer the next test's plans; a fresh copy has none.
                conn.execute("DELETE FROM pg_statistic WHERE starelid IN (SELECT c.oid FROM"
                             " pg_class c WHERE c.relnamespace = 'public'::regnamespace)")
    except psycopg.Error as exc:  # e.g. a table the fingerprint reads was dropped
        log.info("test database %s not reused: %s", new, exc)
        same = False
    if same:
        pool.free.append(new)
        log.debug("test database %s emptied in %.3f s", new, time.perf_counter() - started)
        return
    stats["discarded"] += 1
    _postgres._admin(dsn, [sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
        sql.Identifier(new))])


def _admin_connection(pool: _Pool, dsn: str) -> psycopg.Connection[tuple[object, ...]]:
    """The pool's maintenance connection, kept open: one connection (and its password
    exchange) fewer for every test."""
    if pool.admin is not None:
        try:
            pool.admin.execute("SELECT 1")
            return pool.admin
        except psycopg.OperationalError:  # ended by a test, or the server restarted
            pool.admin.close()
    pool.admin = psycopg.connect(dsn, autocommit=True, application_name=ADMIN_APPLICATION)
    return pool.admin


def _rename_cutting_clients(pool: _Pool, dsn: str, old: str, new: str) -> None:
    """Rename ``old`` to ``new`` once every connection to it has ended: those of the
    test that used it, and any it left behind, which would otherwise reconnect."""
    deadline = time.monotonic() + _postgres.START_TIMEOUT_S
    conn = _admin_connection(pool, dsn)
    while True:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                     " WHERE datname = %s AND pid <> pg_backend_pid()", (old,))
        try:
            conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                sql.Identifier(old), sql.Identifier(new)))
            return
        except psycopg.errors.ObjectInUse:
            # A terminated backend takes a moment to exit (seconds on a loaded
            # machine); a client that reconnected meanwhile is ended next round.
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def drop_all(dsn: str) -> None:
    """Drop the pool's databases (a server the suite did not start keeps nothing)."""
    pool = _pools.pop(dsn, None)
    if pool is None:
        return
    if pool.admin is not None:
        pool.admin.close()
    for name in pool.free:
        _postgres._admin(dsn, [sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name))])
