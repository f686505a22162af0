from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from nlp.normalize import MAX_CHARS, normalize
from store.pii import mask_email, mask_name, mask_phone, normalize_phone, redact_text


def test_weibo_fields_are_extracted() -> None:
    n = normalize("说得对//@数码老王:#星阅X5# 电池鼓包了[怒] @客服小星 http://t.cn/A6abc")
    assert n.own_text == "说得对"
    assert n.repost_chain == ["数码老王"]
    assert n.topics == ["星阅X5"]
    assert n.emoticons == ["[怒]"]
    assert "客服小星" in n.mentions
    assert n.urls == ["http://t.cn/A6abc"]


def test_traditional_full_width_and_invisible_characters() -> None:
    n = normalize("這個手機螢幕太容易碎了\u200b，ＡＢＣ１２３\x07")
    assert n.is_traditional
    assert n.text == "这个手机萤幕太容易碎了，ABC123"


def test_empty_none_and_huge_posts() -> None:
    assert normalize("").text == ""
    assert normalize(None).text == ""
    huge = normalize("好" * 100_000)
    assert huge.truncated and len(huge.text) == MAX_CHARS


nasty = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=300)


@settings(max_examples=300, deadline=None)
@given(text=nasty)
def test_never_raises_and_leaves_no_invisible_characters(text: str) -> None:
    n = normalize(text)
    for ch in n.text:
        assert unicodedata.category(ch) not in ("Cc", "Cs") or ch in "\n\t"
        assert ch not in "\u200b\u200c\u200d\u2060\ufeff"
    assert normalize(n.text).text == n.text


@given(st.text(alphabet="0123456789-+ ()", max_size=25))
def test_phone_normaliser_only_returns_e164(raw: str) -> None:
    try:
        e164 = normalize_phone(raw)
    except ValueError:
        return
    assert e164.startswith("+86") and e164[1:].isdigit()


def test_phone_formats_and_masks() -> None:
    forms = ["13812345678", "+86 138-1234-5678", "0086 13812345678", "86-13812345678", "１３８１２３４５６７８"]
    assert {normalize_phone(f) for f in forms} == {"+8613812345678"}
    assert mask_phone("13812345678") == "+86 138****5678"
    assert mask_email("zhang.san@example.com") == "z***@example.com"
    assert mask_name("张三丰") == "张**"
    assert redact_text("电话13812345678，邮箱a.b@qq.com") == "电话+86 138****5678，邮箱a***@qq.com"
