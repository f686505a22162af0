"""Complaint detection: a post that reports a problem with a product or service, with a category.

Negative is not the same as complaint: "下雨了好烦" is negative and no complaint;
"屏幕碎了，售后还要收费" is a complaint.  A post is a complaint when it states a
*problem* from the lexicon below (a problem term, or a service term with a
failure cue) and reads negative (or carries an explicit grievance verb such as
投诉/维权/曝光).  Questions about a product ("支持无线充电吗？") are not complaints.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

__all__ = ["CATEGORIES", "detect_complaints"]

# category → problem patterns (checked in this order; the first category that matches wins)
CATEGORIES: dict[str, list[str]] = {
    "安全": [r"冒烟", r"起火", r"爆炸", r"自燃", r"烫伤", r"触电", r"漏电", r"安全隐患", r"焦味"],
    "质量/故障": [
        r"鼓包",
        r"发烫",
        r"烫得",
        r"烫手",
        r"发热严重",
        r"掉电",
        r"耗电",
        r"续航.{0,4}(差|短|拉胯)",
        r"坏了",
        r"坏掉",
        r"故障",
        r"死机",
        r"卡死",
        r"黑屏",
        r"花屏",
        r"绿线",
        r"闪屏",
        r"断充",
        r"充不进",
        r"松了",
        r"进灰",
        r"碎了",
        r"裂了",
        r"开不了机",
        r"重启",
        r"失灵",
        r"质量(太|很|真)?(差|烂)",
        r"做工(差|粗糙)",
        r"异响",
        r"漏液",
        r"变质",
        r"发霉",
        r"有虫",
        r"异物",
        r"过期",
        r"不新鲜",
        r"难吃",
        r"馊",
    ],
    "物流/配送": [
        r"物流.{0,6}(慢|不动|没更新|停)",
        r"快递.{0,6}(慢|没更新|丢|压|破)",
        r"还没(发货|到|送到)",
        r"没发货",
        r"送错",
        r"漏送",
        r"少送",
        r"配送.{0,4}(慢|超时)",
        r"超时",
        r"送了.{0,3}(小时|个小时)",
        r"迟迟",
        r"等了.{0,4}(天|周|星期|小时)",
        r"压扁",
        r"包装.{0,3}破",
        r"洒了",
        r"凉了",
    ],
    "退款/售后": [
        r"退款",
        r"退货",
        r"退不了",
        r"退钱",
        r"不给退",
        r"拒绝退",
        r"价保",
        r"差价",
        r"售后.{0,6}(差|不管|推|拒|收费|慢)",
        r"保修.{0,4}(不|拒)",
        r"换货",
        r"维修.{0,6}(慢|贵|收费|不)",
        r"三包",
    ],
    "客服": [
        r"客服.{0,8}(不回|不理|没人|态度|敷衍|踢皮球|推卸|机器人|断线|排队|不管)",
        r"没人(接|理|管)",
        r"电话.{0,4}(打不通|没人接)",
        r"态度(差|恶劣|太差)",
        r"不回复",
        r"已读不回",
    ],
    "价格": [r"降价", r"溢价", r"贵了", r"坑钱", r"割韭菜", r"乱收费", r"多收", r"乱扣", r"虚假(宣传|优惠|活动)"],
}
_GRIEVANCE = re.compile(r"投诉|维权|曝光|12315|消协|避雷|踩雷|太坑|坑人|黑心|骗子|欺骗|垃圾|差评|再也不买|退货")
_QUESTION = re.compile(r"(吗|么|呢|多久|哪里|什么|怎么|是否)[？?]?\s*$|[？?]\s*$")
_COMPILED = {cat: re.compile("|".join(pats)) for cat, pats in CATEGORIES.items()}


_NEGATED = re.compile(r"(不|没|没有|无|未|不会|不再)$")
# categories whose problem terms state a defect by themselves ("电池鼓包了" needs no negative word)
_SELF_EVIDENT = {"安全", "质量/故障"}


def _category(text: str) -> str:
    for cat, pattern in _COMPILED.items():
        for m in pattern.finditer(text):
            if not _NEGATED.search(text[max(0, m.start() - 3) : m.start()]):
                return cat
    return ""


def detect_complaints(texts: Sequence[str], sentiment: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """``(is_complaint, category)`` per text, given P(positive) from the sentiment model.

    Safety and defect terms ("鼓包", "冒烟", "死机") make a complaint on their own unless negated
    ("没有鼓包"); other categories need a negative reading or a grievance verb.
    """
    flags = np.zeros(len(texts), dtype=bool)
    cats: list[str] = []
    for i, text in enumerate(texts):
        cat = _category(text)
        grievance = bool(_GRIEVANCE.search(text))
        negative = sentiment[i] < 0.5
        question = bool(_QUESTION.search(text)) and not grievance
        evident = cat in _SELF_EVIDENT
        if cat and (negative or grievance or evident) and not (question and sentiment[i] >= 0.3):
            flags[i] = True
            cats.append(cat)
        elif grievance and negative:
            flags[i] = True
            cats.append("其他")
        else:
            cats.append("")
    return flags, cats
