"""Train the shipped text models from ../shared/data and report held-out figures.

    python benchmarks/train_models.py                  # writes nlp/models/*, prints the evaluation
    python benchmarks/train_models.py --only emotion   # the emotion model alone (shipped sentiment kept)

Splits (``benchmarks/accuracy_sets.py``): a stable hash of each text puts 10 % of every training
file aside for measurement and 5 % for tuning what is fitted after training; the SMP2020 eval
files and one product category are never trained on.  What is trained and fitted:

* sentiment, ``linear`` engine: a gated mixture of logistic regressions over word + character
  n-gram features (``nlp.sentiment.train_gated``), trained on Weibo posts, food-delivery reviews,
  SMP2020 usual and virus posts mapped to polarity and product reviews: the experts of
  :data:`EXPERTS` (every domain, every domain weighted by :data:`DOMAIN_WEIGHT`, and single domains or
  groups), a gate telling the five domains apart, and a second stage fitted out of fold (3 folds by
  the text hash) that weighs each expert per domain — folded into one weight matrix;
* sentiment, ``snownlp`` engine: SnowNLP's naive-Bayes classifier on the same texts (jieba tokens);
* for both: a calibration map fitted on the tuning slices with classes weighted equally, and the
  neutral band that best separates SMP2020's neutral posts from happy / angry-sad-fear ones;
* emotion: six SMP2020 labels, usual + virus train together (virus posts weighted
  :data:`VIRUS_WEIGHT`), LinearSVC with classes weighted equally; the weight of the calibrated
  polarity added to happy / taken from angry-sad-fear is chosen on the tuning slices (mean macro-F1
  of usual and virus).

Never trains on SnowNLP's bundled neg.txt/pos.txt (they hold public review sets verbatim).
Exits 0 with a message when the data directory is absent.
"""

from __future__ import annotations

import argparse
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

from yuqing.nlp.features import featurize  # noqa: E402
from yuqing.nlp.pipeline import emotion_labels  # noqa: E402
from yuqing.nlp.sentiment import (  # noqa: E402
    BayesSentiment,
    Calibration,
    GatedLinearModel,
    LinearModel,
    SentimentModel,
    train_bayes,
    train_gated,
)

DOMAIN_WEIGHT = {"weibo": 0.75, "waimai": 1.0, "usual": 3.0, "virus": 3.0, "reviews": 1.0}
EXPERTS = {
    "weighted": DOMAIN_WEIGHT,  # SMP2020 is human-annotated text understanding; weibo_senti follows emoticons
    "all": dict.fromkeys(DOMAIN_WEIGHT, 1.0),
    "weibo": {"weibo": 1.0},
    "smp2020": {"usual": 1.0, "virus": 1.0},
    "reviews": {"reviews": 1.0, "waimai": 1.0},
    "usual": {"usual": 1.0},
    "virus": {"virus": 1.0},
}
SENTIMENT_C = 4.0
EMOTION_C = 0.5
VIRUS_WEIGHT = 2.0  # the virus train file is a third of usual's size: its posts count twice


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
    t = time.perf_counter()
    linear = train_gated(
        features(train),
        train["label"].astype(int).to_numpy(),
        train["domain"].to_numpy(),
        EXPERTS,
        folds=train["bucket"].to_numpy() % 3,
        c=SENTIMENT_C,
    )
    print(f"gated linear sentiment: {len(train):,} texts, {len(EXPERTS)} experts, {time.perf_counter() - t:.0f} s")
    bayes = train_bayes(train["tokens"].tolist(), train["label"].astype(int).tolist())
    return linear, bayes


def finish(engine: LinearModel | object, domains: dict[str, sets.Split], smp_tune: pd.DataFrame) -> SentimentModel:
    """Fit on the tuning slices what follows training; stored in the engine (idempotent on a finished engine).

    The gated model's per-domain offsets (each domain's class prior corrected, ``shift_domains``), then
    the calibration, then the neutral band.
    """
    model = SentimentModel(engine)  # type: ignore[arg-type]
    tune = pd.concat([s.tune.assign(domain=d) for d, s in domains.items()], ignore_index=True)
    if isinstance(engine, GatedLinearModel):
        offsets = engine.shift_domains(features(tune), tune["label"].astype(int).to_numpy(), tune["domain"].to_numpy())
        total: dict[str, float] = engine.meta["domain_offsets"]  # type: ignore[assignment]
        print(
            "domain offsets (this fit; total): "
            + ", ".join(f"{d} {o:+.3f}; {total[d]:+.3f}" for d, o in offsets.items())
        )
    raw = model.raw(tune["tokens"].tolist(), texts=tune["clean"].tolist())
    # every domain weighs the same: Weibo posts (easy, emoticon-labelled) do not set the slope alone
    weight = 1.0 / tune["domain"].map(tune["domain"].value_counts()).to_numpy(dtype=np.float64)
    cal = Calibration.fit(raw, tune["label"].astype(int).to_numpy(), weight)
    model.engine.meta["calibration"] = [cal.slope, cal.offset]
    model.calibration = cal
    p = model.score(smp_tune["tokens"].tolist(), texts=smp_tune["clean"].tolist())
    band = choose_band(p, smp_tune["label"].to_numpy())
    model.engine.meta["neutral_band"] = list(band)
    model.neutral_band = band
    return model


