"""One typed settings object, read once from ``yuqing.toml`` and the environment.

Precedence (highest first): environment variables (``YUQING_`` prefix, ``__``
for nesting, e.g. ``YUQING_WAREHOUSE__PATH``), explicit overrides, ``yuqing.toml``,
defaults.  Secrets (the CRM hashing key, platform tokens,
webhook and SMTP passwords) are read **only** from the environment and are
never written by :func:`example_toml`.

Every setting is declared once with a default and a description; ``yuqing
init`` writes the commented example from these declarations, and a test checks
that every field has a description.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from yuqing.store.errors import ConfigError
from yuqing.store.schema import Platform

if TYPE_CHECKING:
    from yuqing.nlp.query import Query

__all__ = [
    "AlertChannel",
    "AlertSettings",
    "Brand",
    "Campaign",
    "CollectSettings",
    "CrmSettings",
    "FlowSettings",
    "NlpSettings",
    "PlatformSettings",
    "RetentionSettings",
    "Settings",
    "WarehouseSettings",
    "example_toml",
    "load_settings",
]

DEFAULT_CONFIG_FILE = "yuqing.toml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Brand(_Section):
    name: str = Field("示例品牌", description="Brand name as people write it.")
    aliases: list[str] = Field(default_factory=list, description="Nicknames, English name, misspellings.")
    products: list[str] = Field(default_factory=list, description="Product names kept as one token (e.g. 小米14).")
    query: str | None = Field(
        None,
        description="Boolean query deciding a mention (docs/queries.md), e.g. "
        "'(星阅 OR XingYue) NOT 星阅湖'; empty = any of name and aliases.",
    )

    @field_validator("query")
    @classmethod
    def _query_parses(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        from yuqing.nlp.query import Query, QueryError

        try:
            q = Query.parse(value)
        except QueryError as exc:
            raise ValueError(exc.one_line) from None
        if q.fields:
            raise ValueError(
                "author:/platform: filters belong in `yuqing search`, not in a brand query "
                "(a mention is decided from the post's text)"
            )
        if not q.positive_terms:
            raise ValueError(f"{value!r} names no word a mention could contain")
        return value

    @property
    def mention_query(self) -> Query:
        """The query deciding whether a post mentions this brand (``query``, else any of name and aliases)."""
        from yuqing.nlp.query import Query

        if self.query:
            return Query.parse(self.query)
        return Query.any_of([self.name, *self.aliases])

    @property
    def terms(self) -> list[str]:
        """The words whose presence can make a mention (segmentation, clauses for brand sentiment)."""
        if self.query:
            return [t.strip("#") for t in self.mention_query.positive_terms]
        return [self.name, *self.aliases]


class Campaign(_Section):
    name: str = Field(description="Campaign name used on the command line.")
    hashtags: list[str] = Field(default_factory=list, description="Campaign hashtags without #.")
    start: dt.date = Field(description="First day of the campaign (inclusive).")
    end: dt.date = Field(description="Last day of the campaign (inclusive).")
    pre_days: int = Field(14, ge=1, description="Days before start used as the pre-period.")
    post_days: int = Field(14, ge=0, description="Days after end used as the post-period.")

    @model_validator(mode="after")
    def _ordered(self) -> Campaign:
        if self.end < self.start:
            raise ValueError(f"campaign {self.name!r}: end {self.end} is before start {self.start}")
        return self


class AlertChannel(_Section):
    kind: Literal["wecom", "dingtalk", "feishu", "webhook", "email"] = Field(description="Message format.")
    name: str = Field("", description="Name shown by `yuqing alerts` and in errors (default: the kind and host).")
    url: SecretStr = Field(
        SecretStr(""),
        description="Webhook URL (robots/webhook) or smtps://, smtp+starttls:// or smtp://[user@]host:port (email). "
        "Robot URLs carry their access token: prefer url_env.",
    )
    url_env: str = Field("", description="Name of the environment variable holding the URL (wins over url).")
    recipients: list[str] = Field(default_factory=list, description="E-mail recipients.")
    sender: str = Field("yuqing@localhost", description="E-mail sender address.")
    secret_env: str = Field(
        "", description="Name of the environment variable holding this channel's secret (signing key or SMTP password)."
    )
    allow_plain_login: bool = Field(
        False, description="Allow an SMTP login over a plain smtp:// connection (the password travels in clear)."
    )


class AlertSettings(_Section):
    threshold: float = Field(3.0, description="Robust z-score above the seasonal baseline that raises an alert.")
    min_count: int = Field(5, ge=1, description="Minimum complaints in the bucket before an alert can fire.")
    bucket: Literal["hour", "day"] = Field("hour", description="Time bucket for spike detection.")
    baseline_days: int = Field(14, ge=1, description="Trailing window used as the baseline.")
    warmup_days: int = Field(
        7,
        ge=1,
        description="Days of history the baseline must hold before a bucket can raise an alert "
        "(no alerts on the first days of the data; at most baseline_days).",
    )
    resolve_after: int = Field(3, ge=1, description="Quiet buckets after which an alert is marked resolved.")
    channels: list[AlertChannel] = Field(default_factory=list, description="Where alerts are sent.")
    report_url: str = Field(
        "",
        description="Where people open the published brand report: the only link robot messages carry (empty: none).",
    )
    timeout: float = Field(10.0, gt=0, description="Seconds before a delivery attempt times out.")
    retry_backoff_seconds: list[float] = Field(
        default_factory=lambda: [60.0, 300.0, 1800.0, 3600.0],
        description="Wait before retrying a delivery the receiver did not accept, per failed pass (the last repeats).",
    )
    delivery_expire_hours: float = Field(
        24.0, gt=0, description="A delivery not accepted within this many hours is marked expired, no longer retried."
    )
    page_history: bool = Field(
        False,
        description="Also send incidents that were over when first seen, or whose last spike is older than "
        "page_max_age_hours (a backfill or a first run over history); they are recorded as suppressed otherwise.",
    )
    page_max_age_hours: float = Field(
        48.0, gt=0, description="An incident whose last spike is older than this (wall clock) is history: not paged."
    )

    @model_validator(mode="after")
    def _warmup_within_baseline(self) -> AlertSettings:
        if self.warmup_days > self.baseline_days:
            if "warmup_days" in self.model_fields_set:
                raise ValueError(
                    f"alerts.warmup_days ({self.warmup_days}) exceeds baseline_days ({self.baseline_days})"
                )
            self.warmup_days = self.baseline_days  # the default follows a short baseline
        return self


class WarehouseSettings(_Section):
    backend: Literal["duckdb", "postgresql"] = Field(
        "duckdb",
        description="Warehouse engine: the embedded DuckDB file (path), or a PostgreSQL server (url; set from it).",
    )
    path: Path = Field(
        Path("yuqing.duckdb"), description="DuckDB file (relative paths are relative to the config file)."
    )
    url: str = Field(
        "",
        description='PostgreSQL server, e.g. "postgresql://yuqing_run@db.example.com/yuqing": selects the '
        "PostgreSQL backend (docs/scaling.md). No password in the file: libpq reads PGPASSWORD or ~/.pgpass, or set "
        "the whole URL as YUQING_WAREHOUSE__URL.",
    )
    wait_seconds: float = Field(
        30.0,
        ge=0,
        description="Seconds `yuqing run` waits for another process to release the warehouse before giving up.",
    )

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, value: str) -> str:
        value = value.strip()
        if value and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("not a postgresql:// URL")
        return value

    @model_validator(mode="after")
    def _backend_of_url(self) -> WarehouseSettings:
        if self.url:
            self.backend = "postgresql"
        elif self.backend == "postgresql":
            raise ValueError("backend postgresql needs url, the server to use")
        return self

    @property
    def location(self) -> str | Path:
        """What :meth:`store.warehouse.Warehouse.open` takes: the server's URL, else the DuckDB file."""
        return self.url or self.path

    @property
    def shown(self) -> str:
        """The location as messages show it (a URL without its password)."""
        from yuqing.store.postgres import shown_url

        return shown_url(self.url) if self.url else str(self.path)

    def exists(self) -> bool:
        """Whether there may be a warehouse to read: a server always, a DuckDB file once created."""
        return bool(self.url) or self.path.exists()


