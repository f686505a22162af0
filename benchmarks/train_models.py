"""Train the shipped text models from ../shared/data and report held-out accuracy.

    python benchmarks/train_models.py            # writes nlp/models/*, prints the evaluation

Held-out split: a stable hash of the text puts 10 % of each training file aside
(the SMP2020 eval files are used whole).  Exits 0 with a message when the data
directory is absent.
"""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
MODELS = ROOT / "nlp" / "models"
sys.path.insert(0, str(ROOT))

from nlp.features import featurize, strip_emoticons  # noqa: E402
from nlp.normalize import normalize  # noqa: E402
from nlp.segment import Segmenter  # noqa: E402
from nlp.sentiment import SentimentModel, train_bayes, train_linear  # noqa: E402

POLARITY = {"happy": 1, "angry": 0, "sad": 0, "fear": 0}


def held_out(text: str) -> bool:
    return int(hashlib.md5(text.encode("utf-8")).hexdigest()[:8], 16) % 10 == 0  # noqa: S324 - a split, not security


def load(name: str) -> pd.DataFrame:
    frame = pd.read_csv(DATA / name, keep_default_na=False)
    frame["text"] = frame["text"].astype(str)
    return frame


def tokens(seg: Segmenter, texts: list[str]) -> list[list[str]]:
    return [seg.tokens(normalize(t).text) for t in texts]


def main() -> int:
    if not DATA.exists():
        print(f"no data at {DATA}; nothing to train (the shipped models stay as they are)")
        return 0
    MODELS.mkdir(parents=True, exist_ok=True)
    seg = Segmenter()
    started = time.perf_counter()
    weibo = load("sentiment/weibo_senti_train.csv")
    waimai = load("sentiment/waimai_10k.csv")
    smp = pd.concat([load("emotion/smp2020_usual_train.csv"), load("emotion/smp2020_virus_train.csv")])
    smp_pol = smp[smp["label"].isin(list(POLARITY))].assign(label=lambda f: f["label"].map(POLARITY))
    evals = {
        "weibo_senti (held-out 10%)": weibo[weibo["text"].map(held_out)],
        "waimai_10k (held-out 10%)": waimai[waimai["text"].map(held_out)],
    }
    for name in ("smp2020_usual_eval", "smp2020_virus_eval"):
        e = load(f"emotion/{name}.csv")
        evals[f"{name} polarity"] = e[e["label"].isin(list(POLARITY))].assign(label=lambda f: f["label"].map(POLARITY))
    train = pd.concat(
        [
            weibo[~weibo["text"].map(held_out)][["text", "label"]],
            waimai[~waimai["text"].map(held_out)][["text", "label"]],
            # SMP2020 is human-annotated text understanding: weight it up
            smp_pol[["text", "label"]],
            smp_pol[["text", "label"]],
        ],
        ignore_index=True,
    )
    train_tokens = tokens(seg, train["text"].tolist())
    # emoticons decide weibo_senti labels almost alone: also learn each post without them
    no_emo = [strip_emoticons(t) for t in train_tokens]
    x_tokens = train_tokens + no_emo
    y = [str(v) for v in train["label"]] * 2
    print(f"segmented {len(train):,} training texts in {time.perf_counter() - started:.0f} s")

    linear = train_linear(x_tokens, y, c=4.0)
    linear.save(MODELS / "sentiment.npz", engine="linear", trained_on="weibo_senti+waimai+smp2020 polarity")
    bayes = train_bayes(train_tokens, [int(v) for v in y[: len(train_tokens)]])
    bayes.save(MODELS / "sentiment_bayes.json.gz")
    models = {
        "linear (default)": SentimentModel.load(MODELS / "sentiment.npz"),
        "snownlp-bayes on jieba tokens": SentimentModel.load(MODELS / "sentiment_bayes.json.gz"),
    }
    print(f"\n{'set':38} {'n':>6} " + " ".join(f"{k:>30}" for k in models) + f" {'linear, emoticons stripped':>28}")
    for name, frame in evals.items():
        toks = tokens(seg, frame["text"].tolist())
        truth = frame["label"].astype(int).to_numpy()
        accs = [float(((m.score(toks) > 0.5).astype(int) == truth).mean()) for m in models.values()]
        stripped = [strip_emoticons(t) for t in toks]
        acc_s = float(((models["linear (default)"].score(stripped) > 0.5).astype(int) == truth).mean())
        print(f"{name:38} {len(frame):6d} " + " ".join(f"{a:30.3f}" for a in accs) + f" {acc_s:28.3f}")

    # emotion: SMP2020 (human-annotated), six labels
    emo_tokens = tokens(seg, smp["text"].tolist())
    emotion = train_linear(emo_tokens, smp["label"].astype(str).tolist(), c=2.0)
    emotion.save(MODELS / "emotion.npz", engine="linear", trained_on="smp2020 usual+virus train")
    from sklearn.metrics import accuracy_score, f1_score

    print()
    for name in ("smp2020_usual_eval", "smp2020_virus_eval"):
        e = load(f"emotion/{name}.csv")
        pred = np.array(emotion.classes)[emotion.proba(featurize(tokens(seg, e["text"].tolist()))).argmax(axis=1)]
        print(
            f"emotion {name}: accuracy {accuracy_score(e['label'], pred):.3f}, "
            f"macro-F1 {f1_score(e['label'], pred, average='macro'):.3f}"
        )
    sizes = {p.name: f"{p.stat().st_size / 1e6:.1f} MB" for p in MODELS.iterdir()}
    print(f"\nmodel files: {sizes}; total {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
