"""Segmentation with jieba's dictionary and algorithm, once per post, reused by every later step.

Two engines cut the same way: ``rjieba`` (jieba-rs, the default: ~9x faster) and ``jieba``, the
Python reference the tests compare it with.  Both run without HMM.  A private tokenizer (never
the global one) gets a user dictionary built from the settings — brand, aliases, products,
competitors, campaign hashtags — so ``星阅X5`` or a brand nickname stays one token; both engines
receive the same words with the same frequencies and the same dictionary total (jieba counts a
duplicated or re-added word's frequency twice in its total, jieba-rs replaces it: the jieba
engine is corrected to the replacing behaviour, so both score paths identically).  Emoticon codes such as
``[哈哈]`` are kept as single tokens (they carry sentiment); stopwords,
punctuation, URLs and mentions are dropped.
"""

from __future__ import annotations

import contextlib
import logging
import re
import tempfile
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import jieba

try:
    from yuqing.nlp import _speedups as _compiled
except ImportError:  # not built: the filter runs in Python (same tokens)
    _compiled = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from yuqing.store.settings import Settings

__all__ = ["ENGINES", "Segmenter", "load_stopwords"]

Engine = Literal["rjieba", "jieba"]
ENGINES: tuple[Engine, ...] = ("rjieba", "jieba")
PROTECTED_FREQ = 200_000
_USERDICT_LINE = re.compile(r"^(.+?)( [0-9]+)?( [a-z]+)?$")  # jieba's own user-dictionary line format

_EMOTICON = re.compile(r"\[[\u4e00-\u9fffA-Za-z]{1,8}\]")
_DROP = re.compile(r"https?://\S+|@[\w\-\u4e00-\u9fff]{1,30}|//")
_KEEP_TOKEN = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]")
_KEEP_CACHE = 200_000  # words whose keep/drop decision is remembered (~20 MB at most; cleared when full)
jieba.setLogLevel(logging.WARNING)


def _drop(chunk: str) -> str:
    """URLs, mentions and repost markers replaced by a space (the cut then never sees them)."""
    return _DROP.sub(" ", chunk)


def _read_user_dict(path: Path) -> list[tuple[str, int | None]]:
    """``word [freq] [tag]`` lines, parsed as ``jieba.Tokenizer.load_userdict`` does; no freq = suggested."""
    words: list[tuple[str, int | None]] = []
    for line in path.read_text(encoding="utf-8").lstrip("\ufeff").splitlines():
        line = line.strip()
        m = _USERDICT_LINE.match(line) if line else None
        if m:
            words.append((m.group(1), int(m.group(2)) if m.group(2) else None))
    return words


def load_stopwords(path: Path | None = None) -> set[str]:
    """The shipped stopword list, plus ``path`` (one word per line) if given."""
    words = set(resources.files("yuqing.nlp").joinpath("lexicon/stopwords.txt").read_text(encoding="utf-8").split())
    if path is not None:
        words |= set(Path(path).read_text(encoding="utf-8").split())
    return words


