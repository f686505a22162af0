"""Every table of the warehouse, declared once: its columns, their types, its key.

This is the warehouse contract.  The migrations of :mod:`store.warehouse` create and change tables so that a
warehouse at the newest schema version holds exactly these tables with exactly these columns and types (a
test compares them with what DuckDB reports); the typed methods of :class:`store.warehouse.Warehouse` write a
derived table only through its declaration (an undeclared column is an error naming it, JSON columns are
encoded there and nowhere else); a second backend creates the same tables from the same declarations.

Types are written as DuckDB spells them; ``JSON`` columns hold JSON text; ``VARCHAR[]`` is a list of strings.
*Ingest* tables hold what was collected or imported and are never rebuilt; *derived* tables hold what the
stages computed from them and may be emptied and recomputed at any time (``yuqing run --reanalyse``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["TABLES", "Column", "Table", "derived_tables", "table"]


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str
    not_null: bool = False
    default: str | None = None  # an SQL expression (a sequence's nextval)

    @property
    def is_json(self) -> bool:
        return self.type == "JSON"

    def ddl(self) -> str:
        return " ".join(
            [self.name, self.type]
            + (["NOT NULL"] if self.not_null else [])
            + ([f"DEFAULT {self.default}"] if self.default else [])
        )


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    derived: bool = False
    doc: str = ""
    sequences: tuple[str, ...] = field(default=())

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def json_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.is_json]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"table {self.name} has no column {name!r}")

    def ddl(self, *, name: str | None = None) -> str:
        """``CREATE TABLE`` for this declaration (under ``name`` when given: a rebuild's scratch table)."""
        parts = [c.ddl() for c in self.columns]
        if self.key:
            parts.append(f"PRIMARY KEY ({', '.join(self.key)})")
        return f"CREATE TABLE {name or self.name} ({', '.join(parts)})"


def _cols(spec: str) -> tuple[Column, ...]:
    """``"platform VARCHAR!, id VARCHAR!, raw JSON"`` → columns; a trailing ``!`` means NOT NULL."""
    out = []
    for item in re.split(r",(?![^()]*\))", spec):  # not the comma of DECIMAL(18,2)
        name, type_ = item.strip().split(" ", 1)
        type_ = type_.strip()
        not_null = type_.endswith("!")
        out.append(Column(name, type_.rstrip("!").strip(), not_null=not_null))
    return tuple(out)


_POSTS = Table(
    "posts",
    _cols(
        "platform VARCHAR!, id VARCHAR!, kind VARCHAR!, text VARCHAR!, created_at TIMESTAMPTZ!, author_id VARCHAR, "
        "author_name VARCHAR, parent_id VARCHAR, root_id VARCHAR, parent_author_id VARCHAR, reposts_count BIGINT!, "
        "comments_count BIGINT!, attitudes_count BIGINT!, source VARCHAR, location VARCHAR, topics VARCHAR[], "
        "at_users VARCHAR[], urls VARCHAR[], pics VARCHAR[], query VARCHAR, fetched_at TIMESTAMPTZ!, raw JSON, "
        "first_seen_at TIMESTAMPTZ!"
    ),
    ("platform", "id"),
    doc="Posts, comments and reposts of every platform (store.schema.Post); raw payload as collected.",
)
_INGEST: tuple[Table, ...] = (
    _POSTS,
    Table(
        "post_metrics",
        _cols(
            "platform VARCHAR!, post_id VARCHAR!, fetched_at TIMESTAMPTZ!, reposts_count BIGINT!, "
            "comments_count BIGINT!, attitudes_count BIGINT!"
        ),
        ("platform", "post_id", "fetched_at"),
        doc="A snapshot of a post's counts whenever they changed.",
    ),
    Table(
        "authors",
        _cols(
            "platform VARCHAR!, id VARCHAR!, screen_name VARCHAR, followers_count BIGINT!, friends_count BIGINT!, "
            "statuses_count BIGINT!, verified BOOLEAN!, verified_type INTEGER, verified_reason VARCHAR, "
            "gender VARCHAR, location VARCHAR, description VARCHAR, created_at TIMESTAMPTZ, fetched_at TIMESTAMPTZ!, "
            "raw JSON"
        ),
        ("platform", "id"),
        doc="Accounts (store.schema.Author); contact details in raw are hashed or masked (store.crm).",
    ),
    Table(
        "author_metrics",
        _cols("platform VARCHAR!, author_id VARCHAR!, fetched_at TIMESTAMPTZ!, followers_count BIGINT!"),
        ("platform", "author_id", "fetched_at"),
        doc="A snapshot of an account's followers whenever it changed.",
    ),
    Table(
        "interactions",
        _cols(
            "platform VARCHAR!, kind VARCHAR!, source_author_id VARCHAR!, target_author_id VARCHAR!, "
            "post_id VARCHAR!, created_at TIMESTAMPTZ!, weight DOUBLE!"
        ),
        ("platform", "kind", "source_author_id", "target_author_id", "post_id"),
        doc="Who reposted, commented on, replied to or mentioned whom.",
    ),
    Table(
        "checkpoints",
        _cols(
            "platform VARCHAR!, scope VARCHAR!, cursor VARCHAR!, since TIMESTAMPTZ, until TIMESTAMPTZ, "
            "updated_at TIMESTAMPTZ!"
        ),
        ("platform", "scope"),
        doc="Where collection of each scope resumes; written in the transaction of the rows it covers.",
    ),
    Table(
        "customers",
        _cols(
            "customer_id VARCHAR!, name VARCHAR, phone VARCHAR, email VARCHAR, city VARCHAR, "
            "registered_at TIMESTAMPTZ, handles JSON, updated_at TIMESTAMPTZ!, source VARCHAR"
        ),
        ("customer_id",),
        doc="The CRM's customers: the only table with clear names, phones and e-mails.",
    ),
    Table(
        "customer_identifiers",
        _cols("customer_id VARCHAR!, kind VARCHAR!, value VARCHAR!"),
        ("customer_id", "kind", "value"),
        doc="Keyed hashes (HMAC) of each customer's phone, e-mail and handles: what linking compares.",
    ),
    Table(
        "orders",
        _cols(
            "order_id VARCHAR!, customer_id VARCHAR!, amount DECIMAL(18,2)!, ordered_at TIMESTAMPTZ!, "
            "product VARCHAR, channel VARCHAR"
        ),
        ("order_id",),
    ),
    Table(
        "customer_links",
        (
            Column("seq", "BIGINT", not_null=True, default="nextval('customer_links_seq')"),
            *_cols(
                "customer_id VARCHAR!, platform VARCHAR!, author_id VARCHAR!, method VARCHAR!, confidence DOUBLE!, "
                "linked_at TIMESTAMPTZ!, note VARCHAR, source VARCHAR, command VARCHAR"
            ),
        ),
        ("seq",),
        doc="Customer ↔ account links, append-only (an audit trail): the newest row per pair is current.",
        sequences=("customer_links_seq",),
    ),
    Table(
        "alert_deliveries",
        _cols(
            "key VARCHAR!, alert_id VARCHAR!, event VARCHAR!, channel VARCHAR!, label VARCHAR!, payload JSON!, "
            "state VARCHAR!, attempts INTEGER!, last_error VARCHAR, created_at TIMESTAMPTZ!, "
            "next_attempt_at TIMESTAMPTZ!, expires_at TIMESTAMPTZ!, delivered_at TIMESTAMPTZ"
        ),
        ("key",),
        doc="The alert outbox (reports.delivery): one row per alert state change and channel until delivered.",
    ),
    Table(
        "crm_key",
        _cols("fingerprint VARCHAR!, set_at TIMESTAMPTZ!"),
        doc="Fingerprint of the key the identifier hashes were made with (never the key).",
    ),
    Table(
        "privacy_log",
        (
            Column("seq", "BIGINT", not_null=True, default="nextval('privacy_log_seq')"),
            *_cols("logged_at TIMESTAMPTZ!, action VARCHAR!, subject VARCHAR!, detail VARCHAR!, command VARCHAR!"),
        ),
        ("seq",),
        doc="What was forgotten, expired or pseudonymised, when and by which command.",
        sequences=("privacy_log_seq",),
    ),
    Table(
        "tickets",
        _cols(
            "ticket_id VARCHAR!, customer_id VARCHAR!, opened_at TIMESTAMPTZ!, category VARCHAR, status VARCHAR!, "
            "is_open BOOLEAN!"
        ),
        ("ticket_id",),
        doc="Customer-service tickets from the CRM.",
    ),
)

_DERIVED: tuple[Table, ...] = (
    Table(
        "post_analysis",
        _cols(
            "platform VARCHAR!, id VARCHAR!, sentiment DOUBLE, polarity VARCHAR, complaint BOOLEAN, "
            "complaint_category VARCHAR, emotion VARCHAR, keywords VARCHAR, brands VARCHAR[], brand_sentiment JSON, "
            "tokens VARCHAR, analysed_at TIMESTAMPTZ"
        ),
        ("platform", "id"),
        derived=True,
        doc="The text stage per post (nlp.pipeline.OUTPUT_COLUMNS; keywords and tokens space-separated).",
    ),
    Table(
        "post_topics",
        _cols("platform VARCHAR!, id VARCHAR!, topic BIGINT, topic_label VARCHAR"),
        ("platform", "id"),
        derived=True,
        doc="Each modelled post's topic (the topics stage replaces it at every refit).",
    ),
    Table(
        "topics",
        _cols(
            "topic BIGINT!, topic_label VARCHAR, new BOOLEAN, posts BIGINT, share DOUBLE, emerging BOOLEAN, "
            "recent_share DOUBLE, baseline_share DOUBLE, ratio DOUBLE"
        ),
        ("topic",),
        derived=True,
        doc="One row per topic: label, size, share and whether it is emerging (nlp.topics.topic_summary).",
    ),
    Table(
        "leaders",
        _cols(
            "platform VARCHAR!, author_id VARCHAR!, pagerank DOUBLE, in_weight DOUBLE, cascade_size BIGINT, "
            "cascade_depth BIGINT, screen_name VARCHAR, verified BOOLEAN, followers BIGINT, score DOUBLE, "
            "rank BIGINT, reasons VARCHAR, community BIGINT, customers_reached BIGINT, customers_value DOUBLE"
        ),
        ("platform", "author_id"),
        derived=True,
        doc="Every author of the interaction graph ranked as an opinion leader (graph.leaders.rank_leaders).",
    ),
    Table(
        "communities",
        _cols(
            "community BIGINT!, size BIGINT, posts BIGINT, label VARCHAR, dominant_sentiment VARCHAR, "
            "negative_share DOUBLE, leaders VARCHAR"
        ),
        ("community",),
        derived=True,
        doc="One row per community (graph.communities.describe_communities).",
    ),
    Table(
        "community_members",
        _cols("platform VARCHAR!, author_id VARCHAR!, community BIGINT"),
        ("platform", "author_id"),
        derived=True,
    ),
    Table(
        "customer_view",
        _cols(
            "customer_id VARCHAR!, name VARCHAR, phone VARCHAR, email VARCHAR, city VARCHAR, recency_days BIGINT, "
            "frequency BIGINT, monetary DOUBLE, r BIGINT, f BIGINT, m BIGINT, rfm_segment VARCHAR, clv DOUBLE, "
            "author_id VARCHAR, method VARCHAR, confidence DOUBLE, influence DOUBLE, leader_rank DOUBLE, "
            "community BIGINT, posts BIGINT, sentiment DOUBLE, complaints BIGINT, sentiment_trend DOUBLE, "
            "open_complaints BIGINT"
        ),
        ("customer_id",),
        derived=True,
        doc="One row per customer for reports: name, phone and e-mail MASKED (graph.customers.customer_view).",
    ),
    Table(
        "post_counts",
        _cols(
            "hour TIMESTAMP!, platform VARCHAR!, kind VARCHAR!, brand VARCHAR!, polarity VARCHAR!, complaint BOOLEAN!, "
            "complaint_category VARCHAR!, posts BIGINT!, engagement BIGINT!, sentiment_n BIGINT!, "
            "sentiment_sum DOUBLE!, sentiment_sumsq DOUBLE!, positive BIGINT!, negative BIGINT!, "
            "fetched_upto TIMESTAMPTZ, analysed_upto TIMESTAMPTZ"
        ),
        ("hour", "platform", "kind", "brand", "polarity", "complaint", "complaint_category"),
        derived=True,
        doc="Posts counted per China wall-clock hour x platform x kind x brand x polarity x complaint category "
        "(store.warehouse.refresh_post_counts, kept up to date by the analyse stage): brand '' counts every post, "
        "a brand's rows the posts naming it, with the brand's sentiment (count, sum, sum of squares, >= 0.6, "
        "< 0.4) and engagement (reposts + comments + likes); '' where polarity or category is NULL.  "
        "fetched_upto / analysed_upto: the newest fetch and analysis of the hour's posts when it was counted.",
    ),
    Table(
        "alerts",
        _cols(
            "alert_id VARCHAR!, brand VARCHAR, category VARCHAR, categories JSON, keywords JSON, status VARCHAR, "
            "started_at TIMESTAMPTZ, last_spike_at TIMESTAMPTZ, peak_z DOUBLE, complaints BIGINT, severity DOUBLE, "
            "affected_customers JSON, affected_clv DOUBLE, reach BIGINT, evidence JSON, updated_at TIMESTAMPTZ"
        ),
        ("alert_id",),
        derived=True,
        doc="Complaint alerts and their states (reports.warning.ALERT_COLUMNS); kept across passes.",
    ),
)

TABLES: dict[str, Table] = {t.name: t for t in (*_INGEST, *_DERIVED)}


def table(name: str) -> Table:
    """The declaration of ``name``; a clear error for a table the warehouse does not have."""
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"no table {name!r} in the warehouse contract (store/tables.py)") from None


def derived_tables() -> list[Table]:
    return [t for t in TABLES.values() if t.derived]
