"""Train the shipped text models from ../shared/data and report held-out figures.

    python benchmarks/train_models.py            # writes nlp/models/*, prints the evaluation

Splits (``benchmarks/accuracy_sets.py``): a stable hash of each text puts 10 % of every training
file aside for measurement and 5 % for tuning what is fitted after training; the SMP2020 eval
files and one product category are never trained on.  What is trained and fitted:

* sentiment, ``linear`` engine: logistic regression over word + character n-gram features on
  Weibo posts, food-delivery reviews, SMP2020 mapped to polarity and product reviews, each domain
  weighted (:data:`DOMAIN_WEIGHT`: SMP2020 is human-annotated text understanding, weibo_senti's
  labels follow its emoticons), classes weighted equally;
* sentiment, ``snownlp`` engine: SnowNLP's naive-Bayes classifier on the same texts (jieba tokens);
* for both: a calibration map fitted on the tuning slices with classes weighted equally, and the
  neutral band that best separates SMP2020's neutral posts from happy / angry-sad-fear ones;
* emotion: six SMP2020 labels, usual + virus train together, classes weighted equally, then one
  bias per class tuned on the tuning slice for macro-F1.

Never trains on SnowNLP's bundled neg.txt/pos.txt (they hold public review sets verbatim).
Exits 0 with a message when the data directory is absent.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "nlp" / "models"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import accuracy_sets as sets  # noqa: E402

from nlp.features import featurize  # noqa: E402
from nlp.sentiment import Calibration, LinearModel, SentimentModel, train_bayes, train_linear  # noqa: E402

DOMAIN_WEIGHT = {"weibo": 0.75, "waimai": 1.0, "smp2020": 3.0, "reviews": 1.0}
SENTIMENT_C = 4.0
EMOTION_C = 0.1


def features(frame: pd.DataFrame) -> object:
    return featurize(frame["tokens"].tolist(), frame["clean"].tolist())


def balanced_accuracy(p: np.ndarray, y: np.ndarray, threshold: float = 0.5) -> float:
    from sklearn.metrics import balanced_accuracy_score

    return float(balanced_accuracy_score(y.astype(int), (p > threshold).astype(int)))


def choose_band(p: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """The (low, high) band maximising macro-F1 of negative / neutral / positive on SMP2020's labels."""
    from sklearn.metrics import f1_score

    truth = np.where(labels == "neutral", "neutral", np.where(labels == "happy", "positive", "negative"))
    best = (-1.0, (0.4, 0.6))
    grid = np.round(np.arange(0.10, 0.91, 0.025), 3)
    for lo in grid:
        for hi in grid[grid > lo]:
            pred = np.where(p < lo, "negative", np.where(p > hi, "positive", "neutral"))
            f = float(f1_score(truth, pred, average="macro"))
            if f > best[0]:
                best = (f, (float(lo), float(hi)))
    return best[1]


def train_sentiment(domains: dict[str, sets.Split]) -> tuple[LinearModel, object]:
    train = pd.concat([s.train.assign(domain=d) for d, s in domains.items()], ignore_index=True)
    weight = train["domain"].map(DOMAIN_WEIGHT).to_numpy(dtype=np.float64)
    t = time.perf_counter()
    linear = train_linear(
        train["tokens"].tolist(), train["label"].tolist(), features=features(train), sample_weight=weight, c=SENTIMENT_C
    )
    print(f"linear sentiment: {len(train):,} texts, {time.perf_counter() - t:.0f} s")
    bayes = train_bayes(train["tokens"].tolist(), train["label"].astype(int).tolist())
    return linear, bayes


def finish(engine: LinearModel | object, domains: dict[str, sets.Split], smp_tune: pd.DataFrame) -> SentimentModel:
    """Fit the calibration on the tuning slices and choose the neutral band; stored in the engine's meta."""
    model = SentimentModel(engine)  # type: ignore[arg-type]
    tune = pd.concat([s.tune for s in domains.values()], ignore_index=True)
    raw = model.raw(tune["tokens"].tolist(), texts=tune["clean"].tolist())
    cal = Calibration.fit(raw, tune["label"].astype(int).to_numpy())
    model.engine.meta["calibration"] = [cal.slope, cal.offset]
    model.calibration = cal
    p = model.score(smp_tune["tokens"].tolist(), texts=smp_tune["clean"].tolist())
    band = choose_band(p, smp_tune["label"].to_numpy())
    model.engine.meta["neutral_band"] = list(band)
    model.neutral_band = band
    return model


