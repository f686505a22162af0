"""Text normalisation and near-duplicate detection on nasty input."""

from __future__ import annotations

import random
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from yuqing.nlp.dedup import near_duplicate_groups
from yuqing.nlp.normalize import MAX_CHARS, normalize, normalize_many

_ZERO_WIDTH = {"\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\ufeff", "\u2060"}

nasty_text = st.text(
    alphabet=st.characters(codec=None, exclude_categories=()),  # any code point, lone surrogates included
    max_size=300,
) | st.lists(
    st.sampled_from(
        ["&amp;", "＆lt;", "&#x200B;", "\ud800", "\x00", "\u3000", "這個", "＃话题＃", "@用户", "[哈哈]", " ", "//@甲:"]
    ),
    max_size=40,
).map("".join)


def _clean(text: str) -> bool:
    return not any(unicodedata.category(ch) in ("Cc", "Cs") or ch in _ZERO_WIDTH for ch in text if ch not in "\n\t")


@settings(max_examples=300, deadline=None)
@given(nasty_text)
def test_never_raises_clean_and_idempotent(raw: str) -> None:
    first = normalize(raw)
    assert _clean(first.text)
    assert "\n" not in first.text and "\t" not in first.text and "  " not in first.text
    assert normalize(first.text).text == first.text


def test_fields_extracted() -> None:
    n = normalize("＃新品发布＃ 太好用了[哈哈][doge] @小米公司 看 https://t.cn/A6x ，真香！ #双十一#")
    assert n.topics == ["新品发布", "双十一"]
    assert n.mentions == ["小米公司"]
    assert n.urls == ["https://t.cn/A6x"]
    assert n.emoticons == ["[哈哈]", "[doge]"]
    assert "，" in n.text and "！" in n.text  # Chinese punctuation kept
    assert "＃" not in n.text


def test_mention_stops_at_punctuation() -> None:
    assert normalize("谢谢@张三，还有@李四:好").mentions == ["张三", "李四"]


def test_cleaning_steps() -> None:
    raw = "Ａｂｃ１２３\u200b\u200d\ufeff\x07 &lt;b&gt;  多\u3000空格\n\n換行"
    n = normalize(raw)
    assert n.text == "Abc123 <b> 多 空格 换行"
    assert n.is_traditional


def test_traditional_converted_only_when_needed() -> None:
    assert normalize("這個手機電池還不錯，質量對得起價錢").text == "这个手机电池还不错，质量对得起价钱"
    plain = normalize("这个手机电池还不错")
    assert not plain.is_traditional and plain.text == "这个手机电池还不错"


def test_repost_chain() -> None:
    n = normalize("说得太对了[赞]//@数码博主:这款真的翻车了 //@小王: 电池鼓包")
    assert n.own_text == "说得太对了[赞]"
    assert n.repost_chain == ["数码博主", "小王"]


def test_empty_and_huge() -> None:
    assert normalize("").text == ""
    assert normalize(None).text == ""
    huge = normalize("很" * 100_000 + "\x00" * 10)
    assert huge.truncated and len(huge.text) <= MAX_CHARS
    assert [x.text for x in normalize_many(["", "Ａ", float("nan")])] == ["", "A", ""]


def test_near_duplicates_planted() -> None:
    rng = random.Random(7)
    chars = [chr(c) for c in range(0x4E00, 0x4E00 + 2000)]
    distinct = ["".join(rng.choice(chars) for _ in range(rng.randint(20, 60))) for _ in range(300)]
    base = "这个手机的电池真的太不耐用了，一天要充三次电，客服也不理人，再也不买了"
    variants = [
        base,
        base.replace("，", "!!") + "😡😡",  # punctuation/emoji
        base + "[怒][怒]",  # emoticon codes
        base[:10] + "很" + base[11:],  # one character changed
        "  " + base + " http://t.cn/xyz",
    ]
    texts = distinct[:150] + variants + distinct[150:]
    groups = near_duplicate_groups(texts, threshold=0.7)
    assert len(groups) == len(texts)
    assert {groups[i] for i in range(150, 155)} == {150}
    others = [g for i, g in enumerate(groups) if not 150 <= i < 155]
    assert others.count(-1) >= len(others) - 2  # random texts almost never collide


def test_near_duplicates_edge_cases() -> None:
    assert near_duplicate_groups([]) == []
    assert near_duplicate_groups(["", "", "[哈哈]", "!!!"]) == [-1, -1, -1, -1]
    assert near_duplicate_groups(["好", "好!", "坏"]) == [0, 0, -1]
