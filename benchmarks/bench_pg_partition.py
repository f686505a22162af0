"""What partitioning ``posts`` by day would buy on PostgreSQL: an experiment on a loaded warehouse, nothing of it
in the warehouse contract (docs/scaling.md, "Day partitions").

    python benchmarks/bench_pg_partition.py --url 'postgresql://user@/db?host=/tmp/…'   # a warehouse loaded and
                                                      # analysed by bench_e2e.py --warehouse URL (read, not changed)

In scratch schemas (``partexp*``, dropped at the end) it builds copies of the warehouse's ``posts`` without its
newest China day (held out as the ingest): ``flat``, as today (key ``(platform, id)``), and twice ``daily``,
range-partitioned by China day (key ``(platform, id, created_at)``, as PostgreSQL requires of a partitioned
table's unique index; its leading columns serve the merge's probe by ``(platform, id)``; a DEFAULT partition for
stray dates), all with the ``created_at`` and ``(platform, author_id)`` indexes the reads use.  The two ``daily``
copies differ in the merge's probe (:func:`merge_sql`): ``daily`` probes every partition, ``daily±1d`` only the
partitions within a day of the reported time.  Then, on each copy, the same operations, timed as the wall time of
the statements (best of ``--repeat`` for reads; on a loaded machine compare the copies, run back to back, not
absolute figures):

* **copy**: filling the copy from ``yuqing.posts`` (one ``INSERT … SELECT``; the day partitions made first);
* **ingest** (the merge of store/postgres.py: ``COPY`` into a temporary table, one ``INSERT … ON CONFLICT``): the
  held-out day as collector pages of ``--page`` posts, all new; the same pages again (nothing new); and
  ``--refetch`` stored posts of the last week re-fetched with changed counts (updates; one in ten reported a
  second later).  On ``daily`` the merge first gives each batch row the ``created_at`` already stored for its
  ``(platform, id)`` (:func:`merge_sql`), so a re-sent post whose time is reported differently updates its row
  instead of adding a second one;
* **reads**: a day's posts per hour, a week's posts with their analysis by polarity, 1,000 posts by key, and a
  window of 20,000 posts in key order after a key (the analyse stage's read);
* **retention**: the oldest ``--retain-drop`` days removed: ``DELETE`` on ``flat``, ``DETACH PARTITION`` +
  ``DROP TABLE`` on the partitioned copies.

What it leaves out: ``post_metrics``, ``post_analysis`` and ``post_topics`` stay unpartitioned (joined from
``yuqing``), concurrency (several writers) is not exercised, and a day here is ~1 % of a day at 100M posts/day.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SCRATCH = "partexp"
TZ = "Asia/Shanghai"  # report days are China days (store.warehouse.REPORT_TZ)
FIXED = ("platform", "id", "created_at")


def post_columns(con: Any) -> list[str]:
    """``yuqing.posts``'s columns in table order."""
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'yuqing' AND table_name = 'posts' "
        "ORDER BY ordinal_position"
    ).fetchall()
    return [r[0] for r in rows]


def day_bounds(day: dt.date) -> tuple[str, str]:
    """A China day's bounds as timestamptz literals (``[from, to)``)."""
    nxt = day + dt.timedelta(days=1)
    return f"{day.isoformat()} 00:00:00+08", f"{nxt.isoformat()} 00:00:00+08"


def partition_name(table: str, day: dt.date) -> str:
    return f"{table}_{day:%Y%m%d}"


def make_day(con: Any, schema: str, day: dt.date) -> None:
    """The partition of one China day (made before a batch reaches that day; its own short transaction in a
    real deployment: the DDL locks the parent).  A DEFAULT partition holding rows of that day refuses it."""
    lo, hi = day_bounds(day)
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {schema}.{partition_name('posts', day)} PARTITION OF {schema}.posts "
        f"FOR VALUES FROM ('{lo}') TO ('{hi}')"
    )


