"""Alert dispatch: WeCom (企业微信), DingTalk (钉钉) and Feishu (飞书) robots, generic JSON webhooks, SMTP e-mail.

Each message format follows the robot's documented shape (markdown for WeCom and
DingTalk, an interactive card for Feishu).  DingTalk and Feishu signing use
HMAC-SHA256 over ``timestamp + "\\n" + secret``.  Webhooks get a timeout, bounded
retries with backoff and ``Retry-After``; an alert event is sent once per state change
(the caller records what was sent).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import smtplib
import time
import urllib.parse
from email.message import EmailMessage
from typing import Any

import httpx

from collectors.http import retry_after_seconds
from store.errors import YuqingError
from store.settings import AlertChannel

__all__ = ["DispatchError", "alert_markdown", "dispatch", "payload_for"]

STATUS_ZH = {"new": "新预警", "ongoing": "持续中", "resolved": "已恢复"}


class DispatchError(YuqingError):
    pass


def alert_markdown(event: dict[str, Any]) -> tuple[str, str]:
    title = f"【{STATUS_ZH.get(event['event'], event['event'])}】{event['brand']} · {event['category']} 投诉激增"
    lines = [
        f"### {title}",
        f"- 开始：{event['started_at']}",
        f"- 投诉数：{event['complaints']}（峰值 z={float(event['peak_z']):.1f}）",
        f"- 严重度：{float(event['severity']):.1f}；涉及客户 {len(event.get('affected_customers') or [])} 位，"
        f"客户价值 ¥{float(event.get('affected_clv') or 0):,.0f}",
    ]
    categories = event.get("categories")
    if isinstance(categories, dict) and len(categories) > 1:  # one incident filed under several categories
        lines.append("- 涉及类别：" + "、".join(f"{c} {n}" for c, n in categories.items()))
    keywords = event.get("keywords")
    terms = list(keywords) if isinstance(keywords, dict | list) else str(keywords or "").split()
    if terms:
        lines.append("- 突发关键词：" + "、".join(str(t) for t in terms[:6]))
    lines.append("- 证据：")
    lines += [f"  > {e['text']}" for e in (event.get("evidence") or [])[:3]]
    return title, "\n".join(lines)


def _sign(secret: str) -> tuple[str, str]:
    timestamp = str(int(time.time() * 1000))
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return timestamp, base64.b64encode(digest).decode()


def payload_for(channel: AlertChannel, event: dict[str, Any], secret: str = "") -> tuple[str, dict[str, Any]]:
    """(url, JSON body) for a robot/webhook channel."""
    title, text = alert_markdown(event)
    url = channel.url
    if channel.kind == "wecom":
        return url, {"msgtype": "markdown", "markdown": {"content": text}}
    if channel.kind == "dingtalk":
        if secret:
            ts, sign = _sign(secret)
            sep = "&" if "?" in url else "?"
            url = f"{url}{sep}timestamp={ts}&sign={urllib.parse.quote_plus(sign)}"
        return url, {"msgtype": "markdown", "markdown": {"title": title, "text": text}}
    if channel.kind == "feishu":
        body: dict[str, Any] = {
            "msg_type": "interactive",
            "card": {
                "header": {
                    "title": {"tag": "plain_text", "content": title},
                    "template": "red" if event["event"] != "resolved" else "green",
                },
                "elements": [{"tag": "markdown", "content": text}],
            },
        }
        if secret:
            ts, sign = _sign(secret)
            body["timestamp"] = str(int(ts) // 1000)
            body["sign"] = sign
        return url, body
    return url, {"type": "yuqing.alert", "event": event["event"], "title": title, "alert": _jsonable(event)}


def _jsonable(event: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in event.items()}


def _post(client: httpx.Client, url: str, body: dict[str, Any], retries: int = 3) -> None:
    for attempt in range(retries + 1):
        try:
            response = client.post(url, json=body)
        except httpx.TransportError as exc:
            if attempt == retries:
                raise DispatchError(f"{_safe(url)}: {exc}") from exc
            time.sleep(0.5 * 2**attempt)
            continue
        if response.status_code < 300:
            return
        if response.status_code in (429, 500, 502, 503, 504) and attempt < retries:
            wait = retry_after_seconds(response.headers.get("Retry-After"))
            time.sleep(min(wait if wait is not None else 0.5 * 2**attempt, 30))
            continue
        raise DispatchError(f"{_safe(url)}: HTTP {response.status_code}")


def _safe(url: str) -> str:
    """Robot URLs carry access keys: log only scheme, host and path."""
    p = urllib.parse.urlsplit(url)
    return f"{p.scheme}://{p.netloc}{p.path}"


def dispatch(channels: list[AlertChannel], events: list[dict[str, Any]], *, timeout: float = 10.0) -> list[str]:
    """Send every event to every channel; returns a log line per delivery (failures raise after the others)."""
    sent: list[str] = []
    failures: list[str] = []
    with httpx.Client(timeout=timeout) as client:
        for channel in channels:
            secret = os.environ.get(channel.secret_env, "") if channel.secret_env else ""
            for event in events:
                try:
                    if channel.kind == "email":
                        _email(channel, event, secret, timeout)
                    else:
                        url, body = payload_for(channel, event, secret)
                        _post(client, url, body)
                    sent.append(f"{channel.kind}: {event['alert_id']} {event['event']}")
                except (DispatchError, OSError, smtplib.SMTPException) as exc:
                    failures.append(f"{channel.kind}: {exc}")
    if failures:
        raise DispatchError("; ".join(failures))
    return sent


def _email(channel: AlertChannel, event: dict[str, Any], password: str, timeout: float) -> None:
    parts = urllib.parse.urlsplit(channel.url or "smtp://127.0.0.1:25")
    title, text = alert_markdown(event)
    msg = EmailMessage()
    msg["Subject"] = title
    msg["From"] = channel.sender
    msg["To"] = ", ".join(channel.recipients)
    msg.set_content(text)
    msg.add_alternative(
        "<html><body><pre style='font-family:sans-serif'>" + text.replace("<", "&lt;") + "</pre></body></html>",
        subtype="html",
    )
    with smtplib.SMTP(parts.hostname or "127.0.0.1", parts.port or 25, timeout=timeout) as smtp:
        if parts.scheme == "smtp+starttls":
            smtp.starttls()
        if parts.username and password:
            smtp.login(urllib.parse.unquote(parts.username), password)
        smtp.send_message(msg)