def train_emotion(sentiment: SentimentModel) -> LinearModel:
    """LinearSVC on usual + virus train; the weight of the polarity term chosen on the tuning slices."""
    from sklearn.metrics import f1_score
    from sklearn.svm import LinearSVC

    usual, virus = sets.split(sets.load("smp2020_usual_train")), sets.split(sets.load("smp2020_virus_train"))
    train = pd.concat([usual.train, virus.train], ignore_index=True)
    t = time.perf_counter()
    weight = np.r_[np.ones(len(usual.train)), np.full(len(virus.train), VIRUS_WEIGHT)]
    clf = LinearSVC(C=EMOTION_C, class_weight="balanced")
    clf.fit(features(train), train["label"].to_numpy(), sample_weight=weight)
    model = LinearModel(
        classes=[str(c) for c in clf.classes_],
        coef=clf.coef_.astype(np.float32),
        intercept=clf.intercept_.astype(np.float32),
        meta={"engine": "linear-svc", "trained_on": f"smp2020 usual+virus train (85 %), virus x{VIRUS_WEIGHT:g}"},
    )
    tunes = []
    for tune in (usual.tune, virus.tune):
        p = sentiment.score(tune["tokens"].tolist(), texts=tune["clean"].tolist())
        tunes.append((model.decision(features(tune)), p, tune["label"].to_numpy()))
    best = (-1.0, 0.0)
    for k in (0.0, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3):
        model.meta["polarity_weight"] = k
        f = float(np.mean([f1_score(y, emotion_labels(model, d, p), average="macro") for d, p, y in tunes]))
        if f > best[0]:
            best = (f, k)
    model.meta["polarity_weight"] = best[1]
    print(f"emotion: {len(train):,} texts, {time.perf_counter() - t:.0f} s; polarity weight {best[1]}")
    return model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--only",
        choices=["sentiment", "emotion", "refit"],
        help="retrain one model; `emotion` keeps the shipped sentiment model (its polarity feeds emotion); "
        "`refit` keeps the shipped sentiment experts and refits what follows training (domain offsets, "
        "calibration, neutral band), then retrains emotion",
    )
    args = parser.parse_args()
    if not sets.available():
        print(f"no data at {sets.DATA}; nothing to train (the shipped models stay as they are)")
        return 0
    MODELS.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    shipped = MODELS / "sentiment.npz"
    sentiment = SentimentModel.load(shipped) if args.only == "emotion" else sentiment_models(args.only == "refit")
    if args.only != "sentiment":
        emotion_model(sentiment)
    sizes = {p.name: f"{p.stat().st_size / 1e6:.1f} MB" for p in MODELS.iterdir()}
    print(f"\nmodel files: {sizes}; total {time.perf_counter() - started:.0f} s")
    return 0


def sentiment_models(refit: bool = False) -> SentimentModel:
    """Train both sentiment engines (``refit``: load the shipped ones), finish them on the tuning slices,
    write them, print their held-out figures; the linear one is returned."""
    domains, tests = sets.sentiment_sets()
    smp_tune = pd.concat(
        [sets.split(sets.load(n)).tune for n in ("smp2020_usual_train", "smp2020_virus_train")], ignore_index=True
    )
    smp_tune = smp_tune[smp_tune["label"].isin([*sets.POLARITY, "neutral"])]
    if refit:
        linear: LinearModel = LinearModel.load(MODELS / "sentiment.npz")
        bayes: object = BayesSentiment.load(MODELS / "sentiment_bayes.json.gz")
    else:
        linear, bayes = train_sentiment(domains)
    models = {"linear": finish(linear, domains, smp_tune), "snownlp": finish(bayes, domains, smp_tune)}
    trained_on = "weibo_senti+waimai_10k+smp2020 usual/virus polarity+online_shopping (8 cats), 85 % splits"
    linear.save(MODELS / "sentiment.npz", trained_on=trained_on)
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
    return models["linear"]


def emotion_model(sentiment: SentimentModel) -> None:
    """Train the emotion model, write it, print its held-out figures."""
    from sklearn.metrics import accuracy_score, f1_score

    emotion = train_emotion(sentiment)
    emotion.save(MODELS / "emotion.npz")
    print("\nemotion (six SMP2020 labels)")
    held = {
        "smp2020_usual_train held-out": sets.split(sets.load("smp2020_usual_train")).held,
        "smp2020_virus_train held-out": sets.split(sets.load("smp2020_virus_train")).held,
        "smp2020_usual_eval": sets.load("smp2020_usual_eval"),
        "smp2020_virus_eval": sets.load("smp2020_virus_eval"),
    }
    for name, frame in held.items():
        p = sentiment.score(frame["tokens"].tolist(), texts=frame["clean"].tolist())
        pred = emotion_labels(emotion, emotion.decision(features(frame)), p)
        print(
            f"{name:32} accuracy {accuracy_score(frame['label'], pred):.3f}, "
            f"macro-F1 {f1_score(frame['label'], pred, average='macro'):.3f}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