class CrmSettings(_Section):
    hmac_key: SecretStr | None = Field(
        None, description="Key for HMAC-SHA256 of phones/e-mails. Environment only: YUQING_CRM__HMAC_KEY."
    )
    hmac_key_file: Path | None = Field(
        None,
        description="File holding the CRM hashing key (one line, readable by its owner only: chmod 600); "
        "relative to the config file. YUQING_CRM__HMAC_KEY, when set, wins.",
    )
    default_region: str = Field("CN", description="Region for normalising phone numbers to E.164.")

    def key_bytes(self) -> bytes:
        """The hashing key, checked: unset, empty or shorter than 32 bytes is a :class:`ConfigError`.

        From YUQING_CRM__HMAC_KEY, else from ``hmac_key_file`` (refused if others can read it)."""
        from yuqing.store.pii import check_hmac_key

        if self.hmac_key is None and self.hmac_key_file is not None:
            path = self.hmac_key_file
            try:
                if path.stat().st_mode & 0o077:
                    raise ConfigError(f"{path}: CRM key file is readable by others; run: chmod 600 {path}")
                text = path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"{path}: cannot read the CRM key file ({exc.strerror})") from None
            return check_hmac_key(text.encode("utf-8"))
        if self.hmac_key is None:
            raise ConfigError(
                "YUQING_CRM__HMAC_KEY is not set (nor crm.hmac_key_file): the CRM join needs a key to hash "
                "phones and e-mails"
            )
        return check_hmac_key(self.hmac_key.get_secret_value().encode("utf-8"))


