"""Build ``nlp/lexicon/background.txt.gz``: how common each word is across public Chinese posts.

    python benchmarks/build_background.py            # reads ../shared/data, writes the shipped table

The background corpus is every text of the public sets in ../shared/data (Weibo posts of
weibo_senti_100k, SMP2020 usual and virus, NLPCC 2013; waimai and product reviews; TNEWS headlines),
except the half of the product-review tuning file that ``benchmarks/eval_topics.py`` holds out. Each
text is normalised and segmented like a post (``nlp.normalize`` + ``nlp.segment.Segmenter``); a word's
figure is the share of texts containing it, per million, each source weighted equally (so 50k Weibo
posts do not drown 10k headlines). Only words in at least ``--min-per-million`` of texts are kept:
rarer words are not "common everywhere", and the table stays small.

``nlp.keywords.rising_keywords`` uses it so a word must rise above its everyday share, not only above
the baseline period.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import sys
from collections import Counter
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from accuracy_sets import DATA  # noqa: E402 - ../shared/data beside the checkout, or $YUQING_DATA

SOURCES = (
    "sentiment/weibo_senti_train.csv",
    "sentiment/waimai_10k.csv",
    "emotion/smp2020_usual_train.csv",
    "emotion/smp2020_virus_train.csv",
    "emotion/nlpcc2013_weibo_emotion.csv",
    "topics/tnews_dev.csv",
    "topics/online_shopping_9cats_tune.csv",
)
HELD_OUT = "topics/online_shopping_9cats_tune.csv"


def held_out(text: str) -> bool:
    """The half of the review tuning file that benchmarks/eval_topics.py measures on (by a hash of the text)."""
    return int(hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest(), 16) % 2 == 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--out", type=Path, default=ROOT / "nlp" / "lexicon" / "background.txt.gz")
    ap.add_argument("--min-per-million", type=float, default=200.0)
    args = ap.parse_args()

    from yuqing.nlp.keywords import _content
    from yuqing.nlp.normalize import normalize
    from yuqing.nlp.segment import Segmenter

    seg = Segmenter()
    shares: Counter[str] = Counter()
    used = []
    for name in SOURCES:
        path = args.data / name
        if not path.exists():
            print(f"{path}: absent, skipped")
            continue
        texts = pd.read_csv(path, dtype=str, keep_default_na=False)["text"].tolist()
        if name == HELD_OUT:
            texts = [t for t in texts if not held_out(t)]
        df: Counter[str] = Counter()
        for text in texts:
            df.update(set(_content(seg.tokens(normalize(text).text))))
        for word, count in df.items():
            shares[word] += count / len(texts)
        used.append(f"{name} ({len(texts):,})")
        print(f"{name}: {len(texts):,} texts, {len(df):,} words")
    if not used:
        print("no background data; nothing written")
        return 0
    rows = sorted(((w, s / len(used) * 1e6) for w, s in shares.items()), key=lambda r: (-r[1], r[0]))
    kept = [(w, v) for w, v in rows if v >= args.min_per_million]
    lines = [f"# share of texts containing the word, per million; sources: {'; '.join(used)}"]
    lines += [f"{w}\t{v:.0f}" for w, v in kept]
    args.out.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), mtime=0))
    print(f"{len(kept):,} words → {args.out} ({args.out.stat().st_size / 1024:.0f} KB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