def tune_biases(scores: np.ndarray, truth: np.ndarray, classes: np.ndarray, rounds: int = 3) -> np.ndarray:
    """Per-class additive biases on decision values, coordinate ascent on macro-F1."""
    from sklearn.metrics import f1_score

    bias = np.zeros(scores.shape[1])
    for _ in range(rounds):
        for j in range(len(classes)):
            best = (-1.0, 0.0)
            for delta in np.linspace(-1.0, 1.0, 41):
                trial = bias.copy()
                trial[j] = delta
                f = float(f1_score(truth, classes[(scores + trial).argmax(axis=1)], average="macro"))
                if f > best[0]:
                    best = (f, float(delta))
            bias[j] = best[1]
    return bias


def train_emotion() -> LinearModel:
    from sklearn.svm import LinearSVC

    usual, virus = sets.split(sets.load("smp2020_usual_train")), sets.split(sets.load("smp2020_virus_train"))
    train = pd.concat([usual.train, virus.train], ignore_index=True)
    tune = pd.concat([usual.tune, virus.tune], ignore_index=True)
    t = time.perf_counter()
    clf = LinearSVC(C=EMOTION_C, class_weight="balanced").fit(features(train), train["label"].to_numpy())
    classes = np.asarray(clf.classes_)
    bias = tune_biases(clf.decision_function(features(tune)), tune["label"].to_numpy(), classes)
    print(f"emotion: {len(train):,} texts, {time.perf_counter() - t:.0f} s; class biases {np.round(bias, 2).tolist()}")
    return LinearModel(
        classes=[str(c) for c in classes],
        coef=clf.coef_.astype(np.float32),
        intercept=(clf.intercept_ + bias).astype(np.float32),
        meta={"engine": "linear-svc", "trained_on": "smp2020 usual+virus train (85 %)", "class_bias": bias.tolist()},
    )


def main() -> int:
    if not sets.available():
        print(f"no data at {sets.DATA}; nothing to train (the shipped models stay as they are)")
        return 0
    from sklearn.metrics import accuracy_score, f1_score

    MODELS.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    domains, tests = sets.sentiment_sets()
    smp_tune = pd.concat(
        [sets.split(sets.load(n)).tune for n in ("smp2020_usual_train", "smp2020_virus_train")], ignore_index=True
    )
    smp_tune = smp_tune[smp_tune["label"].isin([*sets.POLARITY, "neutral"])]
    linear, bayes = train_sentiment(domains)
    models = {"linear": finish(linear, domains, smp_tune), "snownlp": finish(bayes, domains, smp_tune)}
    trained_on = "weibo_senti+waimai_10k+smp2020 polarity+online_shopping (8 cats), 85 % splits"
    linear.save(MODELS / "sentiment.npz", engine="linear", trained_on=trained_on, domain_weight=DOMAIN_WEIGHT)
    bayes.save(MODELS / "sentiment_bayes.json.gz", engine="snownlp", trained_on=trained_on)  # type: ignore[attr-defined]
    print("\nsentiment, balanced accuracy at 0.5 (ECE, classes weighted equally)")
    print(f"{'set':52} {'n':>6} " + " ".join(f"{k:>18}" for k in models))
    for name, frame in tests.items():
        y = frame["label"].astype(int).to_numpy()
        cells = []
        for model in models.values():
            p = model.score(frame["tokens"].tolist(), texts=frame["clean"].tolist())
            cells.append(f"{balanced_accuracy(p, y):.3f} ({sets.calibration_error(p, y):.3f})")
        print(f"{name:52} {len(frame):6d} " + " ".join(f"{c:>18}" for c in cells))
    for k, m in models.items():
        print(f"{k}: calibration {m.calibration}, neutral band {m.neutral_band}")

    emotion = train_emotion()
    emotion.save(MODELS / "emotion.npz")
    print("\nemotion (six SMP2020 labels)")
    held = {
        "smp2020_usual_train held-out": sets.split(sets.load("smp2020_usual_train")).held,
        "smp2020_virus_train held-out": sets.split(sets.load("smp2020_virus_train")).held,
        "smp2020_usual_eval": sets.load("smp2020_usual_eval"),
        "smp2020_virus_eval": sets.load("smp2020_virus_eval"),
    }
    for name, frame in held.items():
        pred = np.array(emotion.classes)[emotion.proba(features(frame)).argmax(axis=1)]
        print(
            f"{name:32} accuracy {accuracy_score(frame['label'], pred):.3f}, "
            f"macro-F1 {f1_score(frame['label'], pred, average='macro'):.3f}"
        )
    sizes = {p.name: f"{p.stat().st_size / 1e6:.1f} MB" for p in MODELS.iterdir()}
    print(f"\nmodel files: {sizes}; total {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