class RetentionSettings(_Section):
    raw_payload_days: int = Field(
        180,
        ge=0,
        description="Raw platform payloads (posts.raw, authors.raw) fetched longer ago than this many days are "
        "emptied by `yuqing retention` (run by every pass); 0 keeps them.",
    )
    customer_days: int = Field(
        0,
        ge=0,
        description="Customers with no order and no CRM update for this many days are forgotten (as by "
        "`yuqing crm forget`) by `yuqing retention`; 0 keeps them.",
    )


class PlatformSettings(_Section):
    weibo_api_base: str = Field("https://api.weibo.com/2", description="Weibo Open API base URL.")
    weibo_mobile_base: str = Field("https://m.weibo.cn", description="m.weibo.cn base URL.")
    forum_base: str = Field("https://tieba.baidu.com", description="Forum (Tieba-like) base URL.")
    weibo_token: SecretStr | None = Field(
        None, description="OAuth2 access token. Environment only: YUQING_PLATFORMS__WEIBO_TOKEN."
    )
    weibo_refresh_token: SecretStr | None = Field(
        None, description="OAuth2 refresh token. Environment only: YUQING_PLATFORMS__WEIBO_REFRESH_TOKEN."
    )
    weibo_app_key: str = Field("", description="OAuth2 client id used to refresh tokens.")
    weibo_app_secret: SecretStr | None = Field(
        None, description="OAuth2 client secret. Environment only: YUQING_PLATFORMS__WEIBO_APP_SECRET."
    )
    timeout: float = Field(10.0, gt=0, description="Seconds before a request times out.")
    max_retries: int = Field(4, ge=0, description="Retries on 5xx/429/timeouts before giving up.")
    backoff_base: float = Field(0.5, ge=0, description="First backoff delay in seconds (doubles, with jitter).")
    max_retry_after: float = Field(300.0, ge=0, description="Longest Retry-After wait honoured, in seconds.")
    requests_per_hour: int = Field(
        1000,
        ge=1,
        description="Rate budget of each account: every login cookie in `cookies` spends its own budget "
        "(without cookies, the one anonymous client does).",
    )
    cookies: dict[Platform, dict[str, SecretStr]] = Field(
        default_factory=dict,
        description="Login cookies per platform and account name, a pool of accounts each with its own rate budget; "
        "a platform's scopes are shared out among its accounts. Environment only, as JSON: "
        'YUQING_PLATFORMS__COOKIES=\'{"weibo": {"ops1": "SUB=...; SUBP=..."}}\'. Only the account names are ever '
        "logged or stored.",
    )
    base_urls: dict[Platform, str] = Field(
        default_factory=dict,
        description="API base URL per platform, for platforms without a setting of their own above (a proxy, or the "
        "fake platform); a platform's client reads it through its registry entry (collectors/platforms.py).",
    )
    block_hours: float = Field(
        3.0,
        ge=0,
        description="How long an account is left alone after the platform blocks it (Weibo: HTTP 418/432; "
        "blocks last hours). Its scopes stop, keep their checkpoints and resume at the first run after that.",
    )
    weibo_engine: Literal["api", "spider"] = Field(
        "api",
        description='How Weibo is collected: "api" (httpx collectors: search queries and account timelines with '
        "comments, reposts and Open API profiles of large accounts; checkpointed, incremental, honours "
        '--since/--until) or "spider" (the scrapy mobile spider: search queries with comments and reposts; '
        "no account timelines, profiles or time window).",
    )


class CollectSettings(_Section):
    queries: list[str] = Field(default_factory=list, description="Search keywords/hashtags to collect.")
    accounts: list[str] = Field(default_factory=list, description="Account uids whose timelines are collected.")
    forum_boards: list[str] = Field(default_factory=list, description="Forum boards (Tieba kw) to crawl.")
    comments: bool = Field(True, description="Also collect comment threads of collected posts.")
    reposts: bool = Field(True, description="Also collect repost timelines of collected posts.")
    since_days: int = Field(30, ge=1, description="Default look-back window for a first collection.")


