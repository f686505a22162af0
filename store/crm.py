"""CRM import: customers and orders from a company's CSV export, with column mapping and per-row errors.

Column names are matched case-insensitively against common Chinese and English
headers (客户编号/customer_id, 姓名/name, 手机/phone, 邮箱/email, ...); ``mapping``
overrides them (``{"phone": "联系电话"}``).  A bad row is reported with file, line
and field (:class:`InputError`) and the rest of the file still loads.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from pydantic import ValidationError

from yuqing.store.errors import InputError
from yuqing.store.schema import Customer, Order, aware
from yuqing.store.warehouse import registered

if TYPE_CHECKING:
    from yuqing.store.warehouse import Warehouse

__all__ = [
    "CUSTOMER_COLUMNS",
    "ORDER_COLUMNS",
    "ImportReport",
    "check_key_fingerprint",
    "enforce_retention",
    "forget_customer",
    "key_fingerprint",
    "link_audit",
    "pseudonymise_authors",
    "read_customers",
    "read_orders",
    "read_tickets",
    "rotate_key",
]

CUSTOMER_COLUMNS: dict[str, list[str]] = {
    "customer_id": ["customer_id", "客户编号", "客户id", "会员号", "id"],
    "name": ["name", "姓名", "客户姓名", "名字"],
    "phone": ["phone", "手机", "手机号", "电话", "mobile"],
    "email": ["email", "邮箱", "电子邮件", "e-mail"],
    "city": ["city", "城市", "所在城市"],
    "registered_at": ["registered_at", "注册时间", "注册日期", "created_at"],
    "weibo": ["weibo", "微博uid", "微博", "weibo_uid", "微博账号"],
    "weibo_name": ["weibo_name", "微博昵称", "微博名", "weibo_nickname"],  # used when the uid is empty
}
ORDER_COLUMNS: dict[str, list[str]] = {
    "order_id": ["order_id", "订单号", "订单编号"],
    "customer_id": ["customer_id", "客户编号", "客户id", "会员号"],
    "amount": ["amount", "金额", "订单金额", "实付金额"],
    "ordered_at": ["ordered_at", "下单时间", "订单时间", "created_at"],
    "product": ["product", "商品", "商品名称"],
    "channel": ["channel", "渠道", "销售渠道"],
}
TICKET_COLUMNS: dict[str, list[str]] = {
    "ticket_id": ["ticket_id", "工单号", "工单编号", "工单id"],
    "customer_id": ["customer_id", "customer", "客户编号", "客户id", "会员号"],
    "opened_at": ["opened_at", "opened", "创建时间", "提交时间", "开单时间", "created_at"],
    "category": ["category", "类别", "工单类型", "问题类型", "分类"],
    "status": ["status", "状态", "工单状态", "处理状态"],
}
# A ticket whose status is one of these is closed; any other status (待处理, 处理中, open, pending, ...) is open.
CLOSED_STATUSES = frozenset(
    {"closed", "resolved", "done", "solved", "cancelled", "canceled", "已关闭", "关闭", "已解决", "已完成", "已结案",
     "结案", "已处理", "已取消", "完结"}
)  # fmt: skip


@dataclass(frozen=True)
class Ticket:
    """A customer-service ticket (工单): who, when, about what, and whether it is still open."""

    ticket_id: str
    customer_id: str
    opened_at: dt.datetime
    category: str
    status: str

    @property
    def is_open(self) -> bool:
        return self.status.strip().lower() not in CLOSED_STATUSES


@dataclass
class ImportReport:
    loaded: int = 0
    errors: list[InputError] = field(default_factory=list)


def _resolve(
    header: list[str], wanted: dict[str, list[str]], mapping: dict[str, str], file: str, required: tuple[str, ...]
) -> dict[str, str]:
    lower = {h.strip().lower(): h for h in header}
    out: dict[str, str] = {}
    for fld, names in wanted.items():
        if fld in mapping:
            if mapping[fld] not in header:
                raise InputError(f"mapped column {mapping[fld]!r} not in header", file=file, line=1, field=fld)
            out[fld] = mapping[fld]
            continue
        for n in names:
            if n.lower() in lower:
                out[fld] = lower[n.lower()]
                break
    missing = [f for f in required if f not in out]
    if missing:
        raise InputError(
            f"no column for {missing} (header: {header}); use --map FIELD=COLUMN", file=file, line=1, field=missing[0]
        )
    return out


def _time(value: str) -> dt.datetime | None:
    value = value.strip()
    if not value:
        return None
    ts = pd.Timestamp(value)
    return aware(ts.to_pydatetime())


def _read(path: Path, encoding: str) -> pd.DataFrame:
    """The whole CSV as text cells; a broken file is an :class:`InputError` (the CLI checks it first)."""
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"not a readable {encoding} CSV: {' '.join(str(exc).split())}", file=str(path)) from exc


def read_customers(
    path: Path, mapping: dict[str, str] | None = None, *, encoding: str = "utf-8"
) -> tuple[list[Customer], ImportReport]:
    frame = _read(path, encoding)
    cols = _resolve(list(frame.columns), CUSTOMER_COLUMNS, mapping or {}, str(path), ("customer_id",))
    report = ImportReport()
    out: list[Customer] = []
    for line, row in enumerate(frame.to_dict("records"), start=2):
        fld = "customer_id"
        try:
            get = {f: str(row[c]).strip() for f, c in cols.items()}
            fld = "registered_at"
            registered = _time(get.get("registered_at", ""))
            fld = "customer_id"
            handle = get.get("weibo") or get.get("weibo_name", "").lstrip("@")
            handles = {"weibo": handle} if handle else {}
            out.append(
                Customer(
                    customer_id=get["customer_id"],
                    name=get.get("name", ""),
                    phone=get.get("phone", ""),
                    email=get.get("email", ""),
                    city=get.get("city", ""),
                    registered_at=registered,
                    handles=handles,
                )
            )
        except (ValueError, ValidationError) as exc:
            field_name = exc.errors()[0]["loc"][0] if isinstance(exc, ValidationError) else fld
            report.errors.append(InputError(_short(exc), file=str(path), line=line, field=str(field_name)))
    report.loaded = len(out)
    return out, report


def read_orders(
    path: Path, mapping: dict[str, str] | None = None, *, encoding: str = "utf-8"
) -> tuple[list[Order], ImportReport]:
    frame = _read(path, encoding)
    cols = _resolve(
        list(frame.columns),
        ORDER_COLUMNS,
        mapping or {},
        str(path),
        ("order_id", "customer_id", "amount", "ordered_at"),
    )
    report = ImportReport()
    out: list[Order] = []
    for line, row in enumerate(frame.to_dict("records"), start=2):
        get = {f: str(row[c]).strip() for f, c in cols.items()}
        fld = "amount"
        try:
            amount = Decimal(get["amount"].replace(",", "").replace("¥", "").replace("￥", ""))
            fld = "ordered_at"
            when = _time(get["ordered_at"])
            if when is None:
                raise ValueError("empty time")
            out.append(
                Order(
                    order_id=get["order_id"],
                    customer_id=get["customer_id"],
                    amount=amount,
                    ordered_at=when,
                    product=get.get("product", ""),
                    channel=get.get("channel", ""),
                )
            )
        except (ValueError, InvalidOperation, ValidationError) as exc:
            field_name = exc.errors()[0]["loc"][0] if isinstance(exc, ValidationError) else fld
            report.errors.append(InputError(_short(exc), file=str(path), line=line, field=str(field_name)))
    report.loaded = len(out)
    return out, report


def read_tickets(
    path: Path, mapping: dict[str, str] | None = None, *, encoding: str = "utf-8"
) -> tuple[list[Ticket], ImportReport]:
    """Tickets (customer, opened, category, status); without a ticket id column one is derived from the row."""
    import hashlib

    frame = _read(path, encoding)
    cols = _resolve(
        list(frame.columns), TICKET_COLUMNS, mapping or {}, str(path), ("customer_id", "opened_at", "status")
    )
    report = ImportReport()
    out: list[Ticket] = []
    for line, row in enumerate(frame.to_dict("records"), start=2):
        get = {f: str(row[c]).strip() for f, c in cols.items()}
        fld = "customer_id"
        try:
            if not get["customer_id"]:
                raise ValueError("empty customer id")
            fld = "opened_at"
            when = _time(get["opened_at"])
            if when is None:
                raise ValueError("empty time")
            fld = "status"
            if not get["status"]:
                raise ValueError("empty status")
            key = f"{get['customer_id']}|{when.isoformat()}|{get.get('category', '')}"
            tid = get.get("ticket_id") or "T-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
            out.append(Ticket(tid, get["customer_id"], when, get.get("category", ""), get["status"]))
        except ValueError as exc:
            report.errors.append(InputError(_short(exc), file=str(path), line=line, field=fld))
    report.loaded = len(out)
    return out, report


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return str(exc.errors()[0]["msg"])
    return str(exc) or type(exc).__name__


# ---------------------------------------------------------------------------- personal-data lifecycle
# Key fingerprint, rotation, forgetting a customer, the link audit and retention.  Every change that
# removes personal data writes a row to ``privacy_log`` saying what, when and by which command — without
# the data itself (a forgotten customer appears only as the SHA-256 reference of their id).

_FINGERPRINT_MSG = "yuqing-crm-key-fingerprint"
_HASH_KINDS = ("phone_hash", "email_hash")


def key_fingerprint(key: bytes) -> str:
    """A short, non-reversible name for a key: tells whether stored hashes were made with it."""
    from yuqing.store.pii import hmac_hex

    return hmac_hex(key, _FINGERPRINT_MSG)[:16]


def subject_ref(customer_id: str) -> str:
    """How ``privacy_log`` names a customer: whoever holds the id can check the entry; the log alone names nobody."""
    import hashlib

    return "sha256:" + hashlib.sha256(customer_id.encode("utf-8")).hexdigest()[:16]


def check_key_fingerprint(wh: Warehouse, key: bytes) -> None:
    """``ConfigError`` when the stored identifier hashes were made with another key."""
    from yuqing.store.errors import ConfigError

    rows = wh.con.execute("SELECT fingerprint FROM crm_key").fetchall()
    if rows and rows[0][0] != key_fingerprint(key):
        raise ConfigError(
            "YUQING_CRM__HMAC_KEY is not the key the stored phone/e-mail hashes were made with; to change keys, "
            "set the new one and run `yuqing crm rotate-key` (it re-hashes every customer in one transaction)"
        )


def record_key(wh: Warehouse, key: bytes) -> None:
    """Remember which key the hashes are made with (inside the caller's transaction)."""
    wh.con.execute("DELETE FROM crm_key")
    wh.con.execute("INSERT INTO crm_key VALUES (?, now())", [key_fingerprint(key)])


def log_privacy(wh: Warehouse, action: str, subject: str, detail: str, command: str) -> None:
    wh.con.execute(
        "INSERT INTO privacy_log (logged_at, action, subject, detail, command) VALUES (now(), ?, ?, ?, ?)",
        [action, subject, detail, command],
    )


def rotate_key(wh: Warehouse, key: bytes, *, command: str) -> int:
    """Re-hash every customer's phone and e-mail with ``key`` and drop the old hashes, in one transaction.

    The clear values live in ``customers``, so the old key is not needed.  Returns the hashes written.
    """
    import json

    from yuqing.store.pii import check_hmac_key, customer_identifiers

    check_hmac_key(key)
    frame = wh.query("SELECT customer_id, phone, email FROM customers")
    rows = [
        r
        for cid, phone, email in frame.itertuples(index=False)
        for r in customer_identifiers(Customer(customer_id=cid, phone=phone or "", email=email or ""), key)
        if r[1] in _HASH_KINDS
    ]
    idents = pd.DataFrame(rows, columns=["customer_id", "kind", "value"]).drop_duplicates()
    with wh.transaction():
        before = wh.con.execute(
            "SELECT count(*) FROM customer_identifiers WHERE kind IN (?, ?)", list(_HASH_KINDS)
        ).fetchall()[0][0]
        wh.con.execute("DELETE FROM customer_identifiers WHERE kind IN (?, ?)", list(_HASH_KINDS))
        with registered(wh.con, _idents=idents):
            wh.con.execute("INSERT INTO customer_identifiers SELECT * FROM _idents ON CONFLICT DO NOTHING")
        record_key(wh, key)
        detail = json.dumps({"customers": len(frame), "hashes_removed": int(before), "hashes_written": len(idents)})
        log_privacy(wh, "rotate-key", "all customers", detail, command)
    return len(idents)


def _customer_tables(wh: Warehouse) -> list[str]:
    return sorted({table for table, column, _type in wh.columns() if column == "customer_id"})


def _scrub(value: object, customer_id: str) -> object:
    """A JSON value without ``customer_id``: list items and dict keys equal to it removed, strings replaced."""
    if isinstance(value, list):
        return [_scrub(v, customer_id) for v in value if v != customer_id]
    if isinstance(value, dict):
        return {k: _scrub(v, customer_id) for k, v in value.items() if k != customer_id}
    return "(forgotten)" if value == customer_id else value


def forget_customer(wh: Warehouse, customer_id: str, *, command: str) -> dict[str, int]:
    """Delete a customer everywhere — record, identifiers, orders, links, derived tables (any table with a
    ``customer_id`` column) and mentions inside JSON columns (alerts, deliveries) — in one transaction, and
    log that it happened.  Returns rows changed per table."""
    import json

    from yuqing.store.errors import InputError

    tables = _customer_tables(wh)
    found = any(
        wh.con.execute(f"SELECT count(*) FROM {t} WHERE customer_id = ?", [customer_id]).fetchall()[0][0]
        for t in tables
    )
    if not found:
        raise InputError(f"no customer {customer_id!r} in the warehouse", field="customer_id")
    changed: dict[str, int] = {}
    text_columns = [
        (table, column)
        for table, column, type_ in wh.columns()
        if type_ in ("VARCHAR", "JSON")
        and column != "customer_id"
        and table.rpartition(".")[2] not in ("privacy_log", "schema_version")
    ]
    rowid = wh.row_id
    needle = json.dumps(customer_id, ensure_ascii=False)  # as it appears inside a JSON document
    with wh.transaction():
        for table in tables:
            n = wh.con.execute(f"DELETE FROM {table} WHERE customer_id = ?", [customer_id]).fetchall()
            if n and n[0][0]:
                changed[table] = changed.get(table, 0) + int(n[0][0])
        for table, column in text_columns:
            rows = wh.con.execute(
                f'SELECT {rowid}, "{column}"::VARCHAR FROM {table} WHERE strpos("{column}"::VARCHAR, ?) > 0 '
                f'OR "{column}"::VARCHAR = ?',
                [needle, customer_id],
            ).fetchall()
            for row, text in rows:
                if text == customer_id:
                    wh.con.execute(f"DELETE FROM {table} WHERE {rowid} = ?", [row])
                else:
                    try:
                        clean = json.dumps(_scrub(json.loads(text), customer_id), ensure_ascii=False)
                    except ValueError:
                        clean = text.replace(needle, '"(forgotten)"')
                    wh.con.execute(f'UPDATE {table} SET "{column}" = ? WHERE {rowid} = ?', [clean, row])
                changed[table] = changed.get(table, 0) + 1
        log_privacy(wh, "forget", subject_ref(customer_id), json.dumps(changed, sort_keys=True), command)
    return changed


def pseudonymise_authors(wh: Warehouse, key: bytes | None) -> int:
    """Rewrite ``authors.raw`` without clear phones or e-mails (:func:`store.pii.pseudonymise_payload`):
    contact fields as keyed hashes when ``key`` is given (linking keeps working), masked otherwise.
    Returns the authors rewritten."""
    import json

    from yuqing.store.pii import pseudonymise_payload

    frame = wh.query("SELECT platform, id, raw::VARCHAR AS raw FROM authors WHERE raw IS NOT NULL")
    changed = []
    for platform, aid, raw in frame.itertuples(index=False):
        data = json.loads(raw)
        clean = pseudonymise_payload(data, key)
        if clean != data:
            changed.append((platform, aid, json.dumps(clean, ensure_ascii=False)))
    if changed:
        rows = pd.DataFrame(changed, columns=["platform", "id", "raw"])
        with wh.transaction(), registered(wh.con, _clean=rows):
            wh.con.execute(
                "UPDATE authors SET raw = c.raw::JSON FROM _clean c WHERE authors.platform = c.platform "
                "AND authors.id = c.id"
            )
    return len(changed)


def link_audit(wh: Warehouse, customer_id: str | None = None) -> pd.DataFrame:
    """Every link ever made, oldest first: when, customer, account, method, confidence, evidence, source, command."""
    where, params = ("WHERE customer_id = ?", [customer_id]) if customer_id else ("", [])
    return wh.query(
        "SELECT seq, linked_at, customer_id, platform, author_id, method, confidence, note AS evidence, source, "
        f"command FROM customer_links {where} ORDER BY seq",
        params,
    )


def enforce_retention(
    wh: Warehouse, *, raw_days: int, customer_days: int, command: str, now: dt.datetime | None = None
) -> dict[str, int]:
    """Empty raw platform payloads older than ``raw_days`` (by fetch time) and forget customers with no order
    and no CRM update for ``customer_days``; 0 keeps them.  Logged in ``privacy_log``."""
    import json

    now = now or dt.datetime.now(dt.UTC)
    out = {"posts_raw": 0, "authors_raw": 0, "customers": 0}
    if raw_days > 0:
        cutoff = now - dt.timedelta(days=raw_days)
        with wh.transaction():
            for table in ("posts", "authors"):
                n = wh.con.execute(
                    f"UPDATE {table} SET raw = NULL WHERE raw IS NOT NULL AND fetched_at < ?", [cutoff]
                ).fetchall()
                out[f"{table}_raw"] = int(n[0][0]) if n else 0
            if out["posts_raw"] or out["authors_raw"]:
                detail = json.dumps({"older_than_days": raw_days, **out})
                log_privacy(wh, "retention-raw", "raw payloads", detail, command)
    if customer_days > 0:
        cutoff = now - dt.timedelta(days=customer_days)
        stale = wh.con.execute(
            "SELECT c.customer_id FROM customers c LEFT JOIN (SELECT customer_id, max(ordered_at) AS last "
            "FROM orders GROUP BY customer_id) o USING (customer_id) "
            "WHERE greatest(c.updated_at, coalesce(o.last, c.updated_at)) < ? ORDER BY 1",
            [cutoff],
        ).fetchall()
        for (cid,) in stale:
            forget_customer(wh, cid, command=f"{command} (no order or update for {customer_days} days)")
        out["customers"] = len(stale)
    return out