class Segmenter:
    def __init__(
        self,
        *,
        brands: Sequence[str] = (),
        products: Sequence[str] = (),
        hashtags: Sequence[str] = (),
        extra_words: Sequence[str] = (),
        stopwords: set[str] | None = None,
        user_dict: Path | None = None,
        engine: Engine = "rjieba",
    ) -> None:
        if engine not in ENGINES:
            raise ValueError(f"unknown segmentation engine {engine!r}: choose one of {', '.join(ENGINES)}")
        self.engine: Engine = engine
        self.user_dict = user_dict
        self.protected = [w for w in {*brands, *products, *hashtags, *extra_words} if w and w.strip()]
        words: list[tuple[str, int | None]] = []
        for word in self.protected:
            words.append((word.strip(), PROTECTED_FREQ))
            # jieba splits on spaces: keep "星阅X5 Pro" whole by also adding the joined form
            if " " in word:
                words.append((word.replace(" ", ""), PROTECTED_FREQ))
        if user_dict is not None:
            words += _read_user_dict(Path(user_dict))
        self.tokenizer, self._cut = self._rjieba(words) if engine == "rjieba" else self._jieba(words)
        # what the compiled loop calls: cut(chunk, *args) -- rjieba's method itself, without the lambda's frame
        self._cut_call: tuple[Any, tuple[object, ...]] = (
            (self.tokenizer.cut, (False,)) if engine == "rjieba" else (self._cut, ())
        )
        self._stopwords = stopwords if stopwords is not None else load_stopwords()
        self._keep: dict[str, bool] = {}  # word -> kept as a token (the pure loop decides it once per word)
        # the compiled loop's decisions of one-character words (0: not yet); it decides the others directly
        self._onechar = bytearray(0x10000)

    @property
    def stopwords(self) -> set[str]:
        return self._stopwords

    @stopwords.setter
    def stopwords(self, words: set[str]) -> None:
        self._stopwords = words
        self._keep = {}  # decisions were taken with the old list
        self._onechar = bytearray(0x10000)

    @staticmethod
    def _rjieba(words: list[tuple[str, int | None]]) -> tuple[Any, Any]:
        import rjieba

        tokenizer = rjieba.Jieba()
        for word, freq in words:
            tokenizer.add_word(word, freq if freq is not None else tokenizer.suggest_freq(word), None)
        cut = tokenizer.cut
        return tokenizer, lambda text: cut(text, False)

    @staticmethod
    def _jieba(words: list[tuple[str, int | None]]) -> tuple[Any, Any]:
        tokenizer = jieba.Tokenizer()
        # jieba writes a cache of its prefix dictionary; keep it in a writable temp dir, no network
        tokenizer.tmp_dir = tempfile.gettempdir()
        tokenizer.initialize()
        # jieba sums every line of dict.txt, duplicates included (3 more than its words' frequencies);
        # jieba-rs keeps one frequency per word: on a different total, exact ties of two paths (小+小小
        # vs 小小+小) round apart and the engines cut differently (26 of 30,000 Weibo posts)
        tokenizer.total = sum(tokenizer.FREQ.values())
        for word, freq in words:
            old = tokenizer.FREQ.get(word, 0)
            tokenizer.add_word(word, freq if freq is not None else tokenizer.suggest_freq(word, False))
            tokenizer.total -= old  # replace the old frequency in the total, as jieba-rs does
        return tokenizer, lambda text: tokenizer.lcut(text, HMM=False)

    def worker_args(self) -> dict[str, Any]:
        """Keyword arguments that rebuild this segmenter in another process."""
        return {
            "extra_words": self.protected,
            "stopwords": self.stopwords,
            "user_dict": self.user_dict,
            "engine": self.engine,
        }

    @classmethod
    def from_settings(cls, settings: Settings) -> Segmenter:
        brands: list[str] = []
        products: list[str] = []
        for b in settings.all_brands:
            brands += b.terms
            products += b.products
        hashtags = [h for c in settings.campaigns for h in c.hashtags]
        return cls(
            brands=brands,
            products=products,
            hashtags=hashtags,
            stopwords=load_stopwords(settings.nlp.stopwords),
            user_dict=settings.nlp.user_dict,
            engine=settings.nlp.segment_engine,
        )

    def tokens(self, text: str) -> list[str]:
        """Content tokens of ``text`` (already normalised): emoticon codes kept, stopwords dropped."""
        if not text:
            return []
        if _compiled is not None:  # the same steps in one compiled loop
            return self.tokens_many([text])[0]
        if "[" not in text:  # no emoticon code: one chunk
            return self._plain(text)
        out: list[str] = []
        pos = 0
        for m in _EMOTICON.finditer(text):
            out.extend(self._plain(text[pos : m.start()]))
            out.append(m.group(0))
            pos = m.end()
        out.extend(self._plain(text[pos:]))
        return out

    def _plain(self, chunk: str) -> list[str]:
        if not chunk:
            return []
        if "//" in chunk or "@" in chunk or "http" in chunk:  # nothing for _DROP to remove otherwise
            chunk = _drop(chunk)
        keep = self._keep
        words = self._cut(chunk)
        with contextlib.suppress(KeyError):
            return [w for w in words if keep[w]]
        self._decide(words)
        return [w for w in words if keep[w]]

    def _decide(self, words: list[str]) -> None:
        """Decide the words not seen before, once each (the cache is bounded)."""
        keep = self._keep
        if len(keep) > _KEEP_CACHE:
            keep.clear()
        for w in words:
            if w not in keep:
                keep[w] = self._content(w)

    def _content(self, word: str) -> bool:
        """A token the segmenter keeps: no stopword, not only spaces, holds a letter, digit or CJK character."""
        return word not in self.stopwords and not word.isspace() and _KEEP_TOKEN.search(word) is not None

    def tokens_many(self, texts: Iterable[str]) -> list[list[str]]:
        """:meth:`tokens` of each text (one compiled call for the batch when the module is built)."""
        if _compiled is not None:
            cut, args = self._cut_call
            texts = texts if isinstance(texts, list | tuple) else list(texts)
            return _compiled.segment_tokens(texts, cut, args, self._stopwords, self._onechar)
        return [self.tokens(t) for t in texts]
