"""rjieba (the default engine) must cut exactly as jieba, the reference, with the protected words."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from yuqing.nlp.pipeline import ParallelAnalyzer, TextModels
from yuqing.nlp.segment import Segmenter
from yuqing.store.settings import Settings

BRANDS = ["星阅", "小星", "楚风", "XingYue", "小米", "华为"]  # 小米/华为 are already in jieba's dictionary
PRODUCTS = ["星阅X5", "星阅X5 Pro", "楚风K9", "小米14", "Mate60"]
HASHTAGS = ["星阅新品发布会", "双十一狂欢"]

_CHARS = (
    "的一是不了人我在有他这为之大来以个中上们到说国和地也子时道出而要于就下得可你年生"
    "自会那后能对着事其里所去行过家十用发天如然作方成者多日都三小军二无同么经法当起与"
    "好看学进种将还分此心前面又定见只主没公从"
)
_PHRASES = [
    "续航",
    "电池",
    "发烫",
    "客服",
    "退货",
    "质量",
    "屏幕",
    "拍照",
    "性价比",
    "物流",
    "售后",
    "充电",
    "体验",
    "不错",
    "垃圾",
    "推荐",
    "差评",
    "好评",
    "卡顿",
    "信号",
    "耳机",
    "系统",
    "更新",
    "价格",
]
_MARKS = [
    "，",
    "。",
    "！",
    "？",
    "～",
    "…",
    " ",
    "\n",
    "[哈哈]",
    "[怒]",
    "#",
    "@某人 ",
    "//@转发者:",
    "http://t.cn/Ab1 ",
    "2024",
    "5G",
    "%",
    "-",
    "a",
    "Pro",
]


def _segmenters(**kw: object) -> tuple[Segmenter, Segmenter]:
    return Segmenter(engine="rjieba", **kw), Segmenter(engine="jieba", **kw)  # type: ignore[arg-type]


def _sentences(n: int, seed: int, words: list[str]) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(3, 25)):
            r = rng.random()
            if r < 0.25 and words:
                parts.append(rng.choice(words))
            elif r < 0.55:
                parts.append(rng.choice(_PHRASES))
            elif r < 0.8:
                parts.append("".join(rng.choices(_CHARS, k=rng.randint(1, 4))))
            else:
                parts.append(rng.choice(_MARKS))
        out.append("".join(parts))
    return out


@pytest.fixture(scope="module")
def engines() -> tuple[Segmenter, Segmenter]:
    return _segmenters(brands=BRANDS, products=PRODUCTS, hashtags=HASHTAGS)


def test_identical_tokens_with_brand_and_product_words(engines: tuple[Segmenter, Segmenter]) -> None:
    fast, ref = engines
    texts = _sentences(400, seed=1, words=[*BRANDS, *PRODUCTS, *HASHTAGS])
    for text in texts:
        assert fast._cut(text) == ref._cut(text), text
        assert fast.tokens(text) == ref.tokens(text), text
    # the protected words really are single tokens on both engines
    tokens = fast.tokens("星阅X5和楚风K9比，小米14还是Mate60？#星阅新品发布会#")
    assert {"星阅X5", "楚风K9", "小米14", "Mate60", "星阅新品发布会"} <= set(tokens)
    assert "星阅X5Pro" in fast.tokens("星阅X5Pro到手"), "the joined form of a spaced product name"


def test_identical_tokens_on_varied_sentences_without_user_words() -> None:
    fast, ref = _segmenters()
    texts = _sentences(300, seed=2, words=[])
    texts += [
        "我们中出了一个叛徒",
        "南京市长江大桥",
        "工信处女干事每月经过下属科室都要亲口交代24口交换机等技术性器件的安装工作",
        "结婚的和尚未结婚的",
        "乒乓球拍卖完了",
        "iPhone15ProMax 256GB 到手价 7999.00元，比618便宜了10%",
        "ＡＢＣ全角字母，　全角空格和半角 space\t制表符\r\n换行",
        "emoji😀不在词典里👍🏻，繁體中文也要切分：這個手機電池續航很差",
        "C++和C#以及node.js、e-mail、user_name",
    ]
    for text in texts:
        assert fast._cut(text) == ref._cut(text), text
        assert fast.tokens(text) == ref.tokens(text), text


def test_user_dictionary_with_and_without_frequencies(tmp_path: Path) -> None:
    user_dict = tmp_path / "user.txt"
    # "电池续航" has no frequency (suggested by each engine); "质量" exists in jieba's dictionary already
    user_dict.write_text("\ufeff电池续航\n售后服务差 50000 n\n质量 3\n好评返现 800\n", encoding="utf-8")
    fast, ref = _segmenters(brands=BRANDS, products=PRODUCTS, user_dict=user_dict)
    assert "售后服务差" in fast.tokens("这家售后服务差到极点")
    texts = _sentences(300, seed=3, words=["电池续航", "售后服务差", "质量", "好评返现", *PRODUCTS])
    for text in texts:
        assert fast.tokens(text) == ref.tokens(text), text


def test_reading_a_word_already_in_the_dictionary_keeps_engines_identical() -> None:
    # jieba alone adds the new frequency of "小米" to its total without removing the old one; the
    # Segmenter corrects that so both engines score paths against the same total
    fast, ref = _segmenters(brands=["小米", "手机", "中国"], products=["小米14"])
    plain = Segmenter(engine="jieba").tokenizer
    base, old = plain.total, sum(plain.FREQ[w] for w in ("小米", "手机", "中国"))
    assert old > 0
    assert ref.tokenizer.total == base - old + 4 * 200_000  # jieba alone would leave the old frequencies in
    assert ref.tokenizer.total == sum(ref.tokenizer.FREQ.values())  # one frequency per word, as jieba-rs
    for text in _sentences(200, seed=4, words=["小米", "手机", "中国", "小米14"]):
        assert fast._cut(text) == ref._cut(text), text


def test_ties_between_paths_break_the_same_way_with_user_words() -> None:
    # 小小小 is 小+小小 or 小小+小 at exactly the same probability: which one wins depends on the
    # rounding of the dictionary total, so it differed when jieba's total kept dict.txt's duplicates
    fast, ref = _segmenters(brands=["星阅", "小星", "楚风"], products=["星阅X5", "楚风K9"])
    for text in [
        "小小小的梦想",
        "啊啊啊啊啊啊啊好开心",
        "圈圈圈圈圈圈圈圈",
        "这些天天天在家",
        "汪汪汪嗷嗷喔",
        "呜呜呜大家",
    ]:
        assert fast._cut(text) == ref._cut(text), text


def test_engine_comes_from_settings_and_reaches_the_workers(tmp_path: Path) -> None:
    assert Settings().nlp.segment_engine == "rjieba"
    settings = Settings.model_validate({"nlp": {"segment_engine": "jieba"}})
    seg = Segmenter.from_settings(settings)
    assert seg.engine == "jieba"
    assert Segmenter(**seg.worker_args()).engine == "jieba"
    with pytest.raises(ValueError, match="unknown segmentation engine"):
        Segmenter(engine="thulac")  # type: ignore[arg-type]
    texts = _sentences(40, seed=5, words=PRODUCTS)
    fast, ref = _segmenters(products=PRODUCTS)
    models = TextModels.load()
    with ParallelAnalyzer(ref, models, [], 1) as pool:
        out_ref = pool.analyze(texts, keep_tokens=True)
    with ParallelAnalyzer(fast, models, [], 1) as pool:
        out_fast = pool.analyze(texts, keep_tokens=True)
    assert out_ref["tokens"].tolist() == out_fast["tokens"].tolist()
