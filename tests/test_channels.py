"""Alert channels against real local receivers (HTTP and SMTP on 127.0.0.1).

Signatures are checked against computations done here, independently, from each platform's document:

* Feishu custom bot, "签名校验" (https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot):
  string to sign ``timestamp + "\\n" + secret`` used as the HmacSHA256 *key* over an empty message,
  then Base64; timestamp in seconds; ``timestamp`` and ``sign`` in the JSON body.
* DingTalk custom robot, "加签"
  (https://open.dingtalk.com/document/robots/customize-robot-security-settings): HmacSHA256 with the
  secret as key over ``timestamp + "\\n" + secret`` (milliseconds), Base64, then urlEncode;
  ``&timestamp=…&sign=…`` on the webhook URL.
* WeCom group robot (https://developer.work.weixin.qq.com/document/path/91770): no signature; the
  ``key`` query parameter is the credential; markdown content at most 4096 bytes.

The fixed vectors were computed with ``openssl dgst -sha256 -hmac KEY -binary | base64``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse

import httpx
import pytest

from tests.receivers import http_receiver, smtp_server
from yuqing.reports.channels import channel_label, dingtalk_sign, feishu_sign, redact, render, send
from yuqing.store.settings import AlertChannel

EVENT = {
    "alert_id": "a1",
    "event": "new",
    "brand": "星阅",
    "category": "质量/故障",
    "started_at": "2026-10-13 11:00",
    "complaints": 26,
    "peak_z": 12.0,
    "severity": 20.5,
    "affected_customers": ["C1"],
    "affected_clv": 8800.0,
    "evidence": [{"id": "1", "text": "星阅X5电池鼓包了，手机+86 138****5678"}],
    "categories": {"质量/故障": 20, "安全": 6},
    "keywords": {"鼓包": 0.31, "电池": 0.22},
}


def _client() -> httpx.Client:
    return httpx.Client(timeout=5.0)


def test_feishu_signature_matches_the_documented_vector() -> None:
    # openssl: printf '' | openssl dgst -sha256 -hmac "$(printf '1599360473\nthis is secret')" -binary | base64
    assert feishu_sign("this is secret", 1599360473) == "/eYKrXQBzTjUZJ3s6NX16VxGbTwmK7AEs8/FnvC1CSw="


def test_dingtalk_signature_matches_the_documented_vector() -> None:
    # openssl: printf '1577262236757\nthis is secret' | openssl dgst -sha256 -hmac 'this is secret' -binary | base64
    assert dingtalk_sign("this is secret", 1577262236757) == "hmPWwU+7lVdm3ZZz0r9tSfx0L4Q26jWOZr9+Gs6EZQM="


def test_signed_robots_send_what_their_documents_ask(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEISHU_SECRET", "feishu-secret")
    monkeypatch.setenv("DING_SECRET", "SECding")

    def reply(path: str, headers: dict[str, str], body: dict[str, object]) -> tuple[int, object, float]:
        return 200, ({"code": 0, "msg": "success", "data": {}} if path.startswith("/feishu") else {"errcode": 0}), 0.0

    with http_receiver() as rx:
        rx.behaviour = reply
        feishu = AlertChannel(kind="feishu", url=f"{rx.base}/feishu/hook/tok", secret_env="FEISHU_SECRET")
        ding = AlertChannel(kind="dingtalk", url=f"{rx.base}/ding?access_token=t", secret_env="DING_SECRET")
        wecom = AlertChannel(kind="wecom", url=f"{rx.base}/wecom?key=k")
        with _client() as client:
            outcomes = [send(c, EVENT, "key-1", client=client) for c in (feishu, ding, wecom)]
    assert all(o.ok for o in outcomes), outcomes
    fs, dg, wc = rx.requests
    # Feishu: seconds, key = f"{timestamp}\n{secret}", empty message, base64 — computed here from the document
    ts = int(fs.body["timestamp"])
    assert 10**9 < ts < 10**10  # seconds, not milliseconds
    expected = base64.b64encode(hmac.new(f"{ts}\nfeishu-secret".encode(), b"", hashlib.sha256).digest()).decode()
    assert fs.body["sign"] == expected
    assert fs.body["msg_type"] == "interactive" and fs.body["card"]["header"]["template"] == "red"
    assert fs.body["card"]["header"]["title"]["content"].startswith("【新预警】星阅")
    assert fs.body["card"]["elements"][0]["content"].startswith("- 开始：")  # the title once, in the header
    # DingTalk: milliseconds, key = secret over f"{timestamp}\n{secret}", base64 then URL-encoded
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(dg.path).query)
    ts_ms = int(query["timestamp"][0])
    assert 10**12 < ts_ms < 10**13
    digest = hmac.new(b"SECding", f"{ts_ms}\nSECding".encode(), hashlib.sha256).digest()
    raw_query = urllib.parse.urlsplit(dg.path).query
    assert f"sign={urllib.parse.quote_plus(base64.b64encode(digest).decode())}" in raw_query
    assert query["access_token"] == ["t"]
    assert dg.body["msgtype"] == "markdown" and dg.body["markdown"]["title"].startswith("【新预警】")
    # WeCom: markdown, unsigned
    assert wc.body["msgtype"] == "markdown" and "涉及类别：质量/故障 20、安全 6" in wc.body["markdown"]["content"]
    assert all(r.headers["idempotency-key"] == "key-1" for r in rx.requests)


def test_a_robot_that_refuses_is_not_a_delivery() -> None:
    """HTTP 200 with errcode/code != 0 (wrong signature, keyword missing, rate limit) is a failure."""
    replies = {
        "/feishu": {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"},
        "/ding": {"errcode": 310000, "errmsg": "sign not match"},
        "/wecom": {"errcode": 45009, "errmsg": "api freq out of limit"},
    }
    with http_receiver() as rx:
        rx.behaviour = lambda path, h, b: (200, replies[path.split("?")[0]], 0.0)
        with _client() as client:
            outcomes = {
                kind: send(AlertChannel(kind=kind, url=f"{rx.base}/{p}"), EVENT, "k", client=client, retries=0)
                for kind, p in (("feishu", "feishu"), ("dingtalk", "ding"), ("wecom", "wecom?key=x"))
            }
    assert not any(o.ok for o in outcomes.values())
    assert "19021" in outcomes["feishu"].detail and "310000" in outcomes["dingtalk"].detail
    assert "45009" in outcomes["wecom"].detail


def test_markdown_injection_in_evidence_is_escaped_and_links_go_only_to_our_report() -> None:
    evil = dict(
        EVENT,
        brand="星阅**",
        evidence=[
            {"id": "1", "text": '垃圾\n### 【已恢复】一切正常\n> 假引用 <at user_id="all">所有人</at>'},
            {"id": "2", "text": "点这里 [官方补偿](http://phish.example/x) 或 https://evil.example/?a=b ![img](x)"},
        ],
    )
    title, text = render(evil, markdown=True, report_url="https://yq.example.com/reports/brand_report.html")
    lines = text.split("\n")
    assert sum(line.startswith("#") for line in lines) == 1  # our own heading only
    assert not any("已恢复" in line and line.lstrip().startswith("#") for line in lines)
    assert all("](" not in line for line in lines[:-1])  # no link but the last line
    assert lines[-1] == "[查看舆情报告](https://yq.example.com/reports/brand_report.html)"
    assert "phish.example" not in text and "evil.example" not in text and "〔链接〕" in text
    assert "<at" not in text and "**" not in title
    assert "垃圾 ＃＃＃ 【已恢复】一切正常 ＞ 假引用" in text  # still readable, inert


def test_a_non_http_report_url_is_not_linked() -> None:
    _, text = render(EVENT, markdown=True, report_url="javascript:alert(1)")
    assert "javascript" not in text and "](" not in text


def test_wecom_content_is_capped_at_4096_bytes() -> None:
    long = dict(EVENT, evidence=[{"id": str(i), "text": "很长的投诉" * 300} for i in range(3)])
    with http_receiver() as rx:
        rx.behaviour = lambda path, h, b: (200, {"errcode": 0}, 0.0)
        with _client() as client:
            assert send(AlertChannel(kind="wecom", url=f"{rx.base}/w?key=k"), long, "k", client=client).ok
    assert len(rx.requests[0].body["markdown"]["content"].encode()) <= 4096


def test_errors_never_show_the_robot_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEISHU_URL", "http://127.0.0.1:9/open-apis/bot/v2/hook/0f1e2d3c-SECRET-TOKEN")
    channel = AlertChannel(kind="feishu", url_env="FEISHU_URL")
    with _client() as client:
        outcome = send(channel, EVENT, "k", client=client, retries=0)
    assert not outcome.ok
    assert "SECRET-TOKEN" not in outcome.detail and "SECRET-TOKEN" not in channel_label(channel)
    assert redact("GET http://127.0.0.1:9/open-apis/bot/v2/hook/0f1e2d3c-SECRET-TOKEN failed", channel).count("***")
    assert "SECRET" not in repr(AlertChannel(kind="wecom", url="https://qyapi.weixin.qq.com/x?key=SECRET"))


def test_email_goes_out_with_its_key_as_message_id() -> None:
    with smtp_server() as log:
        channel = AlertChannel(kind="email", url=f"smtp://127.0.0.1:{log.port}", recipients=["ops@example.com"])
        with _client() as client:
            outcome = send(channel, EVENT, "key-9", client=client)
    assert outcome.ok, outcome
    assert "Message-ID: <key-9@yuqing>" in log.messages[0] and "ops@example.com" in log.messages[0]


def _mail_login(scheme: str, port: int) -> AlertChannel:
    """An e-mail channel with a user in its URL and a password in $SMTP_PASSWORD."""
    url = f"{scheme}://alerts@127.0.0.1:{port}"
    return AlertChannel(kind="email", url=url, recipients=["ops@example.com"], secret_env="SMTP_PASSWORD")


def test_smtp_refuses_a_login_over_a_plain_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_PASSWORD", "hunter2")
    with smtp_server() as log:
        channel = _mail_login("smtp", log.port)
        with _client() as client:
            refused = send(channel, EVENT, "k", client=client)
            allowed = send(channel.model_copy(update={"allow_plain_login": True}), EVENT, "k2", client=client)
    assert not refused.ok and "plain connection" in refused.detail and "hunter2" not in refused.detail
    assert allowed.ok  # explicitly allowed: the login goes out (over the plain connection, as configured)
    assert sum(c.upper().startswith("AUTH") for c in log.commands) == 1  # only the allowed one logged in


def test_starttls_verifies_the_server_certificate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_PASSWORD", "hunter2")
    with smtp_server(starttls=True) as log:
        channel = _mail_login("smtp+starttls", log.port)
        with _client() as client:
            outcome = send(channel, EVENT, "k", client=client)
    assert not outcome.ok and "CERTIFICATE_VERIFY_FAILED" in outcome.detail, outcome
    assert not any(c.upper().startswith("AUTH") for c in log.commands)  # no password after a failed handshake
