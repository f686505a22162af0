"""Text normalisation used by every stage (pure, fast, never raises on odd input).

Steps, in order: HTML entities unescaped; lone surrogates, zero-width and
control characters removed; full-width ASCII folded to half-width (Chinese
punctuation such as ，。！？ is kept); traditional → simplified with OpenCC
(only when the text holds traditional-only characters); whitespace collapsed.
Weibo ``#话题#``, ``@mentions``, URLs and emoticon codes ``[哈哈]`` are
extracted into fields, and a repost chain ``说得对//@甲:原文`` is split into the
author's own words and the chain's mentions.  Texts longer than
:data:`MAX_CHARS` are cut (a 100k-character post is handled, not analysed in full).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

try:
    from yuqing.nlp import _speedups as _compiled
except ImportError:  # not built: every text goes through the Python steps (same texts)
    _compiled = None  # type: ignore[assignment]

__all__ = ["MAX_CHARS", "Normalized", "normalize", "normalize_many", "normalize_text", "normalize_texts"]

MAX_CHARS = 5000

_CONTROL = dict.fromkeys(
    [
        *range(0x00, 0x09),
        0x0B,
        0x0C,
        *range(0x0E, 0x20),
        0x7F,
        *range(0x80, 0xA0),
        0x200B,
        0x200C,
        0x200D,
        0x200E,
        0x200F,
        0x2028,
        0x2029,
        0x202A,
        0x202B,
        0x202C,
        0x202D,
        0x202E,
        0x2060,
        0x2061,
        0x2062,
        0x2063,
        0x2064,
        0xFEFF,
        0x00AD,
    ],
    None,
)
# full-width ASCII (！ to ～) → half-width, ideographic space → space; keep Chinese punctuation
_KEEP_FULL = set("，。！？；：（）【】《》、“”‘’")
_FULL_TO_HALF: dict[int, int | None] = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F) if chr(c) not in _KEEP_FULL}
_FULL_TO_HALF[0x3000] = 0x20
_FULL_TO_HALF.update(_CONTROL)
_SURROGATES = re.compile(r"[\ud800-\udfff]")
# a surrogate or any character the translation table changes: most posts hold none and skip both
# steps (str.translate looks every character up in a dict: ~8 µs for a 66-character post)
_TO_CLEAN = re.compile("[\ud800-\udfff" + "".join(re.escape(chr(c)) for c in sorted(_FULL_TO_HALF)) + "]")
_WS_TO_FOLD = re.compile(r"\s\s|[^\S ]")  # what _WS.sub(" ", ·) changes: a run of spaces, or a tab/newline/…
_WS = re.compile(r"\s+")
_TOPIC = re.compile(r"#([^#\n]{1,64})#")
_MENTION = re.compile(r"@([\w\-\u4e00-\u9fff]{1,30})")
_URL = re.compile(r"https?://[^\s\u4e00-\u9fff，。！？]+")
_EMOTICON = re.compile(r"\[([\u4e00-\u9fffA-Za-z]{1,8})\]")
_REPOST = re.compile(r"//\s*@([\w\-\u4e00-\u9fff]{1,30})\s*[:：]")


@dataclass(slots=True)
class Normalized:
    text: str
    own_text: str = ""
    topics: list[str] = field(default_factory=list)
    mentions: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    emoticons: list[str] = field(default_factory=list)
    repost_chain: list[str] = field(default_factory=list)
    is_traditional: bool = False
    truncated: bool = False


@lru_cache(maxsize=1)
def _t2s_table() -> np.ndarray:
    """A boolean per code point: is it a traditional-only character (the set :func:`_t2s` returns)."""
    table = np.zeros(0x110000, dtype=bool)
    table[[ord(c) for c in _t2s()[1]]] = True
    return table


@lru_cache(maxsize=1)
def _t2s() -> tuple[object, frozenset[str]]:
    import opencc

    conv = opencc.OpenCC("t2s")
    # traditional-only characters (OpenCC's own TSCharacters table): a cheap set-disjointness detector
    table = Path(opencc.__file__).resolve().parent / "dictionary" / "TSCharacters.txt"
    if table.is_file():
        chars = set()
        for line in table.read_text(encoding="utf-8").splitlines():
            trad, _, simp = line.partition("\t")
            if len(trad) == 1 and trad not in simp.split():
                chars.add(trad)
        return conv, frozenset(chars)
    sample = (
        "這個們來時會說對國過還發後經麼開點業說學問頭現實與當應實產電話東車長門間為無關買賣價錢區處號"
        "體愛聽難讓認識萬樣機場歡鐘雲數據網絡顯術專廣貨務們產質後臺灣單雙幾氣氣見覺觀變邊"
    )
    diff = frozenset(c for c in sample if conv.convert(c) != c)
    return conv, diff


def _clean(text: str) -> str:
    """Entities, surrogates, control/zero-width characters and full-width folding, to a fixed point.

    Folding can create new entities (``＆amp;`` → ``&amp;``) and unescaping can create
    control characters (``&#x200B;``), so the steps repeat until nothing changes; every
    pass that changes something shortens the text, so the loop ends.
    """
    while True:
        before = text
        if "&" in text:
            text = html.unescape(text)
        if _TO_CLEAN.search(text) is None:
            return text  # nothing to remove or fold: a fixed point
        if _SURROGATES.search(text):
            text = _SURROGATES.sub("", text)
        text = text.translate(_FULL_TO_HALF)
        if text == before or "&" not in text:
            return text


def _text_of(value: object) -> str:
    if isinstance(value, str):
        return value
    return "" if value is None or (isinstance(value, float) and value != value) else str(value)


def _cut(text: str) -> tuple[str, bool]:
    truncated = len(text) > MAX_CHARS * 2
    return (text[: MAX_CHARS * 2], True) if truncated else (text, False)


def _finish(text: str, is_trad: bool, truncated: bool) -> tuple[str, bool, bool]:
    if is_trad:
        text = _t2s()[0].convert(text)  # type: ignore[attr-defined]
    if _WS_TO_FOLD.search(text):
        text = _WS.sub(" ", text)
    text = text.strip()
    if len(text) > MAX_CHARS:
        text, truncated = text[:MAX_CHARS].rstrip(), True
    return text, is_trad, truncated


def _normalized_text(text: str) -> tuple[str, bool, bool]:
    """``(text, is_traditional, truncated)``: the cleaning steps of :func:`normalize`, without the fields."""
    text, truncated = _cut(text)
    text = _clean(text)
    return _finish(text, not _t2s()[1].isdisjoint(text), truncated)


def normalize_text(value: object) -> str:
    """``normalize(value).text`` without extracting the fields (what the text stage reads)."""
    return _normalized_text(_text_of(value))[0]


@lru_cache(maxsize=1)
def _changing_bits() -> bytes:
    """A bit per code point: a character some step of :func:`_normalized_text` acts on (an entity's ``&``, a
    surrogate, one the translation table changes, a traditional-only one) -- whitespace aside."""
    table = _t2s_table().copy()
    table[[ord("&"), *_FULL_TO_HALF]] = True
    table[0xD800:0xE000] = True
    return bytes(np.packbits(table, bitorder="little"))


@lru_cache(maxsize=1)
def _translation() -> bytes:
    """``_FULL_TO_HALF`` for the compiled pass: a uint32 per code point below U+10000, the code point it becomes
    (0x110000: deleted; 0: not translated there -- ``＆`` too, which becomes an ``&`` the Python steps unescape)."""
    table = np.zeros(0x10000, dtype=np.uint32)
    for code, to in _FULL_TO_HALF.items():
        table[code] = 0x110000 if to is None else to
    table[ord("＆")] = 0
    return table.tobytes()


def normalize_texts(values: Sequence[object]) -> list[str]:
    """``[normalize(v).text for v in values]``, column-wise where it pays.

    With the compiled module, one pass over the batch returns each text that no step would change (most
    posts) as it is, translates (full-width forms, control characters) and folds the whitespace of those where
    that is all that changes, and sends only the others (entities, surrogates, traditional characters, over
    :data:`MAX_CHARS`) through the steps below.  The traditional-character test looks
    every character of the batch up in one boolean table (numpy) instead of one set per post.
    """
    if _compiled is None:
        return _normalize_texts(values)
    out = _compiled.unchanged_texts(values, _changing_bits(), MAX_CHARS, _translation())
    todo = [i for i, text in enumerate(out) if text is None]
    if todo:
        for i, text in zip(todo, _normalize_texts([values[i] for i in todo]), strict=True):
            out[i] = text
    return out  # type: ignore[return-value]  # every None was replaced


def _normalize_texts(values: Sequence[object]) -> list[str]:
    cut = [_cut(_text_of(v)) for v in values]
    cleaned = [_clean(t) for t, _ in cut]
    if not cleaned:
        return []
    # _clean removed surrogates and NUL, so the batch encodes and NUL separates the texts
    codes = np.frombuffer(("\x00".join(cleaned)).encode("utf-32-le"), dtype=np.uint32)
    lengths = np.fromiter(map(len, cleaned), dtype=np.int64, count=len(cleaned))
    ends = np.cumsum(lengths + 1) - 1  # index of the separator after each text
    hits = np.flatnonzero(_t2s_table()[codes])
    trad = np.zeros(len(cleaned), dtype=bool)
    trad[np.searchsorted(ends, hits)] = True
    return [_finish(t, bool(tr), truncated)[0] for t, tr, (_, truncated) in zip(cleaned, trad, cut, strict=True)]


def normalize(value: object) -> Normalized:
    """Clean ``value`` (any object; ``None``/NaN → empty) and extract Weibo entities.  Never raises."""
    text, is_trad, truncated = _normalized_text(_text_of(value))
    own, chain = text, []
    if "//" in text:
        m = _REPOST.search(text)
        if m:
            own = text[: m.start()].strip()
            chain = _REPOST.findall(text)
    return Normalized(
        text=text,
        own_text=own,
        topics=_TOPIC.findall(text) if "#" in text else [],
        mentions=_MENTION.findall(text) if "@" in text else [],
        urls=_URL.findall(text) if "http" in text else [],
        emoticons=[f"[{e}]" for e in _EMOTICON.findall(text)] if "[" in text else [],
        repost_chain=chain,
        is_traditional=is_trad,
        truncated=truncated,
    )


def normalize_many(texts: list[object]) -> list[Normalized]:
    return [normalize(t) for t in texts]
