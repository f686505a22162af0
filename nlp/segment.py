"""Segmentation with jieba, once per post, reused by every later step.

A private ``jieba.Tokenizer`` (never the global one) gets a user dictionary built
from the settings — brand, aliases, products, competitors, campaign hashtags —
so ``星阅X5`` or a brand nickname stays one token.  Emoticon codes such as
``[哈哈]`` are kept as single tokens (they carry sentiment); stopwords,
punctuation, URLs and mentions are dropped.
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import jieba

if TYPE_CHECKING:
    from store.settings import Settings

__all__ = ["Segmenter", "load_stopwords"]

_EMOTICON = re.compile(r"\[[\u4e00-\u9fffA-Za-z]{1,8}\]")
_DROP = re.compile(r"https?://\S+|@[\w\-\u4e00-\u9fff]{1,30}|//")
_KEEP_TOKEN = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]")
jieba.setLogLevel(logging.WARNING)


def load_stopwords(path: Path | None = None) -> set[str]:
    """The shipped stopword list, plus ``path`` (one word per line) if given."""
    words = set(resources.files("nlp").joinpath("lexicon/stopwords.txt").read_text(encoding="utf-8").split())
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
    ) -> None:
        self.tokenizer = jieba.Tokenizer()
        # jieba writes a cache of its prefix dictionary; keep it in a writable temp dir, no network
        self.tokenizer.tmp_dir = tempfile.gettempdir()
        self.tokenizer.initialize()
        self.protected = [w for w in {*brands, *products, *hashtags, *extra_words} if w and w.strip()]
        for word in self.protected:
            self.tokenizer.add_word(word.strip(), freq=200_000)
            # jieba splits on spaces: keep "星阅X5 Pro" whole by also adding the joined form
            if " " in word:
                self.tokenizer.add_word(word.replace(" ", ""), freq=200_000)
        if user_dict is not None:
            self.tokenizer.load_userdict(str(user_dict))
        self.stopwords = stopwords if stopwords is not None else load_stopwords()

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
        )

    def tokens(self, text: str) -> list[str]:
        """Content tokens of ``text`` (already normalised): emoticon codes kept, stopwords dropped."""
        if not text:
            return []
        out: list[str] = []
        stop = self.stopwords
        cut = self.tokenizer.cut
        pos = 0
        for m in _EMOTICON.finditer(text):
            out.extend(self._plain(text[pos : m.start()], cut, stop))
            out.append(m.group(0))
            pos = m.end()
        out.extend(self._plain(text[pos:], cut, stop))
        return out

    @staticmethod
    def _plain(chunk: str, cut: object, stop: set[str]) -> list[str]:
        if not chunk:
            return []
        chunk = _DROP.sub(" ", chunk)
        return [
            w
            for w in cut(chunk, HMM=False)  # type: ignore[operator]
            if w not in stop and not w.isspace() and _KEEP_TOKEN.search(w)
        ]

    def tokens_many(self, texts: Iterable[str]) -> list[list[str]]:
        return [self.tokens(t) for t in texts]
