"""The tables of the journal, and every statement that touches them.

All views of all Fusion nodes sharing one database live in one schema (``fustor_journal`` by
default), keyed by the datastore name (``view``)::

    views            one row per view: the incarnation (view_id), the last sequence number
                     allocated, and the lease (owner, owner_url, epoch, expires_at)
    records          (view, seq) -> time, kind, crc, payload
    snapshots        (view, seq) -> view_id, written_at, size, chunks: a snapshot's header,
                     inserted in the transaction that stores its last chunk
    snapshot_chunks  (view, seq, chunk_no) -> crc, data

The statements are strings with ``{s}`` standing for the quoted schema name (:func:`bind`);
everything else is a bind parameter.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg

FORMAT = 1
"""The layout version kept in each view's row: a row of another version is set aside."""
NOTIFY_CHANNEL = "fustor_journal"
"""Every append notifies this channel with ``<view>:<last_seq>`` (delivered at commit)."""
SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
TABLES = ("views", "records", "snapshots", "snapshot_chunks")

CREATE = """
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.views (
    view text PRIMARY KEY,
    view_id text NOT NULL,
    format integer NOT NULL,
    last_seq bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    owner text,
    owner_url text,
    epoch bigint NOT NULL DEFAULT 0,
    expires_at timestamptz
) WITH (fillfactor = 50);  -- every append updates the row: room for in-page (HOT) updates
CREATE TABLE IF NOT EXISTS {s}.records (
    view text NOT NULL,
    seq bigint NOT NULL,
    time double precision NOT NULL,
    kind text NOT NULL,
    crc bigint NOT NULL,
    payload bytea NOT NULL,
    PRIMARY KEY (view, seq)
);
CREATE TABLE IF NOT EXISTS {s}.snapshots (
    view text NOT NULL,
    seq bigint NOT NULL,
    view_id text NOT NULL,
    written_at double precision NOT NULL,
    size bigint NOT NULL,
    chunks integer NOT NULL,
    PRIMARY KEY (view, seq)
);
CREATE TABLE IF NOT EXISTS {s}.snapshot_chunks (
    view text NOT NULL,
    seq bigint NOT NULL,
    chunk_no integer NOT NULL,
    crc bigint NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (view, seq, chunk_no)
);
-- payloads and chunks arrive compressed: do not spend CPU trying to compress them again
ALTER TABLE {s}.records ALTER COLUMN payload SET STORAGE EXTERNAL;
ALTER TABLE {s}.snapshot_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
"""

# -- views: incarnation and sequence -----------------------------------------------------------

INSERT_VIEW = """
INSERT INTO {s}.views (view, view_id, format) VALUES (%(view)s, %(view_id)s, %(format)s)
ON CONFLICT (view) DO NOTHING RETURNING view_id
"""
SELECT_VIEW = "SELECT view_id, format, last_seq FROM {s}.views WHERE view = %(view)s"
LAST_SEQ = "SELECT last_seq FROM {s}.views WHERE view = %(view)s"
RAISE_LAST_SEQ = "UPDATE {s}.views SET last_seq = greatest(last_seq, %(seq)s) WHERE view = %(view)s"
NEW_INCARNATION = """
UPDATE {s}.views SET view_id = %(view_id)s, format = %(format)s, last_seq = 0 WHERE view = %(view)s
"""
SET_ASIDE = "UPDATE {s}.{table} SET view = %(aside)s WHERE view = %(view)s"
FORGET = "DELETE FROM {s}.{table} WHERE view = %(view)s"

# -- records ---------------------------------------------------------------------------------

APPEND = (
    """
WITH alloc AS (
    UPDATE {s}.views SET last_seq = last_seq + %(n)s
    WHERE view = %(view)s {fence}
    RETURNING last_seq
), stored AS (
    INSERT INTO {s}.records (view, seq, time, kind, crc, payload)
    SELECT %(view)s, alloc.last_seq - %(n)s + r.ord, r.time, r.kind, r.crc, r.payload
    FROM alloc, unnest(%(times)s::float8[], %(kinds)s::text[], %(crcs)s::int8[], %(payloads)s::bytea[])
        WITH ORDINALITY AS r(time, kind, crc, payload, ord)
)
SELECT last_seq, pg_notify('"""
    + NOTIFY_CHANNEL
    + """', %(view)s || ':' || last_seq) FROM alloc
"""
)
"""One statement, so one transaction and one round trip: the UPDATE allocates the numbers (and
serialises concurrent appenders on the view's row), the INSERT stores the records, the NOTIFY
is delivered at commit. Fenced, the UPDATE also requires the lease: no row, nothing stored."""
FENCE = "AND owner = %(owner)s AND epoch = %(epoch)s"
READ = """
SELECT seq, time, kind, crc, payload FROM {s}.records
WHERE view = %(view)s AND seq > %(after)s ORDER BY seq LIMIT %(limit)s
"""
TAIL = """
SELECT seq, kind, crc, payload FROM {s}.records WHERE view = %(view)s ORDER BY seq DESC LIMIT %(limit)s
"""
DELETE_RECORDS = "DELETE FROM {s}.records WHERE view = %(view)s AND seq = ANY(%(seqs)s)"
FIRST_SEQ = "SELECT min(seq) FROM {s}.records WHERE view = %(view)s"
TRIM_RECORDS = """
DELETE FROM {s}.records WHERE view = %(view)s AND seq IN (
    SELECT seq FROM {s}.records WHERE view = %(view)s AND seq <= %(upto)s AND time < %(before)s
    ORDER BY seq LIMIT %(limit)s)
"""

