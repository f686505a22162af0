"""Phrase banks and templates for simulated Chinese social-media posts.

Each intent has many templates; slots are filled with products, slang,
emoticon codes, hashtags and typos so that no two posts read alike and the
sentiment of a post follows its intent without hanging on one word.
"""

from __future__ import annotations

import numpy as np

__all__ = ["COMPLAINT_CATEGORIES", "INTENTS", "TextGenerator"]

INTENTS = ("praise", "neutral", "question", "complaint", "negative_other", "campaign")

COMPLAINT_CATEGORIES = {
    "物流": [
        "下单{n}天了还没发货，物流信息一直不动",
        "快递三天没更新，问客服只会说再等等",
        "说好的次日达，结果等了一个星期",
        "配送员直接放门口，箱子都压扁了",
    ],
    "客服": [
        "客服一直不回复，打电话也没人接",
        "找了{n}次客服，每次都是机器人回复，问题根本没解决",
        "售后客服态度太差了，说话阴阳怪气的",
        "在线客服排队排了一个小时，最后直接断线",
    ],
    "退款": [
        "申请退款{n}天了还没到账，一直说在审核",
        "七天无理由退货被拒，理由是包装拆了？？",
        "退款流程太麻烦了，来回寄了两次还没退",
        "说好的价保，差价到现在都没退给我",
    ],
    "质量": [
        "{product}用了不到一个月屏幕就出现绿线",
        "新买的{product}开机就卡死，换了一台还是一样",
        "{product}摄像头进灰，拍出来全是黑点",
        "{product}充电口松了，线一碰就断充",
    ],
    "电池": [
        "{product}电池鼓包了，后盖都被顶起来了",
        "{product}充电的时候烫得吓人，还闻到一股焦味",
        "{product}电池掉电太快，满电一上午就没了",
        "{product}边充边用直接发烫到不敢拿",
    ],
    "价格": [
        "刚买的{product}第二天就降价{n}百，买早了真的会谢",
        "{product}溢价太离谱了，配置还不如去年",
        "说是活动价，结果比平时还贵",
    ],
    "安全": [
        "{product}充电时冒烟了，差点起火，太吓人了",
        "{product}电池发热到烫伤手，这安全吗",
    ],
}

_PRAISE = [
    "{product}拍照真的绝绝子，夜景糊不了一点",
    "入手{product}一周，续航很能打，日常用一天半没问题",
    "{brand}这次真的用心了，{product}手感太好了",
    "{product}屏幕好细腻，看剧体验直接拉满",
    "给爸妈买的{product}，字大声音大，他们很喜欢",
    "{brand}售后给力，换机很快，点赞",
    "{product}性价比yyds，这个价位没对手",
    "用了三年{brand}了，这次{product}依旧稳",
    "刚拿到{product}，开箱颜值很高，配色很高级",
    "{product}系统流畅，玩游戏也不怎么发热",
]
_NEUTRAL = [
    "{brand}今天发布了{product}，起售价{n}999元",
    "{product}的参数出来了，{n}000mAh电池，支持快充",
    "听说{brand}下个月要开线下体验店",
    "{product}和隔壁家新机对比测评来了",
    "{brand}官方公布了{product}的系统更新计划",
    "路过{city}的{brand}门店，人还挺多",
    "{product}今天开始预售，首批{n}万台",
]
_QUESTION = [
    "{product}值得入手吗？有用过的说说",
    "想换手机，{brand}的{product}和{rival}的新款选哪个？",
    "{product}支持无线充电吗？",
    "{product}的保修期是多久？在{city}哪里能修？",
    "有人知道{product}什么时候降价吗",
]
_NEG_OTHER = [
    "今天{city}又下大雨，通勤两个小时，心好累",
    "加班到十一点，外卖还送错了，破防了",
    "{rival}这广告也太尬了吧，看得我脚趾抠地",
    "周一综合症又犯了，不想上班",
    "排队两个小时没买到票，白跑一趟",
    "考试又挂了，心情很差",
]
_CAMPAIGN = [
    "参加了{tag}活动，{product}以旧换新还送了耳机，太划算了",
    "{tag} 抢到了{product}，这波优惠可以",
    "{brand}这次{tag}力度真大，直接冲了",
    "{tag} 晒单：{product}到手，比预期还好看",
]

