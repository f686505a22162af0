"""The PostgreSQL warehouse against a real server (a throw-away cluster: tests/pg_cluster.py)."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from tests.conftest import T0, make_author, make_post
from tests.pg_cluster import Cluster
from yuqing.store.errors import StoreError
from yuqing.store.schema import Customer, Interaction, InteractionKind, Platform
from yuqing.store.warehouse import Checkpoint, Warehouse

KEY = b"k" * 32


def _posts(wh: Warehouse) -> pd.DataFrame:
    cols = [c for c in wh.query("SELECT * FROM posts LIMIT 0").columns if c != "first_seen_at"]
    return wh.query(f"SELECT {', '.join(cols)} FROM posts ORDER BY platform, id").reset_index(drop=True)


def test_url_selects_postgres_and_tables_follow_the_contract(pg_url: str) -> None:
    from yuqing.store.postgres import PostgresWarehouse, pg_type
    from yuqing.store.tables import TABLES

    with Warehouse.open(pg_url) as wh:
        assert isinstance(wh, PostgresWarehouse)
        got = wh.query(
            "SELECT table_schema, table_name, column_name, "
            "CASE WHEN data_type = 'ARRAY' THEN 'text[]' WHEN data_type = 'numeric' THEN "
            "'numeric(' || numeric_precision || ',' || numeric_scale || ')' ELSE data_type END AS type, "
            "is_nullable = 'NO' AS not_null FROM information_schema.columns "
            "WHERE table_schema IN ('yuqing', 'yuqing_pii') AND table_name <> 'schema_version' "
            "ORDER BY table_schema, table_name, ordinal_position"
        )
    names = {"timestamptz": "timestamp with time zone"}  # as information_schema spells it
    want = [
        (schema, t.name, c.name, names.get(pg_type(c.type), pg_type(c.type)), c.not_null)
        for t in TABLES.values()
        for schema in (("yuqing", "yuqing_pii") if t.name == "customers" else ("yuqing",))
        for c in t.columns
    ]
    assert sorted(map(tuple, got.itertuples(index=False))) == sorted(want)


def test_ingest_is_exactly_once_with_its_checkpoint(pg_url: str) -> None:
    posts = [make_post(i) for i in range(30)]
    edges = [Interaction(platform=Platform.WEIBO, kind=InteractionKind.REPOST, source_author_id="1",
                         target_author_id="2", post_id=p.id, created_at=T0) for p in posts[:5]]  # fmt: skip
    cp = Checkpoint(Platform.WEIBO, "search:x", "page-2")
    with Warehouse.open(pg_url) as wh:
        first = wh.ingest(posts=posts, authors=[make_author(1), make_author(2)], interactions=edges, checkpoint=cp)
        assert (first.inserted, first.updated, first.unchanged) == (30, 0, 0)
        again = wh.ingest(posts=posts, authors=[make_author(1)], interactions=edges, checkpoint=cp)
        assert (again.inserted, again.updated, again.unchanged) == (0, 0, 30)
        assert wh.table_counts()["posts"] == 30
        assert wh.table_counts()["post_metrics"] == 30
        assert wh.table_counts()["interactions"] == 5
        assert wh.get_checkpoint(Platform.WEIBO, "search:x").cursor == "page-2"
        # a page that fails half-way leaves neither its rows nor its checkpoint
        with pytest.raises(RuntimeError), wh.transaction():
            wh.ingest(posts=[make_post(100)], checkpoint=Checkpoint(Platform.WEIBO, "search:x", "page-3"))
            raise RuntimeError("collector killed")
        assert wh.table_counts()["posts"] == 30
        assert wh.get_checkpoint(Platform.WEIBO, "search:x").cursor == "page-2"
        # a newer fetch updates counts and adds one metrics snapshot; an older one changes nothing
        later = T0 + dt.timedelta(days=2)
        newer = wh.upsert_posts([make_post(i, reposts_count=999, fetched_at=later) for i in range(3)])
        older = wh.upsert_posts([make_post(i, reposts_count=5, fetched_at=T0) for i in range(3)])
        assert (newer.updated, older.updated, older.unchanged) == (3, 0, 3)
        assert wh.table_counts()["post_metrics"] == 33
        stored = wh.query("SELECT reposts_count FROM posts WHERE id IN ('1000', '1001', '1002')")
        assert set(stored["reposts_count"]) == {999}


def test_postgres_stores_what_duckdb_stores(pg_url: str, tmp_path: Path) -> None:
    """The same writes (new, newer, older, lists, raw JSON, frames) leave the same rows on both backends."""
    batches = [
        [make_post(i, topics=["话题", 'a"b', "c,d"], at_users=["用户1"], raw={"k": "值"}) for i in range(20)],
        [make_post(i, reposts_count=50 + i, fetched_at=T0 + dt.timedelta(days=3), urls=["http://x/{1}"])
         for i in range(10, 25)],
        [make_post(i, text="旧的", fetched_at=T0) for i in range(5)],
    ]  # fmt: skip
    results = {}
    for name, target in (("duckdb", tmp_path / "w.duckdb"), ("postgres", pg_url)):
        with Warehouse.open(target) as wh:
            counts = [wh.upsert_posts(b) for b in batches]
            wh.upsert_authors([make_author(i) for i in range(5)])
            wh.upsert_authors(pd.DataFrame({"platform": ["weibo"], "id": ["3"], "followers_count": [7],
                                            "fetched_at": [T0 + dt.timedelta(days=1)]}))  # fmt: skip
            results[name] = (
                counts,
                _posts(wh),
                wh.query("SELECT * FROM post_metrics ORDER BY platform, post_id, fetched_at"),
                wh.query("SELECT * FROM authors ORDER BY platform, id"),
                wh.query("SELECT * FROM author_metrics ORDER BY platform, author_id, fetched_at"),
            )
    duck, pg = results["duckdb"], results["postgres"]
    assert duck[0] == pg[0]
    for a, b in zip(duck[1:], pg[1:], strict=True):
        _assert_same_rows(a, b)


def _assert_same_rows(a: pd.DataFrame, b: pd.DataFrame, *, skip: tuple[str, ...] = ()) -> None:
    """Two backends' frames hold the same values, column by column (lists as lists, NULLs as None)."""
    assert list(a.columns) == list(b.columns)
    for col in a.columns:
        if col in skip:
            continue
        left = [list(v) if hasattr(v, "__len__") and not isinstance(v, str) else v for v in a[col]]
        right = [list(v) if hasattr(v, "__len__") and not isinstance(v, str) else v for v in b[col]]
        assert [None if pd.isna(v) is True else v for v in left] == [
            None if pd.isna(v) is True else v for v in right
        ], col