def create_flat(con: Any, schema: str) -> None:
    """``posts`` as today: key ``(platform, id)`` and the two read indexes of store/postgres.py."""
    con.execute(f"CREATE TABLE {schema}.posts (LIKE yuqing.posts INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    con.execute(f"ALTER TABLE {schema}.posts ADD PRIMARY KEY (platform, id)")
    con.execute(f"CREATE INDEX ON {schema}.posts (created_at)")
    con.execute(f"CREATE INDEX ON {schema}.posts (platform, author_id)")


def create_daily(con: Any, schema: str, days: list[dt.date]) -> None:
    """``posts`` range-partitioned by China day: key ``(platform, id, created_at)`` (a partitioned table's unique
    index must hold the partition key; its leading columns serve a probe by ``(platform, id)``), the read indexes,
    one partition per day of ``days`` and a DEFAULT one."""
    con.execute(
        f"CREATE TABLE {schema}.posts (LIKE yuqing.posts INCLUDING DEFAULTS INCLUDING CONSTRAINTS) "
        "PARTITION BY RANGE (created_at)"
    )
    con.execute(f"ALTER TABLE {schema}.posts ADD PRIMARY KEY (platform, id, created_at)")
    con.execute(f"CREATE INDEX ON {schema}.posts (created_at)")
    con.execute(f"CREATE INDEX ON {schema}.posts (platform, author_id)")
    con.execute(f"CREATE TABLE {schema}.posts_default PARTITION OF {schema}.posts DEFAULT")
    for day in days:
        make_day(con, schema, day)


LAYOUTS = {"flat": None, "daily": "all", "daily±1d": "window"}
"""The copies measured: name -> the merge's probe of the stored ``created_at`` (None: not partitioned)."""


def merge_sql(schema: str, columns: list[str], *, probe: str | None) -> list[str]:
    """The ingest's merge of a batch in temp table ``_b`` into ``{schema}.posts`` (store/postgres.py's
    ``_merge_posts`` without the metrics snapshot): new posts inserted, stored ones overwritten from a strictly
    newer fetch, ``created_at`` never moved.

    On a partitioned table (``probe`` given) the conflict target must hold ``created_at``: each batch row first
    takes the ``created_at`` stored for its ``(platform, id)``, so a re-sent post reported at another time still
    updates its one row.  ``probe="all"`` looks in every partition (one index probe each: exactly-once whatever the
    time reported); ``"window"`` only in the partitions within a day of the reported time (run-time pruning: the
    cost stays that of three partitions however many are kept, and a post re-reported more than a day off would
    be stored twice).  The last statement returns one flag per row written (True: inserted)."""
    data = [c for c in columns if c != "first_seen_at"]
    names = ", ".join(data)
    sets = ", ".join(f"{c} = excluded.{c}" for c in data if c not in FIXED)
    key = "platform, id, created_at" if probe else "platform, id"
    # a partitioned table returns no system column (xmax): a row inserted now has first_seen_at = now(), which
    # an update never sets
    flag = "first_seen_at = now()" if probe else "xmax = 0"
    out = []
    if probe:
        near = (
            " AND p.created_at >= b.created_at - interval '1 day' AND p.created_at < b.created_at + interval '1 day'"
            if probe == "window"
            else ""
        )
        # a correlated probe per batch row: as a join the planner hashes every partition of a few thousand rows
        # (measured at 250k posts: 1.2 s a page of 500, against 0.15 s probing 54 partitions this way)
        out.append(
            f"UPDATE _b SET created_at = s.created_at FROM (SELECT b.platform, b.id, (SELECT p.created_at FROM "
            f"{schema}.posts p WHERE p.platform = b.platform AND p.id = b.id{near} LIMIT 1) AS created_at "
            "FROM _b b) s WHERE s.platform = _b.platform AND s.id = _b.id AND s.created_at <> _b.created_at"
        )
    out.append(
        f"INSERT INTO {schema}.posts ({names}, first_seen_at) SELECT {names}, now() FROM _b ORDER BY platform, id "
        f"ON CONFLICT ({key}) DO UPDATE SET {sets} WHERE excluded.fetched_at > posts.fetched_at RETURNING {flag}"
    )
    return out


def merge(con: Any, schema: str, columns: list[str], batch_sql: str, params: list[Any], *, probe: str | None) -> int:
    """Merge the posts ``batch_sql`` selects (the batch, as a collector's page would be COPYed) in one
    transaction; returns the posts inserted."""
    with con.transaction():
        con.execute("CREATE TEMP TABLE IF NOT EXISTS _b (LIKE yuqing.posts)")
        con.execute("TRUNCATE _b")
        con.execute(f"INSERT INTO _b {batch_sql}", params)
        *before, last = merge_sql(schema, columns, probe=probe)
        for sql in before:
            con.execute(sql)
        flags = con.execute(last).fetchall()
    return sum(1 for (new,) in flags if new)


@contextmanager
def timed(out: dict[str, float], name: str) -> Iterator[None]:
    t = time.perf_counter()
    yield
    out[name] = min(out.get(name, float("inf")), time.perf_counter() - t)


def run(url: str, *, page: int, refetch: int, repeat: int, drop_days: int, keep: bool = False) -> dict[str, Any]:
    import psycopg

    con = psycopg.connect(url, autocommit=True)
    con.execute("SET timezone = 'UTC'")
    columns = post_columns(con)
    days = [
        r[0]
        for r in con.execute(
            f"SELECT DISTINCT (created_at AT TIME ZONE '{TZ}')::date FROM yuqing.posts ORDER BY 1"
        ).fetchall()
    ]
    if len(days) < drop_days + 9:
        raise SystemExit(f"error: the warehouse holds {len(days)} days of posts; this needs {drop_days + 9}")
    held, kept = days[-1], days[:-1]
    held_lo, held_hi = day_bounds(held)
    mid = kept[len(kept) // 2]
    week_lo, week_hi = day_bounds(mid)[0], day_bounds(mid + dt.timedelta(days=6))[1]
    result: dict[str, Any] = {"days": len(days), "held_day": str(held)}
    con.execute(f"DROP SCHEMA IF EXISTS {SCRATCH} CASCADE")
    con.execute(f"CREATE SCHEMA {SCRATCH}")
    # the batches, made once before anything is timed: the held-out day's posts in fetch order, and stored posts
    # of the last week re-fetched a day later with changed counts (one in ten reported a second later: the
    # partitioned merge must keep it one row)
    con.execute(
        f"CREATE TABLE {SCRATCH}.new_posts AS SELECT *, row_number() OVER (ORDER BY fetched_at, id) AS n "
        "FROM yuqing.posts WHERE created_at >= %s AND created_at < %s",
        [held_lo, held_hi],
    )
    shifted = {
        "created_at": "CASE WHEN abs(hashtext(id)) %% 10 = 0 THEN created_at + interval '1 s' ELSE created_at END",
        "reposts_count": "reposts_count + 1",
        "attitudes_count": "attitudes_count + 2",
        "fetched_at": "fetched_at + interval '1 day'",
    }
    con.execute(
        f"CREATE TABLE {SCRATCH}.refetched AS SELECT {', '.join(shifted.get(c, c) + ' AS ' + c for c in columns)}, "
        "row_number() OVER (ORDER BY id) AS n FROM (SELECT * FROM yuqing.posts WHERE created_at >= %s "
        "AND created_at < %s ORDER BY id LIMIT %s) r",
        [day_bounds(kept[-7])[0], held_lo, refetch],
    )
    for name in ("new_posts", "refetched"):
        con.execute(f"CREATE INDEX ON {SCRATCH}.{name} (n)")
    n_new = con.execute(f"SELECT count(*) FROM {SCRATCH}.new_posts").fetchone()[0]
    n_re = con.execute(f"SELECT count(*) FROM {SCRATCH}.refetched").fetchone()[0]
    result["held-out posts"], result["re-fetched posts"] = n_new, n_re
    times: dict[str, dict[str, float]] = {}
    try:
        for index, (layout, probe) in enumerate(LAYOUTS.items()):
            schema = f"{SCRATCH}_{index}"
            daily = probe is not None
            t: dict[str, float] = {}
            times[layout] = t
            con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            con.execute(f"CREATE SCHEMA {schema}")
            with timed(t, "create"):
                (create_daily(con, schema, kept) if daily else create_flat(con, schema))
            with timed(t, "copy"):
                con.execute(f"INSERT INTO {schema}.posts SELECT * FROM yuqing.posts WHERE created_at < %s", [held_lo])
            con.execute(f"ANALYZE {schema}.posts")
            result[f"{layout}_rows"] = con.execute(f"SELECT count(*) FROM {schema}.posts").fetchone()[0]
            result[f"{layout}_mb"] = (
                con.execute(
                    "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n "
                    "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'",
                    [schema],
                ).fetchone()[0]
                / 2**20
            )
            if daily:
                with timed(t, "make a day's partition"):
                    make_day(con, schema, held)
            # ingest: the held-out day in collector pages, all new; then the same pages again
            page_sql = f"SELECT {', '.join(columns)} FROM {SCRATCH}.new_posts WHERE n > %s AND n <= %s"
            for label in ("ingest: new pages", "ingest: the same pages again"):
                inserted = 0
                start = time.perf_counter()
                for lo in range(0, n_new, page):
                    inserted += merge(con, schema, columns, page_sql, [lo, lo + page], probe=probe)
                t[label] = time.perf_counter() - start
                result[f"{layout} {label}: inserted"] = inserted
            refetch_sql = f"SELECT {', '.join(columns)} FROM {SCRATCH}.refetched WHERE n > %s AND n <= %s"
            start = time.perf_counter()
            result[f"{layout} re-fetch: inserted"] = sum(
                merge(con, schema, columns, refetch_sql, [lo, lo + page], probe=probe) for lo in range(0, n_re, page)
            )
            t[f"ingest: {n_re:,} re-fetched posts"] = time.perf_counter() - start
            result[f"{layout}_rows_after"] = con.execute(f"SELECT count(*) FROM {schema}.posts").fetchone()[0]
            # reads
            sampled = f"SELECT id FROM {schema}.posts TABLESAMPLE SYSTEM (1) REPEATABLE (7) LIMIT 1000"
            sample = [r[0] for r in con.execute(sampled).fetchall()]
            middle = f"SELECT platform, id FROM {schema}.posts ORDER BY platform, id OFFSET %s LIMIT 1"
            after = con.execute(middle, [result[f"{layout}_rows"] // 2]).fetchone()
            reads: dict[str, tuple[str, list[Any]]] = {
                "read: a day per hour": (
                    f"SELECT date_trunc('hour', created_at AT TIME ZONE '{TZ}') AS h, count(*) FROM {schema}.posts "
                    "WHERE created_at >= %s AND created_at < %s GROUP BY 1",
                    list(day_bounds(mid)),
                ),
                "read: a week by polarity": (
                    f"SELECT a.polarity, count(*) FROM {schema}.posts p JOIN yuqing.post_analysis a "
                    "ON a.platform = p.platform AND a.id = p.id WHERE p.created_at >= %s AND p.created_at < %s "
                    "GROUP BY 1",
                    [week_lo, week_hi],
                ),
                "read: 1,000 posts by key": (
                    f"SELECT count(*) FROM {schema}.posts WHERE platform = 'weibo' AND id = ANY(%s)",
                    [sample],
                ),
                "read: 20,000 posts in key order": (
                    f"SELECT count(*), max(length(text)) FROM (SELECT platform, id, text FROM {schema}.posts "
                    "WHERE (platform > %s OR (platform = %s AND id > %s)) ORDER BY platform, id LIMIT 20000) w",
                    [after[0], after[0], after[1]],
                ),
            }
            for _ in range(repeat):
                for name, (sql, params) in reads.items():
                    with timed(t, name):
                        con.execute(sql, params).fetchall()
            # retention: the oldest days
            old = kept[:drop_days]
            cut = day_bounds(old[-1])[1]
            with timed(t, f"retention: {drop_days} oldest days"):
                if daily:
                    for day in old:
                        part = f"{schema}.{partition_name('posts', day)}"
                        con.execute(f"ALTER TABLE {schema}.posts DETACH PARTITION {part}")
                        con.execute(f"DROP TABLE {part}")
                else:
                    con.execute(f"DELETE FROM {schema}.posts WHERE created_at < %s", [cut])
            result[f"{layout}_rows_retained"] = con.execute(f"SELECT count(*) FROM {schema}.posts").fetchone()[0]
            if not keep:  # one copy on disk at a time (a 1M copy is ~1.2 GB with its indexes)
                con.execute(f"DROP SCHEMA {schema} CASCADE")
    finally:
        if not keep:
            for s in (SCRATCH, *(f"{SCRATCH}_{i}" for i in range(len(LAYOUTS)))):
                con.execute(f"DROP SCHEMA IF EXISTS {s} CASCADE")
        con.close()
    result["times"] = times
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="a PostgreSQL warehouse loaded and analysed by bench_e2e.py")
    parser.add_argument("--page", type=int, default=500, help="posts per collector page (default 500)")
    parser.add_argument("--refetch", type=int, default=50_000, help="stored posts re-fetched (default 50,000)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--retain-drop", type=int, default=7, dest="drop_days")
    parser.add_argument("--keep", action="store_true", help="keep the scratch schemas")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    out = run(args.url, page=args.page, refetch=args.refetch, repeat=args.repeat, drop_days=args.drop_days,
              keep=args.keep)  # fmt: skip
    times = out.pop("times")
    print(f"load average at the start {load:.1f}; {out['days']} days, held-out day {out['held_day']}")
    for k, v in out.items():
        if k not in ("days", "held_day"):
            print(f"  {k:45} {v:14,.1f}" if isinstance(v, float) else f"  {k:45} {v:>14,}")
    names = list(LAYOUTS)
    print(f"{'seconds':45}" + "".join(f"{n:>10}" for n in names) + "".join(f"{n + '/flat':>16}" for n in names[1:]))
    for name in dict.fromkeys(k for t in times.values() for k in t):
        got = [times[n].get(name, float("nan")) for n in names]
        ratios = [g / got[0] if got[0] == got[0] and got[0] else float("nan") for g in got[1:]]
        print(f"{name:45}" + "".join(f"{g:10.3f}" for g in got) + "".join(f"{r:16.2f}" for r in ratios))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
