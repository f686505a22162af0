"""The text stage's column-wise fast paths give exactly what the plain per-post code gives.

Each fast path (batch normalisation, the segmenter's cached token filter, vectorised keywords, the brand
pre-scan, the compiled feature hashing) is compared with the straightforward per-post computation it
replaced, on generated posts that hit every branch: traditional characters, full-width and control
characters, entities, emoticons, reposts, URLs, brand queries with NOT and field filters, keyword ties.
``benchmarks/bench_nlp.py --check`` compares the whole stage on real posts with a reference saved by an
earlier version.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import yuqing.nlp.features as features
from yuqing.nlp.complaint import _QUESTION, detect_complaints, is_question
from yuqing.nlp.features import NEGATORS, POLARITY, featurize, featurize_reference
from yuqing.nlp.keywords import KeywordExtractor
from yuqing.nlp.normalize import normalize, normalize_text, normalize_texts
from yuqing.nlp.pipeline import (
    COMPLAINT_CEILING,
    QUESTION_SHRINK,
    STEPS,
    TextModels,
    _brand_lists,
    analyze_texts,
    emotion_labels,
)
from yuqing.nlp.query import Doc
from yuqing.nlp.segment import _KEEP_TOKEN, Segmenter
from yuqing.nlp.sentiment import LinearModel, polarity
from yuqing.store.settings import Brand

PIECES = [
    "星阅X5",
    "小星",
    "楚风K9",
    "楚风",
    "電池鼓包了",
    "這個手機真的很好用",
    "续航真不错",
    "客服一直不回复",
    "物流太慢了",
    "没有踩雷",
    "保修期是多久？",
    "[哈哈]",
    "[怒]",
    "[doge]",
    "//@数码老王:",
    "@小米公司",
    "http://t.cn/A6x",
    "＃新品发布＃",
    "Ａｂｃ１２３",
    "&amp;",
    "&lt;b&gt;",
    "\u200b",
    "\u3000",
    "  ",
    "\n",
    "。",
    "，",
    "！",
    "？",
    "2024",
    "的",
    "了",
    "屏幕碎了，售后还要收费",
    "一点都不卡",
    "如果坏了怎么办",
    "Hello World",
    "iPhone",
    "XINGYUE",
    "官方",
    "星阅官方旗舰店",
    "",
]


def _posts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(PIECES) for _ in range(rng.randint(0, 12))) for _ in range(n)]


BRANDS = [
    Brand(name="星阅", aliases=["小星", "XingYue"], products=["星阅X5"]),
    Brand(name="楚风", products=["楚风K9"]),
]


@pytest.fixture(scope="module")
def stage() -> tuple[Segmenter, TextModels]:
    seg = Segmenter(brands=["星阅", "小星", "楚风"], products=["星阅X5", "楚风K9"])
    return seg, TextModels.load()


# --------------------------------------------------------------------------- normalisation


_SPACES = [
    " ",
    "  ",
    "\t",
    "\n",
    "\r\n",
    "\u3000",
    "\x1c",
    "\x85",
    "\xa0",
    "\u2028",
    "\u200b",
    "&",
    "&amp;",
    "～",
    "後",
]


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "pure"])
@settings(max_examples=200, deadline=None)
@given(
    texts=st.lists(
        st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=80)
        | st.lists(st.sampled_from(PIECES), max_size=20).map("".join)
        | st.lists(st.sampled_from([*_SPACES, "好", "a", "[哈哈]"]), max_size=12).map("".join),
        max_size=12,
    )
)
def test_batch_normalisation_equals_normalize_text_per_post(texts: list[str], compiled: bool) -> None:
    import yuqing.nlp.normalize as normalize_module

    values: list[object] = [*texts, None, float("nan"), 12, "x" * 5001, " y" * 2500]
    module = normalize_module._compiled
    if not compiled:
        normalize_module._compiled = None  # type: ignore[assignment]
    elif module is None:
        pytest.skip("compiled module not built")
    try:
        assert normalize_texts(values) == [normalize(v).text for v in values]
        assert [normalize_text(v) for v in values] == [normalize(v).text for v in values]
    finally:
        normalize_module._compiled = module  # type: ignore[assignment]


def test_compiled_normalisation_returns_unchanged_texts_themselves() -> None:
    import yuqing.nlp.normalize as normalize_module

    if normalize_module._compiled is None:
        pytest.skip("compiled module not built")
    text = "续航真不错 就是充电有点发烫[思考] //@数码老王: 同感"
    assert normalize_texts([text])[0] is text
    values = [
        text,
        " 前后有空格 ",
        "两个  空格",
        "全角～\u3000Ａ\x1c ",
        "＆amp;",
        "&lt;",
        "後",
        "\ud800",
        12,
        "x" * 5001,
    ]
    out = normalize_module._compiled.unchanged_texts(
        values, normalize_module._changing_bits(), 5000, normalize_module._translation()
    )
    assert out == [text, "前后有空格", "两个 空格", "全角~ A", None, None, None, None, None, None]


def test_batch_normalisation_converts_only_the_traditional_posts() -> None:
    texts = ["這個手機", "这个手机", "", "電池\u3000鼓包", "x" * 12_000]
    assert normalize_texts(texts) == ["这个手机", "这个手机", "", "电池 鼓包", "x" * 5000]


# --------------------------------------------------------------------------- segmentation


def _reference_tokens(seg: Segmenter, text: str) -> list[str]:
    """The segmenter's filter as it was written per token (no cache)."""
    emoticon = re.compile(r"\[[\u4e00-\u9fffA-Za-z]{1,8}\]")
    drop = re.compile(r"https?://\S+|@[\w\-\u4e00-\u9fff]{1,30}|//")

    def plain(chunk: str) -> list[str]:
        words = seg._cut(drop.sub(" ", chunk)) if chunk else []
        return [w for w in words if w not in seg.stopwords and not w.isspace() and _KEEP_TOKEN.search(w)]

    out: list[str] = []
    pos = 0
    for m in emoticon.finditer(text):
        out = [*out, *plain(text[pos : m.start()]), m.group(0)]
        pos = m.end()
    return out + plain(text[pos:])


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "pure"])
def test_cached_token_filter_equals_the_per_token_filter(
    stage: tuple[Segmenter, TextModels], compiled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yuqing.nlp.segment as segment

    if not compiled:
        monkeypatch.setattr(segment, "_compiled", None)
    elif segment._compiled is None:
        pytest.skip("compiled module not built")
    seg, _ = stage
    texts = normalize_texts(_posts(400, seed=1))
    seg.stopwords = set(seg.stopwords)  # decisions start afresh: the new words of these posts are decided here
    assert [seg.tokens(t) for t in texts] == [_reference_tokens(seg, t) for t in texts]
    seg.stopwords = seg.stopwords | {"续航"}  # a new list: decisions taken with the old one are forgotten
    try:
        assert all("续航" not in seg.tokens(t) for t in texts)
        assert [seg.tokens(t) for t in texts] == [_reference_tokens(seg, t) for t in texts]
    finally:
        seg.stopwords = seg.stopwords - {"续航"}


_SEGMENT_PIECES = ["http", "https", "://", ":/", "/", "//", "@", "@@", "-", "_", "[", "]", "[哈哈]", "[a]", "[ab"]
_SEGMENT_PIECES += [
    "好",
    "的",
    "。",
    "，",
    " ",
    "\u3000",
    "a",
    "Z",
    "1",
    "١",
    "续航",
    "星阅X5",
    "電",
    "ß",
    "😀",
    "\U00020000",
]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.lists(st.sampled_from(_SEGMENT_PIECES), max_size=30).map("".join)
        | st.text(alphabet=st.characters(codec="utf-8"), max_size=40),
        max_size=6,
    )
)
def test_compiled_segmentation_of_a_batch_equals_the_per_token_filter(texts: list[str]) -> None:
    # the URL/mention/"//" removal at chunk edges, emoticon codes, one-character words (decided by the table)
    import yuqing.nlp.segment as segment

    if segment._compiled is None:
        pytest.skip("compiled module not built")
    seg = _hypothesis_segmenter()
    expected = [_reference_tokens(seg, t) for t in texts]
    assert seg.tokens_many(texts) == expected
    assert seg.tokens_many(iter(texts)) == expected
    assert [seg.tokens(t) for t in texts] == expected