# -- snapshots -------------------------------------------------------------------------------

LIST_SNAPSHOTS = """
SELECT seq, written_at, size FROM {s}.snapshots WHERE view = %(view)s ORDER BY seq DESC
"""
SNAPSHOT_HEADER = "SELECT view_id, chunks FROM {s}.snapshots WHERE view = %(view)s AND seq = %(seq)s"
SNAPSHOT_CHUNKS = """
SELECT chunk_no, crc, data FROM {s}.snapshot_chunks
WHERE view = %(view)s AND seq = %(seq)s AND chunk_no >= %(from)s ORDER BY chunk_no LIMIT %(limit)s
"""
INSERT_CHUNK = """
INSERT INTO {s}.snapshot_chunks (view, seq, chunk_no, crc, data)
VALUES (%(view)s, %(seq)s, %(chunk_no)s, %(crc)s, %(data)s)
"""
INSERT_SNAPSHOT = """
INSERT INTO {s}.snapshots (view, seq, view_id, written_at, size, chunks)
VALUES (%(view)s, %(seq)s, %(view_id)s, %(written_at)s, %(size)s, %(chunks)s)
"""
DELETE_SNAPSHOTS = "DELETE FROM {s}.snapshots WHERE view = %(view)s AND seq = ANY(%(seqs)s)"
DELETE_CHUNKS = "DELETE FROM {s}.snapshot_chunks WHERE view = %(view)s AND seq = ANY(%(seqs)s)"

# -- the lease -------------------------------------------------------------------------------

_REMAINING = "coalesce(extract(epoch FROM expires_at - clock_timestamp())::float8, 0)"
CLAIM = (
    """
WITH claimed AS (
    UPDATE {s}.views SET
        epoch = CASE WHEN owner = %(node)s THEN epoch ELSE epoch + 1 END,
        owner = %(node)s,
        owner_url = %(url)s,
        expires_at = clock_timestamp() + make_interval(secs => %(ttl)s)
    WHERE view = %(view)s AND (owner IS NULL OR owner = %(node)s OR expires_at <= clock_timestamp())
    RETURNING owner, owner_url, epoch, expires_at
)
SELECT owner, owner_url, epoch, """
    + _REMAINING
    + """ FROM claimed
UNION ALL
SELECT owner, owner_url, epoch, """
    + _REMAINING
    + """ FROM {s}.views
WHERE view = %(view)s AND NOT EXISTS (SELECT 1 FROM claimed)
"""
)
"""Take the lease when free, expired or already ours (the epoch moves on when the owner
changes); otherwise the row as it stands. Expiry is by the database's clock."""
RELEASE = """
UPDATE {s}.views SET owner = NULL, owner_url = NULL, expires_at = NULL
WHERE view = %(view)s AND owner = %(node)s
"""
LEASE = "SELECT owner, owner_url, epoch, " + _REMAINING + " FROM {s}.views WHERE view = %(view)s"


def quote_schema(schema: str) -> str:
    """The schema name quoted for SQL; only names of letters, digits and ``_`` are accepted."""
    if not SCHEMA_NAME.fullmatch(schema):
        raise ValueError(
            f"schema {schema!r}: use letters, digits and _ (at most 63, not starting with a digit)"
        )
    return f'"{schema}"'


def bind(statement: str, schema: str, **parts: str) -> str:
    """``statement`` for the quoted ``schema`` (and other fixed parts such as ``{table}``)."""
    return statement.replace("{s}", schema).format(**parts) if parts else statement.replace("{s}", schema)


def ensure_tables(connection: psycopg.Connection[Any], schema: str) -> None:
    """Create the schema and tables unless they exist; safe when several nodes start at once.

    Looked up first, so a role that may not create anything still opens a prepared schema;
    otherwise the DDL runs under a transaction-level advisory lock (two concurrent
    ``CREATE ... IF NOT EXISTS`` can both miss the other's table and one then fails)."""
    name = schema.strip('"')
    present = connection.execute(
        "SELECT count(*) FROM pg_tables WHERE schemaname = %s AND tablename = ANY(%s)", (name, list(TABLES))
    ).fetchone()
    if present is not None and present[0] == len(TABLES):
        return
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ("fustor_journal schema " + name,))
        connection.execute(bind(CREATE, schema))
