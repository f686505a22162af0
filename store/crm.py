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

import pandas as pd
from pydantic import ValidationError

from store.errors import InputError
from store.schema import Customer, Order, aware

__all__ = ["CUSTOMER_COLUMNS", "ORDER_COLUMNS", "ImportReport", "read_customers", "read_orders"]

CUSTOMER_COLUMNS: dict[str, list[str]] = {
    "customer_id": ["customer_id", "客户编号", "客户id", "会员号", "id"],
    "name": ["name", "姓名", "客户姓名", "名字"],
    "phone": ["phone", "手机", "手机号", "电话", "mobile"],
    "email": ["email", "邮箱", "电子邮件", "e-mail"],
    "city": ["city", "城市", "所在城市"],
    "registered_at": ["registered_at", "注册时间", "注册日期", "created_at"],
    "weibo": ["weibo", "微博uid", "微博", "weibo_uid", "微博账号"],
}
ORDER_COLUMNS: dict[str, list[str]] = {
    "order_id": ["order_id", "订单号", "订单编号"],
    "customer_id": ["customer_id", "客户编号", "客户id", "会员号"],
    "amount": ["amount", "金额", "订单金额", "实付金额"],
    "ordered_at": ["ordered_at", "下单时间", "订单时间", "created_at"],
    "product": ["product", "商品", "商品名称"],
    "channel": ["channel", "渠道", "销售渠道"],
}


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


def read_customers(path: Path, mapping: dict[str, str] | None = None) -> tuple[list[Customer], ImportReport]:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
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
            handles = {"weibo": get["weibo"]} if get.get("weibo") else {}
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


def read_orders(path: Path, mapping: dict[str, str] | None = None) -> tuple[list[Order], ImportReport]:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
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


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return str(exc.errors()[0]["msg"])
    return str(exc) or type(exc).__name__
