"""The fake platform's Tieba-like forum: board pages, thread pages with floors and 楼中楼 replies, in GB18030.

``/f?kw=BOARD&pn=N`` lists threads (20 a page); ``/p/TID?pn=N`` shows a thread's floors
(10 a page), each with its floor replies.  Pages are encoded in GB18030 and say
so in the Content-Type header and a ``<meta>`` tag; odd thread ids declare it
only in the ``<meta>`` tag.  ``layout="v2"`` renames every class (a site redesign) so spiders
must notice, not silently yield nothing.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

if TYPE_CHECKING:
    from yuqing.collectors.fake.server import FakePlatform

__all__ = ["forum_routes"]

THREADS_PAGE = 20
FLOORS_PAGE = 10
CLASSES = {
    "v1": {
        "thread": "j_thread_list",
        "title": "j_th_tit",
        "floor": "l_post",
        "content": "d_post_content",
        "author": "p_author_name",
        "time": "post-tail-time",
        "reply": "lzl_single_post",
        "next": "next",
    },
    "v2": {
        "thread": "thread-card",
        "title": "thread-title",
        "floor": "pb-floor",
        "content": "floor-body",
        "author": "user-nick",
        "time": "floor-time",
        "reply": "sub-reply",
        "next": "pager-next",
    },
}


def _t(ts: Any) -> str:
    return str(ts.tz_convert("Asia/Shanghai").strftime("%Y-%m-%d %H:%M"))


CHARSET = "GB18030"  # what the pages are encoded in, and what they declare


def _page(body: str, *, meta_only: bool = False) -> Response:
    """A page in GB18030 that says so: in the header and ``<meta>``, or (``meta_only``) in ``<meta>`` alone.

    The header is set by hand: given a ``text/*`` media type without a charset, Starlette would append
    ``charset=utf-8`` — GB18030 bytes labelled UTF-8, which a client that trusts the header turns to mojibake."""
    doc = f'<!doctype html><html><head><meta charset="{CHARSET}"><title>贴吧</title></head><body>{body}</body></html>'
    content_type = "text/html" if meta_only else f"text/html; charset={CHARSET}"
    return Response(doc.encode(CHARSET), headers={"Content-Type": content_type})


def forum_routes(platform: FakePlatform) -> list[Route]:
    posts = platform.forum_posts
    threads = posts[posts["kind"] == "post"].sort_values("created_at", ascending=False)
    replies = posts[posts["kind"] == "comment"].sort_values("created_at")
    brand_of = dict(zip(platform.labels["id"], platform.labels["brand"], strict=True))
    by_board: dict[str, list[dict[str, Any]]] = {}
    for rec in threads.to_dict("records"):
        by_board.setdefault(str(brand_of.get(rec["id"], "")), []).append({str(k): v for k, v in rec.items()})
    floors_of: dict[str, list[dict[str, Any]]] = {}
    lzl_of: dict[str, list[dict[str, Any]]] = {}
    parent_of: dict[str, str] = {}
    recs = [{str(k): v for k, v in rec.items()} for rec in replies.to_dict("records")]
    for r in recs:
        parent_of[r["id"]] = r["parent_id"]
    for r in recs:
        if r["parent_id"] == r["root_id"]:
            floors_of.setdefault(r["root_id"], []).append(r)
        else:
            # Tieba shows replies to replies flat under their floor (楼中楼)
            floor = r["parent_id"]
            while parent_of.get(floor, r["root_id"]) != r["root_id"]:
                floor = parent_of[floor]
            lzl_of.setdefault(floor, []).append(r)

    def cls(name: str) -> str:
        return CLASSES[platform.faults.forum_layout][name]

    def author(rec: dict[str, Any]) -> str:
        a = platform.authors.get((rec["platform"], rec["author_id"]), {})
        return (
            f'<span class="{cls("author")}" data-uid="{html.escape(rec["author_id"])}" '
            f'data-followers="{int(a.get("followers_count") or 0)}">{html.escape(str(a.get("screen_name", "")))}</span>'
        )

    async def board(request: Request) -> Response:
        if (bad := await platform.fault(request, json_endpoint=False)) is not None:
            return bad
        kw = request.query_params.get("kw", "")
        pn = max(0, int(request.query_params.get("pn", "0") or 0))
        items = by_board.get(kw, [])
        chunk = items[pn : pn + THREADS_PAGE]
        rows = "".join(
            f'<li class="{cls("thread")}" data-tid="{t["id"]}"><a class="{cls("title")}" href="/p/{t["id"]}">'
            f"{html.escape(t['text'][:30])}</a>{author(t)}</li>"
            for t in chunk
        )
        nxt = (
            f'<a class="{cls("next")}" href="/f?kw={kw}&pn={pn + THREADS_PAGE}">下一页</a>'
            if pn + THREADS_PAGE < len(items)
            else ""
        )
        return _page(f"<h1>{html.escape(kw)}吧</h1><ul>{rows}</ul>{nxt}")

    async def thread(request: Request) -> Response:
        if (bad := await platform.fault(request, json_endpoint=False)) is not None:
            return bad
        tid = request.path_params["tid"]
        root = platform.by_id.get(tid)
        if root is None:
            return Response("not found", status_code=404)
        pn = max(1, int(request.query_params.get("pn", "1") or 1))
        floors = [root, *floors_of.get(tid, [])]
        chunk = floors[(pn - 1) * FLOORS_PAGE : pn * FLOORS_PAGE]
        out = [f'<h1 class="core_title">{html.escape(root["text"][:30])}</h1>']
        for i, f in enumerate(chunk, start=(pn - 1) * FLOORS_PAGE + 1):
            subs = "".join(
                f'<li class="{cls("reply")}" data-pid="{s["id"]}">{author(s)}<span class="lzl_content_main">'
                f'{html.escape(s["text"])}</span><span class="lzl_time">{_t(s["created_at"])}</span></li>'
                for s in lzl_of.get(f["id"], [])
            )
            out.append(
                f'<div class="{cls("floor")}" data-pid="{f["id"]}" data-floor="{i}">{author(f)}'
                f'<div class="{cls("content")}">{html.escape(f["text"])}</div>'
                f'<span class="{cls("time")}">{_t(f["created_at"])}</span><ul>{subs}</ul></div>'
            )
        if pn * FLOORS_PAGE < len(floors):
            out.append(f'<a class="{cls("next")}" href="/p/{tid}?pn={pn + 1}">下一页</a>')
        return _page("".join(out), meta_only=tid[-1] in "13579")

    return [Route("/f", board), Route("/p/{tid}", thread)]