_SLANG_POS = ["太香了", "冲就完事了", "爱了爱了", "真不错", "绝了", "无限回购", "闭眼入"]
_SLANG_NEG = ["无语", "真的会谢", "踩雷了", "避雷", "气死了", "心态崩了", "吐了", "太坑了"]
_SLANG_NEUTRAL = ["坐等", "码住", "蹲一个", "先观望", "mark一下"]
_EMO_POS = ["[哈哈]", "[赞]", "[爱你]", "[good]", "[开心]", "[嘻嘻]", "[鼓掌]", "[心]"]
_EMO_NEG = ["[怒]", "[泪]", "[抓狂]", "[衰]", "[生病]", "[允悲]", "[伤心]", "[汗]"]
_EMO_NEU = ["[doge]", "[思考]", "[吃瓜]", "[并不简单]", "[费解]"]
_EMOJI = ["😂", "👍", "😭", "😡", "🙄", "🔥", "❤️", ""]
_CITIES = ["北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "西安", "南京", "重庆", "台北", "香港"]
# common typos / homophones people actually type
_TYPOS = [("的", "滴"), ("什么", "神马"), ("这样", "酱紫"), ("喜欢", "稀饭"), ("没有", "木有"), ("觉得", "jio得")]


class TextGenerator:
    """Fills templates with a seeded numpy Generator."""

    def __init__(self, rng: np.random.Generator, brand: str, products: list[str], rivals: list[str]) -> None:
        self.rng = rng
        self.brand = brand
        self.products = products
        self.rivals = rivals

    def _pick(self, items: list[str]) -> str:
        return items[int(self.rng.integers(len(items)))]

    def _fill(self, template: str, brand: str, product: str, tag: str = "") -> str:
        return template.format(
            brand=brand,
            product=product,
            rival=self._pick(self.rivals) if self.rivals else "别家",
            city=self._pick(_CITIES),
            n=int(self.rng.integers(2, 9)),
            tag=tag,
        )

    def post(
        self,
        intent: str,
        brand: str,
        product: str,
        *,
        category: str = "",
        tag: str = "",
        mention: str = "",
        topic: str = "",
    ) -> str:
        r = self.rng.random
        if intent == "praise":
            body = self._fill(self._pick(_PRAISE), brand, product)
            extras = [self._pick(_SLANG_POS) if r() < 0.5 else "", self._pick(_EMO_POS) if r() < 0.6 else ""]
        elif intent == "neutral":
            body = self._fill(self._pick(_NEUTRAL), brand, product)
            extras = [self._pick(_SLANG_NEUTRAL) if r() < 0.3 else "", self._pick(_EMO_NEU) if r() < 0.3 else ""]
        elif intent == "question":
            body = self._fill(self._pick(_QUESTION), brand, product)
            extras = [self._pick(_EMO_NEU) if r() < 0.3 else ""]
        elif intent == "complaint":
            cat = category or self._pick(list(COMPLAINT_CATEGORIES))
            body = self._fill(self._pick(COMPLAINT_CATEGORIES[cat]), brand, product)
            if r() < 0.5:
                body = f"{brand}{body}" if not body.startswith(product) else body
            # many real complaints carry no emoticon at all
            extras = [self._pick(_SLANG_NEG) if r() < 0.5 else "", self._pick(_EMO_NEG) if r() < 0.35 else ""]
        elif intent == "negative_other":
            body = self._fill(self._pick(_NEG_OTHER), brand, product)
            extras = [self._pick(_SLANG_NEG) if r() < 0.4 else "", self._pick(_EMO_NEG) if r() < 0.4 else ""]
        elif intent == "campaign":
            body = self._fill(self._pick(_CAMPAIGN), brand, product, tag=tag)
            extras = [self._pick(_SLANG_POS) if r() < 0.5 else "", self._pick(_EMO_POS) if r() < 0.6 else ""]
        else:
            raise ValueError(f"unknown intent {intent!r}")
        if r() < 0.15:
            old, new = _TYPOS[int(self.rng.integers(len(_TYPOS)))]
            body = body.replace(old, new, 1)
        parts = [body, *extras]
        if topic:
            parts.insert(0 if r() < 0.5 else len(parts), f"#{topic}#")
        if mention:
            parts.append(f"@{mention}")
        if r() < 0.08:
            parts.append(f"http://t.cn/A{int(self.rng.integers(10**5, 10**6))}")
        if r() < 0.15:
            parts.append(self._pick(_EMOJI))
        sep = "" if r() < 0.6 else " "
        return sep.join(p for p in parts if p)

    def repost_comment(self, sentiment_hint: str) -> str:
        bank = {
            "pos": ["说得对", "支持", "同款", "已入手", "真香", "转发微博", "赞同"],
            "neg": ["同样遇到了", "太坑了", "我也是", "避雷", "转发微博", "求官方回应", "+1"],
            "neu": ["转发微博", "mark", "蹲后续", "吃瓜", "转"],
        }[sentiment_hint]
        text = self._pick(bank)
        if self.rng.random() < 0.3:
            text += self._pick(
                _EMO_POS if sentiment_hint == "pos" else _EMO_NEG if sentiment_hint == "neg" else _EMO_NEU
            )
        return text

    def comment(self, sentiment_hint: str, product: str) -> str:
        bank = {
            "pos": ["我也觉得{product}不错", "颜值真的高", "已下单", "羡慕了", "求链接", "同感，用着很舒服"],
            "neg": [
                "我的{product}也是这个问题",
                "同样遇到了，客服也不管",
                "建议直接投诉",
                "退了吧别犹豫",
                "太离谱了",
                "这质量真不行",
            ],
            "neu": ["多少钱入的？", "坐等测评", "哪里买的", "什么颜色", "蹲一个后续"],
        }[sentiment_hint]
        return self._pick(bank).format(product=product)