def test_bulk_writes_copy_new_rows_and_merge_stored_ones(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bulk batch of new posts (and the analyse stage's new rows) is COPY'd straight into its table; a batch
    holding stored keys fails that COPY and is merged instead, leaving the rows DuckDB leaves, counted alike."""
    from yuqing.store.postgres import PgConnection

    copied: list[str] = []
    plain_copy = PgConnection.copy_into

    def watched(self: PgConnection, name: str, table: object) -> None:
        copied.append(name)
        plain_copy(self, name, table)  # type: ignore[arg-type]

    monkeypatch.setattr(PgConnection, "copy_into", watched)
    first = Warehouse.posts_to_frame([make_post(i, topics=["话题", 'a"b'], raw={"k": "值"}) for i in range(300)])
    later = Warehouse.posts_to_frame(
        [make_post(i, reposts_count=90 + i, fetched_at=T0 + dt.timedelta(days=2)) for i in range(200, 400)]
    )
    ids = [str(1000 + i) for i in range(300)]
    analysis = pd.DataFrame(
        {
            "platform": "weibo",
            "id": ids,
            "sentiment": 0.25,
            "polarity": "negative",
            "brands": [["星阅"]] * 300,
            "brand_sentiment": [{"星阅": 0.2}] * 300,
            "tokens": "帖子 星阅",
        }
    )
    results = {}
    for name, target in (("duckdb", tmp_path / "w.duckdb"), ("postgres", pg_url)):
        with Warehouse.open(target) as wh:
            copied.clear()
            counts = [wh.load_posts(first, batch_rows=100)]
            if name == "postgres":  # new posts: straight into posts and post_metrics, no temporary table
                assert sorted(set(copied)) == ["post_metrics", "posts"]
            counts.append(wh.load_posts(later, batch_rows=100))  # 200..299 stored (newer fetch), 300..399 new
            copied.clear()
            wh.save_analysis(analysis.iloc[:200], count=False, new=True)
            if name == "postgres":
                assert copied == ["post_analysis"]
            wh.save_analysis(analysis.iloc[100:].assign(sentiment=0.75), count=False, new=True)  # 100 stored
            results[name] = (
                [(c.inserted, c.updated, c.unchanged) for c in counts],
                _posts(wh),
                wh.query("SELECT * FROM post_metrics ORDER BY platform, post_id, fetched_at"),
                wh.query("SELECT * FROM post_analysis ORDER BY platform, id"),
            )
    duck, pg = results["duckdb"], results["postgres"]
    assert duck[0] == pg[0] == [(300, 0, 0), (100, 100, 0)]
    for a, b in zip(duck[1:], pg[1:], strict=True):
        _assert_same_rows(a, b, skip=("analysed_at",))
    assert pg[3]["sentiment"].tolist() == [0.25] * 100 + [0.75] * 200


def test_concurrent_collectors_write_each_post_once(pg_url: str) -> None:
    """Four writers at once, each its own connection, with overlapping pages: no error, no lock-out, every post
    stored once and counted as inserted by exactly one writer, every checkpoint kept."""
    Warehouse.open(pg_url).close()  # schema
    start = threading.Barrier(4)
    results: list[int] = []
    errors: list[BaseException] = []

    def collector(k: int) -> None:
        try:
            with Warehouse.open(pg_url) as wh:
                start.wait()
                for page in range(6):
                    lo = (k + page) * 50  # neighbours overlap by half a page
                    r = wh.ingest(
                        posts=[make_post(i, author_id=str(i % 13)) for i in range(lo, lo + 100)],
                        authors=[make_author(i) for i in range(lo % 13, lo % 13 + 3)],
                        checkpoint=Checkpoint(Platform.WEIBO, f"search:{k}", f"page-{page}"),
                    )
                    results.append(r.inserted)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=collector, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    with Warehouse.open(pg_url, read_only=True) as wh:
        n = wh.query("SELECT count(*) AS n, count(DISTINCT id) AS d FROM posts")
        assert int(n["n"].iat[0]) == int(n["d"].iat[0]) == (3 + 5) * 50 + 100  # lo from 0 to 400, 100 posts a page
        assert sum(results) == int(n["n"].iat[0])
        assert [wh.get_checkpoint(Platform.WEIBO, f"search:{k}").cursor for k in range(4)] == ["page-5"] * 4
        assert wh.table_counts()["post_metrics"] == int(n["n"].iat[0])


def _login(pg_url: str, role: str, group: str) -> str:
    with psycopg.connect(pg_url, autocommit=True) as con:
        con.execute(f"CREATE ROLE {role} LOGIN IN ROLE {group}")
    head, _, tail = pg_url.partition("@")
    return head.rsplit("/", 1)[0] + "/" + role + "@" + tail


def test_clear_pii_is_readable_by_the_crm_role_only(pg_url: str) -> None:
    from yuqing.store.postgres import PostgresError

    Warehouse.open(pg_url).close()  # the owner creates schema and roles
    crm = _login(pg_url, "crm_alice", "yuqing_crm")
    analyst = _login(pg_url, "ana_bob", "yuqing_analyst")
    flow = _login(pg_url, "flow_runner", "yuqing_flow")
    people = [Customer(customer_id="c1", name="张三丰", phone="13812345678", email="zhang@example.com", city="北京"),
              Customer(customer_id="c2", name="李四", phone="+86 139 0000 1111", email="li@example.cn")]  # fmt: skip
    with Warehouse.open(crm) as wh:
        assert wh.upsert_customers(people, KEY) == 2
        clear = wh.customers_for_graph()
        assert list(clear["phone"]) == ["13812345678", "+86 139 0000 1111"]
    for url in (analyst, flow):
        with Warehouse.open(url, read_only=True) as wh:
            seen = wh.customers_for_graph()
            assert list(seen["name"]) == ["张**", "李*"]
            assert list(seen["phone"]) == ["+86 138****5678", "+86 139****1111"]
            assert list(seen["email"]) == ["z***@example.com", "l***@example.cn"]
            assert len(wh.customer_identifiers()) == 4  # digests are readable
            with pytest.raises(PostgresError, match="permission denied for schema yuqing_pii") as refused:
                wh.query("SELECT name, phone FROM yuqing_pii.customers")
            assert refused.value.sqlstate == "42501"  # insufficient_privilege
    with Warehouse.open(flow) as wh:
        with pytest.raises(StoreError, match="yuqing_crm"):
            wh.upsert_customers(people, KEY)
        wh.upsert_posts([make_post(1)])  # a flow role writes the rest
    with Warehouse.open(analyst) as wh, pytest.raises(PostgresError, match="permission denied for table checkpoints"):
        wh.con.execute("INSERT INTO checkpoints VALUES ('weibo', 's', 'c', NULL, NULL, now())")


def test_one_pass_at_a_time_while_collectors_write(pg_url: str) -> None:
    """``Warehouse.hold`` on PostgreSQL: another process's pass is refused, naming the holder; plain writers go on."""
    import os
    import subprocess
    import sys

    from yuqing.store.warehouse import HOLD_ENV

    Warehouse.open(pg_url).close()
    probe = (
        "import sys\nfrom yuqing.store.errors import WarehouseLocked\nfrom yuqing.store.warehouse import Warehouse\n"
        "try:\n    with Warehouse.hold(sys.argv[1]):\n        print('held')\n"
        "except WarehouseLocked as exc:\n    print('refused:', exc)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != HOLD_ENV}
    with Warehouse.hold(pg_url):
        other = subprocess.run([sys.executable, "-c", probe, pg_url], capture_output=True, text=True, env=env,
                               timeout=120, check=True)  # fmt: skip
        with Warehouse.open(pg_url) as wh:  # a collector: not held up
            assert wh.upsert_posts([make_post(1)]).inserted == 1
        with Warehouse.hold(pg_url):  # the pass itself (and its children) hold again freely
            pass
    assert other.stdout.startswith("refused: ") and "in a pass of another process: pid" in other.stdout
    after = subprocess.run([sys.executable, "-c", probe, pg_url], capture_output=True, text=True, env=env,
                           timeout=120, check=True)  # fmt: skip
    assert after.stdout.strip() == "held"


def test_warehouse_url_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from yuqing.store.errors import ConfigError
    from yuqing.store.settings import load_settings

    plain = load_settings(warehouse={"path": str(tmp_path / "w")})
    assert plain.warehouse.backend == "duckdb" and plain.warehouse.location == tmp_path / "w"
    url = "postgresql://yuqing_run@db.example.com/yuqing"
    chosen = load_settings(warehouse={"url": url})
    assert (chosen.warehouse.backend, chosen.warehouse.location, chosen.warehouse.exists()) == ("postgresql", url, True)
    config = tmp_path / "yuqing.toml"
    config.write_text('[warehouse]\nurl = "postgresql://run:s3cret@db.example.com/yuqing"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="password") as refused:
        load_settings(config)
    assert "s3cret" not in str(refused.value)
    monkeypatch.setenv("YUQING_WAREHOUSE__URL", "postgresql://run:s3cret@db.example.com/yuqing")  # the environment may
    env = load_settings()
    assert env.warehouse.shown == "postgresql://run:***@db.example.com/yuqing"
    monkeypatch.delenv("YUQING_WAREHOUSE__URL")
    config.write_text('[warehouse]\nurl = "mysql://db/yuqing"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"warehouse.url: .*not a postgresql:// URL"):
        load_settings(config)


def test_a_masked_value_read_back_stays_as_it_was() -> None:
    """Roles without the CRM grant read masked customers; the customer view masks what it reads (again)."""
    from yuqing.store.pii import mask_email, mask_name, mask_phone

    for mask, clear in ((mask_phone, "138 1234 5678"), (mask_email, "zhang.san@example.com"), (mask_name, "张三丰")):
        assert mask(mask(clear)) == mask(clear) != clear


@pytest.mark.parametrize(
    "args",
    [["search", "星阅"], ["export", "--table", "posts", "--out", "{tmp}/x"], ["db", "status"], ["db", "upgrade"]],
)
def test_commands_on_a_postgres_warehouse(
    args: list[str],
    pg_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Search, export and the schema commands work on PostgreSQL through the CLI, no traceback."""
    from tests.test_query import run_cli

    monkeypatch.setenv("YUQING_WAREHOUSE__URL", pg_url)
    monkeypatch.chdir(tmp_path)
    Warehouse.open(pg_url).close()
    code, out, err = run_cli([a.replace("{tmp}", str(tmp_path)) for a in args], capsys, monkeypatch)
    assert "Traceback" not in out + err
    assert code == 0, err
    if args[0] == "db":
        assert "schema version" in out and "yuqing_admin@" in out
    elif args[0] == "search":
        assert out.startswith("0 posts match 星阅")
    else:
        assert out.split() == f"wrote {tmp_path}/x/posts.parquet (0 rows) wrote {tmp_path}/x/posts.csv (0 rows)".split()


def test_forgetting_a_customer_removes_the_clear_and_the_masked_row(pg_url: str) -> None:
    from yuqing.store.crm import forget_customer, link_audit
    from yuqing.store.schema import CustomerAccountLink, LinkMethod, Order

    Warehouse.open(pg_url).close()
    crm = _login(pg_url, "crm_carol", "yuqing_crm")
    flow = _login(pg_url, "flow_dave", "yuqing_flow")
    people = [Customer(customer_id=c, name="王五", phone="13700000000", email=f"{c}@example.cn") for c in ("c1", "c2")]
    with Warehouse.open(crm) as wh:
        wh.upsert_customers(people, KEY)
        wh.add_orders([Order(order_id="o1", customer_id="c1", amount=10, ordered_at=T0)])
        link = CustomerAccountLink(
            customer_id="c1", platform=Platform.WEIBO, author_id="9", method=LinkMethod.PHONE_HASH, confidence=1.0
        )
        wh.add_links([link])
        wh.save_alerts(pd.DataFrame({"alert_id": ["a1"], "affected_customers": [["c1", "c2"]]}))
    with Warehouse.open(flow) as wh, pytest.raises(StoreError, match="yuqing_crm"):
        forget_customer(wh, "c1", command="test")  # a role that cannot see the clear row cannot forget it
    with Warehouse.open(crm) as wh:
        changed = forget_customer(wh, "c1", command="yuqing crm forget c1")
        assert changed["yuqing_pii.customers"] == changed["yuqing.customers"] == 1
        assert changed["yuqing.orders"] == changed["yuqing.customer_links"] == 1
        assert wh.query("SELECT customer_id FROM yuqing_pii.customers")["customer_id"].tolist() == ["c2"]
        assert wh.query("SELECT customer_id FROM yuqing.customers")["customer_id"].tolist() == ["c2"]
        assert wh.alerts()["affected_customers"].tolist() == [["c2"]]
        assert link_audit(wh, "c1").empty
        assert wh.query("SELECT action FROM privacy_log")["action"].tolist() == ["forget"]


@pytest.mark.slow
def test_prefect_keeps_its_own_database_on_the_same_server(pg_cluster: Cluster, tmp_path: Path) -> None:
    """docs/scaling.md: Prefect's server database on the warehouse's PostgreSQL (its own database and role)."""
    import os
    import subprocess
    import sys

    with psycopg.connect(pg_cluster.url(), autocommit=True) as con:
        con.execute("CREATE ROLE prefect_srv LOGIN")
        con.execute("CREATE DATABASE prefect_srv OWNER prefect_srv")
    url = f"postgresql+asyncpg://prefect_srv@/prefect_srv?host={pg_cluster.root}&port={pg_cluster.port}"
    env = dict(os.environ, PREFECT_SERVER_DATABASE_CONNECTION_URL=url, PREFECT_HOME=str(tmp_path / "prefect"))
    done = subprocess.run(
        [sys.executable, "-m", "prefect", "server", "database", "upgrade", "-y"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    with psycopg.connect(pg_cluster.url("prefect_srv"), autocommit=True) as con:
        assert con.execute("SELECT to_regclass('public.flow_run') IS NOT NULL").fetchone() == (True,)


def test_an_owner_without_createrole_creates_the_warehouse_when_the_roles_exist(pg_url: str) -> None:
    """The administrator makes the three group roles once; the warehouse's owner needs no more than CREATE."""
    with psycopg.connect(pg_url, autocommit=True) as con:
        for role in ("yuqing_flow", "yuqing_analyst", "yuqing_crm"):
            if not con.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone():
                con.execute(f"CREATE ROLE {role} NOLOGIN")
        con.execute("GRANT yuqing_flow TO yuqing_crm")
        con.execute("CREATE ROLE wh_owner LOGIN NOCREATEROLE")
        database = con.execute("SELECT current_database()").fetchone()[0]  # type: ignore[index]
        con.execute(f"GRANT CREATE ON DATABASE {database} TO wh_owner")
    owner = pg_url.replace("yuqing_admin@", "wh_owner@")
    with Warehouse.open(owner) as wh:
        assert wh.schema_version > 0
        assert wh.upsert_posts([make_post(1)]).inserted == 1
        assert wh.query("SELECT tableowner FROM pg_tables WHERE tablename = 'posts'")["tableowner"].tolist() == [
            "wh_owner"
        ]


def test_the_analyse_windows_are_the_same_on_both_backends(pg_url: str, tmp_path: Path) -> None:
    """The analyse stage's windows (every Nth unanalysed key per platform) and the posts each reads, on PostgreSQL
    as on DuckDB; a window read skips the posts analysed since, and with ``reanalyse`` covers every post."""
    from yuqing.store.schema import Post

    posts = [Post(platform=platform, id=f"{i:05d}", text=f"星阅X5 第{i}条", created_at=T0)
             for platform in (Platform.WEIBO, Platform.DOUYIN) for i in range(0, 230, 3)]  # fmt: skip
    seen = []
    for location in (pg_url, str(tmp_path / "w.duckdb")):
        with Warehouse.open(location) as wh:
            wh.upsert_posts(posts)
            wh.save_analysis(pd.DataFrame({"platform": ["weibo"] * 5, "id": [f"{i:05d}" for i in range(0, 15, 3)]}))
            windows = wh.unanalysed_windows(20)
            rows = [sorted(zip(*wh.unanalysed_window(*w).to_pydict().values(), strict=True)) for w in windows]
            assert [len(r) for r in rows] == [20, 20, 20, 17, 20, 20, 20, 12]
            everything = [
                wh.unanalysed_window(*w, reanalyse=True).num_rows for w in wh.unanalysed_windows(20, reanalyse=True)
            ]
            assert everything == [20, 20, 20, 17, 20, 20, 20, 17]
            wh.save_analysis(pd.DataFrame({"platform": ["douyin"], "id": [windows[0][1]]}))
            assert wh.unanalysed_window(*windows[0]).num_rows == 19
            seen.append((windows, rows))
    assert seen[0] == seen[1]
