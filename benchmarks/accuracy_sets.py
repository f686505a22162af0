"""The labelled sets of ../shared/data as the accuracy scripts split them (shared by training and evaluation).

Every training file is split by a stable hash of the text (md5, first 8 hex digits) into 20 buckets:
buckets 0 and 10 (10 %; the project's earlier ``md5 % 10 == 0`` split) are held out for measurement,
bucket 5 (5 %) tunes what is fitted after training (calibration, neutral band, emotion class biases),
the other 85 % trains.  The SMP2020 eval files are never trained on.  In
online_shopping_9cats_tune.csv the category :data:`HELD_CATEGORY` is never trained on: it measures a
domain the model has not seen (as hotel reviews do for whoever holds those back).

Segmentation is cached under ``benchmarks/.cache`` (keyed by the data file's size and mtime).
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from yuqing.nlp.sentiment import calibration_error as calibration_error  # the scripts read it from here
from yuqing.nlp.sentiment import text_bucket  # the split `yuqing train sentiment` makes too

ROOT = Path(__file__).resolve().parents[1]
# ../shared/data beside the checkout (or beside the main checkout of a git worktree); YUQING_DATA overrides
DATA = Path(
    os.environ.get("YUQING_DATA")
    or next(
        (p / "shared" / "data" for p in ROOT.parents if (p / "shared" / "data").exists()),
        ROOT.parent / "shared" / "data",
    )
)
CACHE = ROOT / "benchmarks" / ".cache"
HELD_CATEGORY = "书籍"
POLARITY = {"happy": 1, "angry": 0, "sad": 0, "fear": 0}
FILES = {
    "weibo_senti": "sentiment/weibo_senti_train.csv",
    "waimai_10k": "sentiment/waimai_10k.csv",
    "smp2020_usual_train": "emotion/smp2020_usual_train.csv",
    "smp2020_usual_eval": "emotion/smp2020_usual_eval.csv",
    "smp2020_virus_train": "emotion/smp2020_virus_train.csv",
    "smp2020_virus_eval": "emotion/smp2020_virus_eval.csv",
    "online_shopping_9cats": "topics/online_shopping_9cats_tune.csv",
    "nlpcc2013_emotion": "emotion/nlpcc2013_weibo_emotion.csv",
}


def available() -> bool:
    return DATA.exists() and all((DATA / f).exists() for f in FILES.values())


def load(name: str) -> pd.DataFrame:
    """``text``, ``label`` (+ ``category``), ``bucket``, and cached ``tokens`` / ``own_tokens`` / ``chain_tokens``."""
    path = DATA / FILES[name]
    stat = path.stat()
    cached = CACHE / f"{name}-{stat.st_size}-{int(stat.st_mtime)}.pkl"
    if cached.exists():
        return pd.read_pickle(cached)  # noqa: S301 - our own cache
    from yuqing.nlp.normalize import normalize
    from yuqing.nlp.segment import Segmenter

    seg = Segmenter()
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    norm = [normalize(t) for t in frame["text"]]
    frame["clean"] = [n.text for n in norm]
    frame["own_text"] = [n.own_text for n in norm]
    frame["own_tokens"] = [seg.tokens(n.own_text) for n in norm]
    frame["chain_tokens"] = [seg.tokens(n.text[len(n.own_text) :]) if n.repost_chain else None for n in norm]
    frame["tokens"] = [o + (c or []) for o, c in zip(frame["own_tokens"], frame["chain_tokens"], strict=True)]
    frame["bucket"] = [text_bucket(t) for t in frame["text"]]
    CACHE.mkdir(parents=True, exist_ok=True)
    frame.to_pickle(cached, protocol=pickle.HIGHEST_PROTOCOL)
    return frame


def polarity_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """SMP2020 mapped to polarity: happy → 1; angry, sad, fear → 0 (neutral and surprise left out)."""
    out = frame[frame["label"].isin(list(POLARITY))].copy()
    out["label"] = out["label"].map(POLARITY).astype(str)
    return out


@dataclass
class Split:
    train: pd.DataFrame
    tune: pd.DataFrame
    held: pd.DataFrame


def split(frame: pd.DataFrame) -> Split:
    b = frame["bucket"]
    held, tune = b % 10 == 0, b == 5
    return Split(frame[~held & ~tune], frame[tune], frame[held])


def sentiment_sets() -> tuple[dict[str, Split], dict[str, pd.DataFrame]]:
    """Training splits by domain, and every polarity test set (held-out splits, eval files, unseen category)."""
    weibo, waimai = load("weibo_senti"), load("waimai_10k")
    usual, virus = polarity_rows(load("smp2020_usual_train")), polarity_rows(load("smp2020_virus_train"))
    shop = load("online_shopping_9cats")
    seen = shop[shop["category"] != HELD_CATEGORY]
    domains = {
        "weibo": split(weibo),
        "waimai": split(waimai),
        "usual": split(usual),  # SMP2020 usual and virus (COVID-19) posts, mapped to polarity
        "virus": split(virus),
        "reviews": split(seen),
    }
    tests = {
        "weibo_senti held-out": split(weibo).held,
        "waimai_10k held-out": split(waimai).held,
        "smp2020_usual_train held-out (polarity)": split(usual).held,
        "smp2020_usual_eval (polarity)": polarity_rows(load("smp2020_usual_eval")),
        "smp2020_virus_train held-out (polarity)": split(virus).held,
        "smp2020_virus_eval (polarity)": polarity_rows(load("smp2020_virus_eval")),
        "online_shopping 8 cats held-out": split(seen).held,
        f"online_shopping {HELD_CATEGORY} (never trained on)": shop[shop["category"] == HELD_CATEGORY],
    }
    return domains, tests
