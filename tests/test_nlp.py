"""The text stage with the shipped models: behaviour on realistic posts, and the batch commands."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from yuqing.flows.cli import app
from yuqing.nlp.complaint import detect_complaints
from yuqing.nlp.keywords import KeywordExtractor, rising_keywords
from yuqing.nlp.pipeline import TextModels, analyze_texts, brand_mentions
from yuqing.nlp.segment import Segmenter
from yuqing.store.settings import Brand

BRANDS = [Brand(name="星阅", aliases=["小星"], products=["星阅X5"]), Brand(name="楚风", products=["楚风K9"])]


@pytest.fixture(scope="module")
def stage() -> tuple[Segmenter, TextModels]:
    seg = Segmenter(brands=["星阅", "小星", "楚风"], products=["星阅X5", "楚风K9"], hashtags=["星阅X5焕新季"])
    return seg, TextModels.load()


def test_brand_words_stay_whole_and_emoticons_are_tokens(stage: tuple[Segmenter, TextModels]) -> None:
    seg, _ = stage
    tokens = seg.tokens("星阅X5电池鼓包了[怒] #星阅X5焕新季# @数码老王 http://t.cn/x")
    assert tokens[0] == "星阅X5" and "[怒]" in tokens and "星阅X5焕新季" in tokens
    assert not any(t.startswith("http") or "数码老王" in t for t in tokens)


def test_sentiment_complaints_and_emotion(stage: tuple[Segmenter, TextModels]) -> None:
    seg, models = stage
    texts = [
        "星阅X5电池鼓包了，后盖都被顶起来了",  # defect: complaint, negative
        "客服一直不回复，申请退款半个月了还没到账",  # service: complaint
        "物流太慢了，下单一周还没发货，无语",  # delivery: complaint
        "今天又下大雨，通勤两个小时，心好累",  # negative, not a complaint
        "星阅X5拍照真的好看，续航也很能打，爱了[赞]",  # praise
        "星阅X5支持无线充电吗？",  # a question is not a complaint
    ]
    out = analyze_texts(texts, seg, models, BRANDS)
    assert out["complaint"].tolist() == [True, True, True, False, False, False]
    assert out.loc[0, "complaint_category"] == "质量/故障"
    assert out.loc[2, "complaint_category"] == "物流/配送"
    assert (out.loc[:3, "sentiment"] < 0.4).all()
    assert out.loc[4, "sentiment"] > 0.6 and out.loc[4, "polarity"] == "positive"
    assert out.loc[4, "emotion"] == "happy"
    assert out.loc[0, "brands"] == ["星阅"]


def test_sentiment_toward_each_brand_when_a_post_names_two(stage: tuple[Segmenter, TextModels]) -> None:
    seg, models = stage
    out = analyze_texts(["星阅X5拍照很好看很满意，楚风K9发热严重太失望了"], seg, models, BRANDS)
    scores = out.loc[0, "brand_sentiment"]
    assert scores["星阅"] > scores["楚风"]
    long = brand_mentions(out.assign(id=["1"]))
    assert sorted(long["brand"]) == ["星阅", "楚风"]


def test_brand_clauses_match_any_case_as_mentions_do(stage: tuple[Segmenter, TextModels]) -> None:
    from yuqing.nlp.sentiment import brand_clauses

    assert brand_clauses("XINGYUE拍照很好看，楚风K9发热严重", ["XingYue"]) == "XINGYUE拍照很好看"
    seg, models = stage
    brands = [Brand(name="星阅", aliases=["XingYue"]), Brand(name="楚风")]
    out = analyze_texts(["xingyue拍照很好看很满意，楚风K9发热严重太失望了"], seg, models, brands)
    assert sorted(out.loc[0, "brands"]) == ["星阅", "楚风"]  # the mention is found in any case
    scores = out.loc[0, "brand_sentiment"]
    # the clause naming xingyue is scored on its own, not the whole mixed post
    clause = models.sentiment.score([seg.tokens("xingyue拍照很好看很满意")], texts=["xingyue拍照很好看很满意"])
    assert scores["星阅"] == pytest.approx(float(clause[0]), abs=1e-3) and scores["星阅"] > 0.6


def test_negation_marks_the_negated_word_and_shares_its_polarity() -> None:
    from yuqing.nlp.features import _terms

    terms = _terms(["手机", "一点", "不", "卡", "流畅"])
    assert "!卡" in terms and "卡" not in terms and "!-" in terms  # 卡 is negated, its polarity reversed
    assert "流畅" in terms and "~+" in terms  # scope ends at the first polar word
    assert "不" not in _terms(["不", "推荐"]) and "!+" in _terms(["不", "推荐"])
    # a negator with no polar word in reach keeps its own weight and marks what follows
    assert _terms(["不", "知道", "说", "啥"])[:4] == ["不", "!知道", "!说", "!啥"]


def test_negated_problems_read_better_than_stated_ones(stage: tuple[Segmenter, TextModels]) -> None:
    seg, models = stage
    pairs = [
        ("这手机不卡，很流畅", "这手机很卡"),
        ("用了一个月没有任何问题", "用了一个月问题很多"),
        ("不推荐购买", "推荐购买"),
    ]
    scores = analyze_texts([t for pair in pairs for t in pair], seg, models, BRANDS)["sentiment"].to_numpy()
    assert scores[0] > scores[1] + 0.3 and scores[2] > scores[3] + 0.2  # negated problem > stated problem
    assert scores[4] < scores[5] - 0.3  # negated praise < praise


def test_complaint_rules_respect_negation() -> None:
    flags, cats = detect_complaints(["用了半年也没有鼓包", "手机鼓包了"], pd.Series([0.2, 0.2]).to_numpy())
    assert flags.tolist() == [False, True] and cats[1] == "质量/故障"


def test_keywords_with_fitted_idf_and_rising_terms() -> None:
    corpus = [["电池", "鼓包", "发烫"], ["拍照", "好看"], ["拍照", "清晰"], ["续航", "拍照"]]
    ex = KeywordExtractor().fit(corpus)
    assert ex.keywords(["拍照", "鼓包", "鼓包"], k=1) == ["鼓包"]
    rising = rising_keywords([["电池", "鼓包"]] * 6 + [["拍照"]], [["拍照"], ["拍照", "续航"]] * 5, k=3)
    assert rising["keyword"].iloc[0] in {"电池", "鼓包"}


def test_score_command_streams_and_keeps_columns(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    rows = [
        {"text": t, "shop": f"s{i}"}
        for i, t in enumerate(["退款一直不到账，客服也不理人", "", "很好吃，送得也快"] * 70)
    ]
    pd.DataFrame(rows).to_csv(src, index=False)
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(app, ["score", str(src), "--output", str(out), "--chunk-size", "100", "--workers", "1"])
    assert result.exit_code == 0, result.output
    scored = pd.read_csv(out, keep_default_na=False)
    assert len(scored) == 210
    assert list(scored.columns) == [
        "text",
        "shop",
        "sentiment",
        "polarity",
        "complaint",
        "complaint_category",
        "emotion",
        "keywords",
    ]
    assert scored.loc[0, "complaint"] in (True, "True") and scored.loc[0, "complaint_category"] == "退款/售后"
    assert scored.loc[2, "sentiment"] > 0.5


def test_score_command_names_a_missing_column(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    with src.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([["content"], ["你好"]])
    result = CliRunner().invoke(app, ["score", str(src), "--output", str(tmp_path / "o.csv")])
    assert result.exit_code != 0
    assert "text" in str(result.exception) and "in.csv" in str(result.exception)


def test_negated_hypothetical_and_asking_texts_are_no_complaints(stage: tuple[Segmenter, TextModels]) -> None:
    seg, models = stage
    texts = [
        "给我妈也换了一台星阅Pad，她特别满意。没有踩雷",  # a negated problem (the demo report's false alarm)
        "用了一个月，没有压坏的，也一点都不卡",
        "如果电池鼓包了能保修吗",  # hypothetical, asked
        "万一坏了就麻烦了，先用着看",  # a worry, no problem yet
        "保修期是多久？",  # a question
        "送餐太慢了，等了两个小时，菜都凉了",  # stated problems
        "味道不错，就是等了一个半小时才送到",  # a problem inside praise
    ]
    out = analyze_texts(texts, seg, models, BRANDS)
    assert out["complaint"].tolist() == [False, False, False, False, False, True, True]
    assert out.loc[0, "sentiment"] > 0.5 and out.loc[0, "polarity"] != "negative"
    assert out.loc[4, "polarity"] == "neutral"
    assert out.loc[5, "complaint_category"] == out.loc[6, "complaint_category"] == "物流/配送"


def test_a_bare_repost_reads_the_chain_and_a_comment_reads_its_own_words(stage: tuple[Segmenter, TextModels]) -> None:
    seg, models = stage
    chain = "//@数码老王:星阅X5电池鼓包了，售后还不管，太失望了"
    out = analyze_texts(["转发微博" + chain, "这个博主天天黑星阅，其实我的X5用着很好很满意" + chain], seg, models)
    assert out.loc[0, "sentiment"] < 0.4  # "转发微博" says nothing: the chain's tone
    assert out.loc[1, "sentiment"] > out.loc[0, "sentiment"] + 0.2
    assert out.loc[0, "keywords"]  # the chain's words still count for keywords


def test_praise_reads_happy_and_scores_are_calibrated_probabilities(stage: tuple[Segmenter, TextModels]) -> None:
    seg, models = stage
    out = analyze_texts(["续航真不错", "气死我了，客服态度太差"], seg, models)
    assert out["emotion"].tolist() == ["happy", "angry"]
    assert models.sentiment.calibration.slope > 0
    low, high = models.neutral_band
    assert 0.0 < low < 0.5 < high < 1.0  # the band stored with the model, chosen from data


def test_character_ngrams_are_counted_within_each_text() -> None:
    from yuqing.nlp.features import CHAR_FEATURES, char_ngrams, featurize

    m = char_ngrams(["好的", "", "好的好", "看 http://t.cn/x @老王 好"])
    assert m.shape == (4, CHAR_FEATURES)
    # 2 unigrams + 1 bigram; nothing; 3 + 2 + 1; "看好" once the URL, mention and space are dropped
    assert np.asarray(m.sum(axis=1)).ravel().tolist() == [3.0, 0.0, 6.0, 3.0]
    assert (m[0].toarray() > 0).sum() == 3 and m[2].max() == 2.0  # 好 twice in 好的好
    x = featurize([["好"], ["好"]], ["好的", "好的"])
    assert abs(x[0].multiply(x[0]).sum() - 1.0) < 1e-6 and (x[0] != x[1]).nnz == 0


def test_calibration_corrects_the_class_prior() -> None:
    from yuqing.nlp.sentiment import Calibration

    rng = np.random.default_rng(0)
    y = np.r_[np.ones(900), np.zeros(100)]  # a 9:1 mix
    raw = np.clip(np.where(y == 1, rng.normal(0.8, 0.1, 1000), rng.normal(0.6, 0.1, 1000)), 0.01, 0.99)
    cal = Calibration.fit(raw, y)
    # with the classes weighted equally, the midpoint between the two clusters maps to about 0.5
    assert abs(cal.apply(np.array([0.7]))[0] - 0.5) < 0.08
    assert cal.apply(np.array([0.9]))[0] > 0.8 and cal.apply(np.array([0.5]))[0] < 0.2


def test_the_snownlp_engine_stays_available(tmp_path: Path) -> None:
    from yuqing.store.settings import NlpSettings

    seg = Segmenter()
    bayes = TextModels.from_settings(NlpSettings(sentiment_engine="snownlp"))
    assert bayes.sentiment.kind == "bayes"
    scores = bayes.sentiment.score([seg.tokens("质量很好，非常满意"), seg.tokens("质量太差，很失望")])
    assert scores[0] > 0.5 > scores[1]
    assert TextModels.from_settings(NlpSettings(neutral_band=(0.3, 0.7))).neutral_band == (0.3, 0.7)


def test_the_complaint_prefilter_finds_whatever_the_full_lexicon_finds() -> None:
    import re

    import yuqing.nlp.complaint as complaint

    plain = re.compile("|".join(complaint._ALL))
    texts = ["等了3个小时才到", "再也不会买了", "12315投诉", "物流很快", "收了5块钱包装费", "没有踩雷", "今天天气好"]
    texts += [t[i:] for t in texts for i in range(1, 3)]
    assert [bool(complaint._ANY.search(t)) for t in texts] == [bool(plain.search(t)) for t in texts]
    assert complaint._first_chars("(一|两|[0-9]+)个") == "一两0123456789"
    with pytest.raises(ValueError):
        complaint._first_chars("(了)?坏")