class NlpSettings(_Section):
    sentiment_model: Path | None = Field(None, description="Sentiment model file; empty = the shipped default.")
    sentiment_engine: Literal["linear", "snownlp"] = Field(
        "linear", description="Shipped sentiment engine: linear (measured best) or snownlp (SnowNLP's naive Bayes)."
    )
    neutral_band: tuple[float, float] | None = Field(
        None, description="Scores inside this band are neutral; empty = the band stored with the model."
    )
    stopwords: Path | None = Field(None, description="Extra stopwords file, one per line.")
    user_dict: Path | None = Field(None, description="Extra jieba user dictionary (lines: word [freq] [tag]).")
    segment_engine: Literal["rjieba", "jieba"] = Field(
        "rjieba",
        description="Word segmentation: rjieba (jieba-rs, ~9x faster) or jieba (the Python reference); same tokens.",
    )
    topics_k: int | None = Field(None, description="Fixed LDA topic count; empty = chosen by coherence.")
    workers: int = Field(0, ge=0, description="Processes for the NLP stage; 0 = one per core.")


class FlowSettings(_Section):
    task_runner: Literal["thread", "process", "dask"] = Field("process", description="Prefect task runner.")
    dask_address: str = Field("", description="Dask scheduler address; empty = a local cluster.")
    collect_cron: str = Field("0 * * * *", description="Schedule of collection in `yuqing serve`.")
    report_cron: str = Field("0 8 * * *", description="Schedule of the daily report in `yuqing serve`.")
    out_dir: Path = Field(Path("out"), description="Where reports are written.")