_SEGMENTERS: list[Segmenter] = []


def _hypothesis_segmenter() -> Segmenter:
    if not _SEGMENTERS:
        _SEGMENTERS.append(Segmenter(brands=["星阅"], products=["星阅X5"]))
    return _SEGMENTERS[0]


def test_the_jieba_engine_runs_through_the_compiled_loop_too() -> None:
    import yuqing.nlp.segment as segment

    seg = Segmenter(brands=["星阅"], products=["星阅X5"], engine="jieba")
    texts = normalize_texts(_posts(200, seed=8))
    tokens = seg.tokens_many(texts)
    assert tokens == [_reference_tokens(seg, t) for t in texts] and sum(map(len, tokens)) > 500
    if segment._compiled is not None:
        with pytest.raises(TypeError):
            seg.tokens_many(["好", 3])  # type: ignore[list-item]


# --------------------------------------------------------------------------- keywords


_KEYWORD_TOKENS = ["电池", "续航", "[哈哈]", "2024", "好", "手机", "屏幕", "ab", "Ab", "客服"]
_KEYWORD_TOKENS += ["١٢", "²³", "1a", "[a", "a]"]  # digits str.isdigit counts, emoticon-like words


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(_KEYWORD_TOKENS) | st.text(max_size=4))),
    st.integers(1, 6),
)
def test_vectorised_keywords_equal_per_post_keywords(lists: list[list[str]], k: int) -> None:
    # equal IDF for some words: ties are broken by the word, as the per-post sort does
    extractor = KeywordExtractor({"电池": 2.0, "续航": 2.0, "手机": 1.5, "ab": 1.5, "Ab": 1.5}, default_idf=3.0)
    assert extractor.keywords_many(lists, k) == [extractor.keywords(t, k) for t in lists]
    assert extractor.keywords_joined(lists, k) == [" ".join(extractor.keywords(t, k)) for t in lists]
    jieba_idf = KeywordExtractor()
    assert jieba_idf.keywords_many(iter(lists), k) == [jieba_idf.keywords(t, k) for t in lists]
    assert jieba_idf.keywords_joined(lists, k, sep="|") == ["|".join(jieba_idf.keywords(t, k)) for t in lists]


