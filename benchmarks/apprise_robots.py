"""Measure what Apprise's WeCom, DingTalk and Feishu plugins send, against what each platform documents.

Runs each plugin (apprise as pinned in requirements.lock) against a local receiver on 127.0.0.1 that
records the request and answers like the robot refusing the message (HTTP 200 with a non-zero
errcode/code, which is how all three report a bad signature, a missing keyword or a rate limit),
then prints one line per plugin: message type sent, whether it signed, and whether Apprise reported
the refused message as sent.  Sources read: apprise/plugins/{wecombot,dingtalk,feishu}.py.

    python benchmarks/apprise_robots.py

No data needed; exits 0.  The result is quoted in docs/reliability.md ("Alert delivery").
"""

from __future__ import annotations

import sys
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.receivers import http_receiver

REFUSALS = {
    "wecom": {"errcode": 93000, "errmsg": "invalid webhook url"},
    "dingtalk": {"errcode": 310000, "errmsg": "sign not match"},
    "feishu": {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"},
}


def main() -> int:
    import apprise
    from apprise import NotifyFormat

    print(f"apprise {apprise.__version__}")
    with http_receiver() as rx:
        rx.behaviour = lambda path, headers, body: (200, REFUSALS[path.strip("/").split("/")[0].split("?")[0]], 0.0)
        plugins = {
            "wecom": ("wecombot://0123456789abcdef0123456789abcdef/?format=markdown", "api_url", "/wecom?key=k"),
            "dingtalk": ("dingtalk://SECsecret@abcdef0123456789/?format=markdown", "notify_url", "/dingtalk?t={token}"),
            "feishu": ("feishu://0123456789abcdef0123456789abcdef", "notify_url", "/feishu/{token}"),
        }
        for kind, (url, attr, local) in plugins.items():
            plugin = apprise.Apprise.instantiate(url)
            assert plugin is not None, url
            setattr(plugin, attr, rx.base + local)  # the plugins post to fixed production hosts otherwise
            before = len(rx.requests)
            reported = plugin.notify(body="**告警** 正文", title="标题", body_format=NotifyFormat.MARKDOWN)
            sent = rx.requests[before:]
            body = sent[0].body if sent else {}
            msgtype = body.get("msgtype") or body.get("msg_type")
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(sent[0].path).query) if sent else {}
            signed = "sign" in body or "sign" in query
            print(
                f"{kind:9s} msgtype={msgtype!s:12s} keys={sorted(body)} signed={signed} "
                f"idempotency_header={'idempotency-key' in (sent[0].headers if sent else {})} "
                f"refusal {REFUSALS[kind]} reported as sent={reported}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