class Settings(BaseSettings):
    """Everything yuqing can be told.  Load with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix="YUQING_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    brand: Brand = Field(default_factory=Brand, description="The brand being monitored.")
    competitors: list[Brand] = Field(default_factory=list, description="Competitor brands.")
    campaigns: list[Campaign] = Field(default_factory=list, description="Marketing campaigns to evaluate.")
    collect: CollectSettings = Field(default_factory=CollectSettings, description="What to collect.")
    platforms: PlatformSettings = Field(default_factory=PlatformSettings, description="Platform endpoints.")
    warehouse: WarehouseSettings = Field(default_factory=WarehouseSettings, description="Where data lives.")
    crm: CrmSettings = Field(default_factory=CrmSettings, description="CRM join.")
    nlp: NlpSettings = Field(default_factory=NlpSettings, description="Text analytics.")
    alerts: AlertSettings = Field(default_factory=AlertSettings, description="Complaint early warning.")
    flows: FlowSettings = Field(default_factory=FlowSettings, description="Orchestration.")
    retention: RetentionSettings = Field(
        default_factory=RetentionSettings, description="How long raw payloads and customer data are kept."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's contents arrive as init arguments (see load_settings); the
        # environment wins over them.  No .env files, no secrets directory.
        return (env_settings, init_settings)

    @model_validator(mode="after")
    def _derive_collect_queries(self) -> Settings:
        # brands defined by a query also say what to collect, unless collect.queries is set
        if "queries" not in self.collect.model_fields_set and any(b.query for b in self.all_brands):
            from yuqing.nlp.query import QueryError

            try:
                found = [k for b in self.all_brands for k in b.mention_query.keywords()]
            except QueryError as exc:
                raise ValueError(exc.one_line) from None
            self.collect.queries = list(dict.fromkeys(found))
        return self

    def campaign(self, name: str) -> Campaign:
        for c in self.campaigns:
            if c.name == name:
                return c
        known = ", ".join(c.name for c in self.campaigns) or "none configured"
        raise KeyError(f"no campaign named {name!r} (known: {known})")

    @property
    def all_brands(self) -> list[Brand]:
        return [self.brand, *self.competitors]


_SECRET_FIELDS = {"hmac_key", "weibo_token", "weibo_refresh_token", "weibo_app_secret", "cookies"}


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Read settings from ``path`` (default ``./yuqing.toml`` if present) and the environment.

    Relative paths inside the file are resolved against the file's directory.
    Secrets found in the file are refused: they belong in the environment.
    """
    import tomllib

    data: dict[str, Any] = {}
    cfg: Path | None = Path(path) if path is not None else None
    if cfg is None and Path(DEFAULT_CONFIG_FILE).exists():
        cfg = Path(DEFAULT_CONFIG_FILE)
    if cfg is not None:
        if not cfg.exists():
            raise ConfigError(f"settings file not found: {cfg}")
        try:
            with cfg.open("rb") as fh:
                data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{cfg}: not valid TOML: {exc}") from exc
        for section in data.values():
            if isinstance(section, dict):
                leaked = _SECRET_FIELDS & set(section)
                if leaked:
                    raise ConfigError(
                        f"{cfg}: secret setting(s) {sorted(leaked)} must come from the environment, not the file"
                    )
        url = data.get("warehouse", {}).get("url") if isinstance(data.get("warehouse"), dict) else None
        if isinstance(url, str) and re.match(r"^[a-z]+://[^/@]*:[^/@]*@", url):
            raise ConfigError(
                f"{cfg}: warehouse.url holds a password: it belongs in the environment (PGPASSWORD, ~/.pgpass, "
                "or the whole URL as YUQING_WAREHOUSE__URL)"
            )
    # paths given as overrides (command-line flags) are relative to the working directory, not the file
    for section, key in (("warehouse", "path"), ("flows", "out_dir")):
        value = overrides.get(section, {}).get(key) if isinstance(overrides.get(section), dict) else None
        if value is not None:
            overrides = _deep_merge(overrides, {section: {key: str(Path(value).resolve())}})
    try:
        settings = Settings(**_deep_merge(data, overrides))
    except ValidationError as exc:
        where = str(cfg) if cfg is not None else "settings"
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"{where}: {problems}") from exc
    if cfg is not None:
        base = cfg.resolve().parent
        wh = settings.warehouse.path
        if not wh.is_absolute():
            settings.warehouse.path = base / wh
        fo = settings.flows.out_dir
        if not fo.is_absolute():
            settings.flows.out_dir = base / fo
        kf = settings.crm.hmac_key_file
        if kf is not None and not kf.is_absolute():
            settings.crm.hmac_key_file = base / kf
    return settings


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Path):
        return _toml_value(str(value))
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    if value is None:
        return '""'
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def example_toml() -> str:
    """A commented ``yuqing.toml`` generated from the declarations above (no secrets)."""
    lines = [
        "# yuqing settings. Every key is optional; environment variables override it",
        "# (YUQING_<SECTION>__<KEY>, e.g. YUQING_WAREHOUSE__PATH). Secrets come only from",
        "# the environment: YUQING_CRM__HMAC_KEY (or a 0600 file named by crm.hmac_key_file),",
        "# YUQING_PLATFORMS__WEIBO_TOKEN,",
        "# YUQING_PLATFORMS__WEIBO_APP_SECRET, YUQING_PLATFORMS__COOKIES.",
        "",
    ]
    sections: dict[str, type[_Section]] = {
        "brand": Brand,
        "collect": CollectSettings,
        "platforms": PlatformSettings,
        "warehouse": WarehouseSettings,
        "crm": CrmSettings,
        "nlp": NlpSettings,
        "alerts": AlertSettings,
        "flows": FlowSettings,
        "retention": RetentionSettings,
    }
    for name, model in sections.items():
        lines.append(f"[{name}]")
        instance = model() if name != "brand" else Brand(name="示例品牌", aliases=["示例"], products=["示例手机14"])
        for field_name, info in model.model_fields.items():
            lines.append(f"# {info.description}")
            if field_name in _SECRET_FIELDS:
                lines.append(f"# {field_name} = (environment only)")
                continue
            if field_name == "channels":
                lines.append(
                    '# [[alerts.channels]]\n# kind = "wecom"\n# name = "ops-wecom"\n'
                    '# url_env = "YUQING_WECOM_URL"   # the robot URL (it carries the key) from the environment'
                )
                continue
            value = getattr(instance, field_name)
            prefix = "" if value not in (None, [], "", {}) else "# "
            lines.append(f"{prefix}{field_name} = {_toml_value(value)}")
        lines.append("")
    lines += [
        "# Competitors: one [[competitors]] table each.",
        "[[competitors]]",
        "# Brand name as people write it.",
        'name = "竞品A"',
        "# Nicknames, English name, misspellings.",
        "aliases = []",
        "",
        "# Campaigns: one [[campaigns]] table each.",
        "[[campaigns]]",
        "# Campaign name used on the command line.",
        'name = "双十一"',
        "# Campaign hashtags without #.",
        'hashtags = ["示例双十一"]',
        "# First and last day (inclusive); pre/post windows in days.",
        "start = 2026-11-01",
        "end = 2026-11-11",
        "pre_days = 14",
        "post_days = 14",
        "",
    ]
    return "\n".join(lines)