def test_compiled_keywords_remember_thousands_of_words_within_a_call() -> None:
    # the call's table of words met grows (4,096 slots, doubled at half full); long words are never kept there
    rng = random.Random(9)
    alphabet = "电池续航屏幕客服物流质量abcXYZ12😀𠀀"
    words = ["".join(rng.choices(alphabet, k=rng.randint(2, 16))) for _ in range(12_000)]
    idf = {w: float(rng.randint(1, 40)) / 4 for w in words[::2]}
    lists = [[rng.choice(words) for _ in range(rng.randint(0, 30))] for _ in range(3000)]
    extractor = KeywordExtractor(idf, default_idf=5.0)
    assert extractor.keywords_joined(lists, 5) == [" ".join(extractor.keywords(t, 5)) for t in lists]


def test_compiled_keywords_are_used_and_refuse_what_the_per_post_code_refuses() -> None:
    if not features.compiled():
        pytest.skip("compiled module not built")
    import yuqing.nlp.keywords as keywords

    assert keywords._compiled is not None
    extractor = KeywordExtractor({"电池": 1.5}, default_idf=1.0)
    assert extractor.keywords_joined([["电池", "续航", "续航"], [], ["12", "[哈]"]], 1) == ["续航", "", ""]
    with pytest.raises(TypeError):
        extractor.keywords_joined([["电池", 3]])  # type: ignore[list-item]


# --------------------------------------------------------------------------- features


def _same_matrix(a: object, b: object) -> bool:
    """The same CSR matrix array for array, bit for bit (values, columns and their order within rows)."""
    import scipy.sparse as sp

    assert isinstance(a, sp.csr_matrix) and isinstance(b, sp.csr_matrix)
    return (
        a.shape == b.shape
        and np.array_equal(a.indptr, b.indptr)
        and np.array_equal(a.indices, b.indices)
        and a.data.tobytes() == b.data.tobytes()
    )


def test_the_compiled_features_are_built_where_a_compiler_is() -> None:
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler: the pure features run (tested below)")
    assert features.compiled(), "nlp/_speedups.c was not built: run `make install-dev`"


_FEATURE_TOKENS = [*sorted(NEGATORS), *sorted(POLARITY)[:40], "[哈哈]", "[怒]", "[", "手机", "卡", "a", "_", "!", "~+"]
_TOKEN = st.sampled_from(_FEATURE_TOKENS) | st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=9)
# the character block's cleaning (URLs, mentions, "//", spaces dropped, lowered) at its edges
_CLEANING = ["http", "https", "://", ":/", "/", "//", "@", "@@", "-", "_", "x", "s", "A", "Z", "中", "\u9fff", "١"]
_CLEANING += [" ", "\t", "\u3000", "\u200b", "\x1c", "\x00", "Σ", "İ", "ß", "Ａ", "ǅ", "é", "[哈哈]"]
_TEXT = (
    st.text(alphabet=st.characters(codec="utf-8"), max_size=60)
    | st.lists(st.sampled_from(PIECES)).map("".join)
    | st.lists(st.sampled_from(_CLEANING), max_size=40).map("".join)
)


