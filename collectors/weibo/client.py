"""How m.weibo.cn says no: the Weibo refusals the collectors and the spider recognise.

What the peers' users report (issue trackers of dataabc/weibo-crawler, nghuyong/WeiboSpider,
Praeviso/crawl4weibo, DIYgod/RSSHub), and how each is classified:

* **HTTP 418** when a client asks too fast; the IP stays blocked for 2-3 hours and "418 会导致数据缺失"
  (nghuyong/WeiboSpider#92, #99; dataabc/weibo-crawler#557) → :class:`Blocked`.
* **HTTP 432** for clients Weibo no longer serves without (or with an unsuitable) login cookie
  (Praeviso/crawl4weibo#5, dataabc/weibo-crawler#584 and PR #582, DIYgod/RSSHub#20512) → :class:`Blocked`,
  with a hint to set a cookie when none was sent.
* **HTTP 403** with a stale cookie (dataabc/weiboSpider#330) → :class:`CookieExpired`.
* **302 to the login page** (``passport.weibo.cn/signin/login``) once a cookie expired
  (nghuyong/WeiboSpider#92, dataabc/weiboSpider#253) → :class:`CookieExpired`.
* **``{"ok": -100, "url": "https://m.weibo.cn/captcha?scene=limit…"}``** (or the ``api/geetest`` page) when the
  account hits risk control (dataabc/weibo-crawler#572) → :class:`CaptchaRequired`; a new cookie alone does not
  help, a person has to pass the verification in a browser logged in as that account.

These are facts carried over from those threads; no code is.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx

from yuqing.collectors.http import Account, Guard, retry_after_seconds
from yuqing.store.errors import Blocked, CaptchaRequired, CollectorError, CookieExpired

__all__ = ["BLOCK_STATUSES", "LOGIN_HOSTS", "guard_for", "is_login_url", "refusal"]

BLOCK_STATUSES = (418, 432)
LOGIN_HOSTS = ("passport.weibo.cn", "passport.weibo.com", "login.sina.com.cn")
CAPTCHA_OK = -100


def is_login_url(url: str) -> bool:
    """A Weibo login page (where an expired cookie is redirected)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return host in LOGIN_HOSTS or "/signin/login" in parts.path or parts.path.startswith("/login")


def refusal(
    status: int, headers: dict[str, str], location: str, payload: Any, *, url: str, account: str, cookie: bool
) -> CollectorError | None:
    """Classify one Weibo answer; ``location`` is where a redirect led (or pointed), ``payload`` its JSON if any.

    Shared by the httpx collectors (:func:`guard_for`) and the scrapy spider.  Messages name the account, never
    its cookie.
    """
    who = f"account {account!r}"
    if status in BLOCK_STATUSES:
        hint = "" if cookie else "; no login cookie is set (YUQING_PLATFORMS__COOKIES)"
        wait = retry_after_seconds(headers.get("retry-after") or headers.get("Retry-After"))
        return Blocked(f"{url}: HTTP {status}: Weibo blocks {who}{hint}", account=account, retry_after=wait)
    if location and is_login_url(location):
        return CookieExpired(f"{url}: redirected to the login page: the login cookie of {who} expired", account=account)
    if status == 403 and cookie:
        return CookieExpired(f"{url}: HTTP 403: Weibo refuses the login cookie of {who} (stale)", account=account)
    if isinstance(payload, dict) and str(payload.get("ok")) == str(CAPTCHA_OK):
        page = str(payload.get("url") or "")
        return CaptchaRequired(f"{url}: Weibo asks {who} to pass a captcha ({page})", account=account, url=page)
    return None


def guard_for(account: Account) -> Guard:
    """The :data:`~collectors.http.Guard` of one account for :func:`~collectors.http.fetch_json`."""

    def guard(response: httpx.Response, payload: Any) -> CollectorError | None:
        location = ""
        asked = response.request
        if response.history:  # followed: where did it end, and what was asked?
            location, asked = str(response.url), response.history[0].request
        elif response.is_redirect:
            location = response.headers.get("Location", "")
        return refusal(
            response.status_code,
            dict(response.headers),
            location,
            payload,
            url=str(asked.url.copy_with(query=None)),
            account=account.name,
            cookie=account.cookie is not None,
        )

    return guard