@settings(max_examples=600, deadline=None)
@given(st.lists(st.tuples(st.lists(_TOKEN, max_size=30), _TEXT), min_size=1, max_size=8))
def test_compiled_features_equal_the_pure_features(posts: list[tuple[list[str], str]]) -> None:
    if not features.compiled():
        pytest.skip("compiled features not built")
    tokens, texts = [t for t, _ in posts], [x for _, x in posts]
    # the character hash, negation scope at the end of a post, NUL characters (the pure code's separator)
    assert _same_matrix(featurize(tokens, texts), featurize_reference(tokens, texts))
    assert _same_matrix(featurize(tokens), featurize_reference(tokens))


@pytest.mark.parametrize("n_features", [2**19, 1000, 7])
def test_compiled_word_hashing_equals_feature_hasher_at_any_size(n_features: int) -> None:
    # a power of two takes a mask instead of a division; rows of every length (quicksort under 64 columns,
    # radix sort above)
    if not features.compiled():
        pytest.skip("compiled features not built")
    from sklearn.feature_extraction import FeatureHasher

    rng = random.Random(n_features)
    lists = [[rng.choice(_FEATURE_TOKENS) for _ in range(rng.randint(0, 400))] for _ in range(60)]
    hasher = FeatureHasher(n_features=n_features, input_type="string", alternate_sign=False)
    expected = hasher.transform(features._terms(t) for t in lists).tocsr()
    ip, ix, counts = features._counts(
        features._compiled.word_counts(lists, NEGATORS, POLARITY, features.NEGATION_SCOPE, n_features)
    )
    assert np.array_equal(ip, expected.indptr) and np.array_equal(ix, expected.indices)
    assert np.array_equal(counts, expected.data)


def test_compiled_features_equal_the_pure_features_on_posts(stage: tuple[Segmenter, TextModels]) -> None:
    seg, _ = stage
    texts = [*normalize_texts(_posts(1500, seed=5)), "a\x00b", "不 好 http://t.cn/x @某人 //转发 ABC"]
    tokens = [seg.tokens(t) for t in texts]
    assert features.compiled()
    x = featurize(tokens, texts)
    assert _same_matrix(x, featurize_reference(tokens, texts)) and x.nnz > 50_000
    with pytest.raises(ValueError):
        featurize(tokens, texts[:-1])
    with pytest.raises(TypeError):
        featurize([["好", 3]], ["好"])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        featurize_reference([["好", 3]], ["好"])  # type: ignore[list-item]
    # what the pure code raises first, the compiled code raises too (tokens are encoded to UTF-8 up front)
    for bad, error in (
        (["不", "", "\ud800"], IndexError),
        (["好", "\ud800"], UnicodeEncodeError),
        (["不", "", 3], IndexError),
        (["好", "é", 3], TypeError),
    ):
        with pytest.raises(error):
            featurize_reference([bad], ["好"])  # type: ignore[list-item]
        with pytest.raises(error):
            featurize([bad], ["好"])  # type: ignore[list-item]


def test_the_pure_features_run_when_the_compiled_module_is_absent(stage: tuple[Segmenter, TextModels]) -> None:
    seg, _ = stage
    texts = normalize_texts(_posts(200, seed=6))
    tokens = [seg.tokens(t) for t in texts]
    x = featurize(tokens, texts)
    code = (
        "import sys, json, hashlib\n"
        "sys.modules['yuqing.nlp._speedups'] = None  # an install without the compiled module\n"
        "from yuqing.nlp import features\n"
        "tokens, texts = json.loads(sys.stdin.read())\n"
        "x = features.featurize(tokens, texts)\n"
        "h = hashlib.sha256(x.indptr.astype('<i8').tobytes() + x.indices.astype('<i4').tobytes() + x.data.tobytes())\n"
        "print(features.compiled(), x.shape, h.hexdigest())\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], input=json.dumps([tokens, texts]), capture_output=True, text=True, check=True
    )
    h = hashlib.sha256(x.indptr.astype("<i8").tobytes() + x.indices.astype("<i4").tobytes() + x.data.tobytes())
    assert run.stdout.split() == ["False", *str(x.shape).split(), h.hexdigest()]


def test_a_compiled_module_older_than_its_source_is_dropped_with_a_warning(tmp_path: Path) -> None:
    """An editable install updated by a pull keeps the module built from the old ``_speedups.c``: it is dropped, with
    a warning naming the rebuild, and the pure paths run (same results); a build from this source is kept."""
    source = Path(features.__file__).with_name("_speedups.c")
    edited = tmp_path / "_speedups.c"
    edited.write_bytes(source.read_bytes() + b"\n/* a later change */\n")
    code = (
        "import sys, warnings\n"
        "import yuqing.nlp as nlp\n"
        "from yuqing.nlp import features\n"
        "assert features.compiled()\n"
        "assert not nlp._drop_stale_speedups()  # built from the source beside it: kept\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    assert nlp._drop_stale_speedups(__import__('pathlib').Path(sys.argv[1]))\n"
        "print(caught[0].category.__name__, 'make install-dev' in str(caught[0].message))\n"
        "try:\n"
        "    from yuqing.nlp import _speedups\n"
        "except ImportError:\n"
        "    print('dropped')\n"
        "import importlib\n"
        "print(importlib.reload(features).compiled())\n"
    )
    run = subprocess.run([sys.executable, "-c", code, str(edited)], capture_output=True, text=True, check=True)
    assert run.stdout.split() == ["RuntimeWarning", "True", "dropped", "False"], run.stdout + run.stderr


def test_the_models_products_equal_scipys(stage: tuple[Segmenter, TextModels]) -> None:
    import scipy.sparse as sp

    from yuqing.nlp.features import sparse_dense

    seg, models = stage
    texts = normalize_texts(_posts(300, seed=7))
    x = featurize([seg.tokens(t) for t in texts], texts)
    for model in (models.sentiment.engine, models.emotion):
        assert isinstance(model, LinearModel)
        expected = np.asarray(x @ model._coef_t) + model.intercept  # scipy's product, as decision() computed it
        assert model.decision(x).tobytes() == expected.tobytes()
    rng = np.random.default_rng(0)
    small = sp.random(50, 300, density=0.05, format="csr", random_state=1, dtype=np.float64)
    small.indices = small.indices.astype(np.int32)
    small.indptr = small.indptr.astype(np.int32)
    for cols in (1, 3, 10):
        dense = rng.standard_normal((300, cols)).astype(np.float32)
        assert sparse_dense(small, dense).tobytes() == np.asarray(small @ dense).tobytes()
        # other layouts and types take scipy's own product
        assert np.array_equal(sparse_dense(small, dense.astype(np.float64)), small @ dense.astype(np.float64))
        assert np.array_equal(sparse_dense(small.tocsc(), dense), np.asarray(small @ dense))
    with pytest.raises(ValueError):
        sparse_dense(small, rng.standard_normal((299, 2)).astype(np.float32))


# --------------------------------------------------------------------------- complaint lexicon scan


def test_the_literal_led_lexicon_scan_finds_what_the_patterns_as_written_find() -> None:
    import yuqing.nlp.complaint as complaint

    written = re.compile("(?=[" + re.escape(complaint._STARTS) + "])(?:" + "|".join(complaint._ALL) + ")")
    texts = [*normalize_texts(_posts(2000, seed=4)), "等了3个小时才到", "12个半小时还没", "跟图片不一样", "自己下楼取"]
    texts += [t[i:] for t in texts[-4:] for i in range(1, 4)]
    found = [bool(complaint._ANY.search(t)) for t in texts]
    assert found == [bool(written.search(t)) for t in texts] and sum(found) > 100
    assert complaint._literal_led("(一|[0-9]+)个") == ["一个", "0[0-9]*个", *(f"{d}[0-9]*个" for d in "123456789")]
    with pytest.raises(ValueError):
        complaint._literal_led("慢?了")


# --------------------------------------------------------------------------- questions


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "吗",
                "么",
                "呢",
                "多",
                "久",
                "什么",
                "是否",
                "几",
                "？",
                "?",
                "~",
                "～",
                " ",
                "\n",
                "\u3000",
                "\x1c",
                "好",
                "a",
            ]
        )
    ).map("".join)
)
def test_question_read_from_the_end_equals_the_question_pattern(text: str) -> None:
    assert is_question(text) == bool(_QUESTION.search(text))


# --------------------------------------------------------------------------- brands


def test_brand_prescan_equals_evaluating_every_query() -> None:
    brands = [
        *BRANDS,
        Brand(name="反", query="小星 OR NOT 楚风"),  # matches posts without its words
        Brand(name="近", query='"星阅" NEAR/3 (电池 OR 续航) -官方'),
        Brand(name="组", query="(星阅 OR #新品发布# OR xingyue) AND NOT (官方 OR 旗舰店) OR (楚风 AND 物流)"),
        Brand(name="话题", query="#新品发布# OR 客服"),
        # settings refuse field filters in brand queries; built anyway, it is evaluated query by query
        Brand.model_construct(name="平台", query="星阅 OR platform:weibo"),
    ]
    texts = [*normalize_texts(_posts(600, seed=2)), "xingyue 真香", "", "官方"]
    for chosen in (BRANDS, brands, brands[2:4], brands[:4], brands[4:6]):
        reference = [[b.name for b in chosen if b.mention_query.matches_doc(Doc.of(t))] for t in texts]
        assert _brand_lists(texts, chosen) == reference
    assert _brand_lists(["星阅"], []) == [[]]


# --------------------------------------------------------------------------- the whole stage


def _reference_stage(texts: list[str], seg: Segmenter, models: TextModels) -> dict[str, list[object]]:
    """The stage computed post by post with the plain calls (what analyze_texts did before its fast paths)."""
    clean = [normalize(t).text for t in texts]
    tokens = [_reference_tokens(seg, t) for t in clean]
    x = featurize_reference(tokens, clean)
    sentiment = models.sentiment.score(tokens, features=x)
    emotion = emotion_labels(models.emotion, models.emotion.decision(x), sentiment)
    complaint, category = detect_complaints(clean, sentiment)
    sentiment = np.where(complaint, np.minimum(sentiment, COMPLAINT_CEILING), sentiment)
    asking = np.array([is_question(t) for t in clean], dtype=bool) & ~complaint
    sentiment = np.where(asking, 0.5 + (sentiment - 0.5) * QUESTION_SHRINK, sentiment)
    brands = [[b.name for b in BRANDS if b.mention_query.matches_doc(Doc.of(t))] for t in clean]
    return {
        "sentiment": np.round(sentiment, 4).tolist(),
        "polarity": polarity(sentiment, models.neutral_band).tolist(),
        "complaint": complaint.tolist(),
        "complaint_category": category,
        "emotion": emotion.tolist(),
        "keywords": [" ".join(models.keywords.keywords(t, 5)) for t in tokens],
        "brands": brands,
        "tokens": tokens,
    }


def test_the_stage_equals_the_per_post_reference(stage: tuple[Segmenter, TextModels]) -> None:
    seg, models = stage
    texts = _posts(800, seed=3)
    timings: dict[str, float] = {}
    out = analyze_texts(texts, seg, models, BRANDS, keep_tokens=True, timings=timings)
    reference = _reference_stage(texts, seg, models)
    for column, expected in reference.items():
        assert out[column].tolist() == expected, column
    assert set(timings) == set(STEPS) and all(v >= 0 for v in timings.values())
    assert Counter(len(b) for b in out["brands"])[1] > 50  # the posts do name brands


def test_empty_and_odd_batches(stage: tuple[Segmenter, TextModels]) -> None:
    seg, models = stage
    assert len(analyze_texts([], seg, models, BRANDS)) == 0
    out = analyze_texts([None, "", "   ", "[哈哈]", "的了"], seg, models, BRANDS, keep_tokens=True)
    assert out["keywords"].tolist() == ["", "", "", "", ""]
    assert out["tokens"].tolist() == [[], [], [], ["[哈哈]"], []]


def test_the_collector_is_paused_for_a_batch_and_restored(
    stage: tuple[Segmenter, TextModels], monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    import yuqing.nlp.pipeline as pipeline

    seg, models = stage
    seen: list[bool] = []

    def recording(*args: object) -> object:
        seen.append(gc.isenabled())
        if len(seen) == 2:
            raise RuntimeError("a step fails")
        return featurize(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "featurize", recording)
    assert gc.isenabled()
    analyze_texts(["续航不错", "屏幕碎了"], seg, models, BRANDS)
    assert seen == [False] and gc.isenabled()
    with pytest.raises(RuntimeError):
        analyze_texts(["续航不错"], seg, models, BRANDS)
    assert gc.isenabled()  # back on after a failure too
    gc.disable()
    try:
        analyze_texts(["续航不错"], seg, models, BRANDS)
        assert not gc.isenabled()  # a caller's own choice is left as it was
    finally:
        gc.enable()
