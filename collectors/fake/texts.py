"""Phrase banks and a vectorised generator for simulated Chinese social-media text.

A post is composed from parts drawn independently (opener, body template from
the intent's bank, a follow-up sentence, slang, emoticon code, emoji, hashtag,
mention, short URL), so the number of distinct texts grows combinatorially and
no single word decides the sentiment.  Every random draw is made in bulk with
the world's :class:`numpy.random.Generator`; only the string formatting runs in
Python, which keeps a million posts to a few seconds.

Intents and the sentiment they carry:

* ``praise``, ``campaign`` → positive
* ``neutral``, ``question`` → neutral
* ``complaint`` (per category) → negative and a complaint
* ``negative_other`` (weather, overtime, a rival's advert…) → negative, not a complaint
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["COMPLAINT_CATEGORIES", "INTENTS", "LONG_DETAILS", "NLP_CATEGORY", "SENTIMENT_OF_INTENT", "TextGenerator"]

_CHUNK = 50_000
INTENTS = ("praise", "neutral", "question", "complaint", "negative_other", "campaign")
SENTIMENT_OF_INTENT = {
    "praise": "pos",
    "campaign": "pos",
    "neutral": "neu",
    "question": "neu",
    "complaint": "neg",
    "negative_other": "neg",
}

COMPLAINT_CATEGORIES: dict[str, list[str]] = {
    "物流慢": [
        "下单{n}天了还没发货，物流信息一直不动",
        "快递{n}天没更新了，问客服只会说再等等",
        "说好的次日达，结果等了一个星期才到",
        "配送员直接把{product}放门口，箱子都压扁了",
        "买的{product}物流卡在{city}转运中心{n}天了",
        "预售说{n}天发货，现在半个月了还没发货",
        "{product}到货外包装破了，快递还不让验货",
        "物流慢到离谱，隔壁买的{rival}都用上一周了",
    ],
    "客服不回复": [
        "客服一直不回复，打电话也没人接",
        "找了{n}次客服，每次都是机器人回复，问题根本没解决",
        "售后客服态度太差了，说话阴阳怪气的",
        "在线客服排队排了一个小时，最后直接断线",
        "客服已读不回，留言{n}天了石沉大海",
        "问{product}保修的事，客服踢皮球，让我去找门店",
        "热线电话打不通，转人工永远在排队",
    ],
    "退款难": [
        "申请退款{n}天了还没到账，一直说在审核",
        "七天无理由退货被拒，理由是包装拆了？？",
        "退款流程太麻烦了，来回寄了两次还没退",
        "说好的价保，差价到现在都没退给我",
        "{product}退货寄回去{n}天了，钱还是没退",
        "退款被驳回{n}次，每次理由都不一样",
    ],
    "质量问题": [
        "{product}用了不到一个月屏幕就出现绿线",
        "新买的{product}开机就卡死，换了一台还是一样",
        "{product}摄像头进灰，拍出来全是黑点",
        "{product}充电口松了，线一碰就断充",
        "{product}屏幕碎了一角，明明只是从桌上掉下来",
        "{product}系统更新以后频繁重启，{n}天重启了十几次",
        "{product}后盖裂了，做工也太粗糙了",
        "{product}听筒有杂音，打电话对面听不清",
    ],
    "电池鼓包": [
        "{product}电池鼓包了，后盖都被顶起来了",
        "{product}充电的时候烫得吓人，还闻到一股焦味",
        "{product}电池掉电太快，满电一上午就没了",
        "{product}边充边用直接发烫到不敢拿",
        "才买{n}个月的{product}电池就鼓包了，屏幕都被顶开了",
        "{product}放桌上充电，早上起来发现电池鼓起来了",
        "{product}发热严重，玩十分钟游戏烫手",
    ],
    "价格": [
        "刚买的{product}第二天就降价{n}百，买早了真的会谢",
        "{product}溢价太离谱了，配置还不如去年",
        "说是活动价，结果比平时还贵，虚假优惠",
        "{product}保价期刚过就降价{n}百，割韭菜割得明明白白",
    ],
    "安全": [
        "{product}充电时冒烟了，差点起火，太吓人了",
        "{product}电池发热到烫伤手，这安全吗",
        "{product}充电器漏电，手碰到麻了一下，有安全隐患",
    ],
}
# simulated problem category -> the category nlp/complaint.py files it under
NLP_CATEGORY = {
    "物流慢": "物流/配送",
    "客服不回复": "客服",
    "退款难": "退款/售后",
    "质量问题": "质量/故障",
    "电池鼓包": "质量/故障",
    "价格": "价格",
    "安全": "安全",
}

_COMPLAINT_OPENERS = [
    "",
    "",
    "",
    "气死我了，",
    "真的服了，",
    "吐槽一下，",
    "有没有人管管？",
    "第一次在微博投诉，",
    "实名避雷，",
    "说一下我的遭遇：",
    "绷不住了，",
]
_COMPLAINT_TAILS = [
    "",
    "",
    "再也不买了",
    "已经打12315了",
    "求官方给个说法",
    "大家避雷吧",
    "这就是大品牌的售后？",
    "钱花了还受气",
    "准备去消协投诉",
    "有同样遭遇的扣1",
    "到底管不管",
]
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
    "{product}的充电速度惊到我了，{n}十分钟就满了",
    "在{city}门店体验了{product}，店员很耐心，当场就下单了",
    "{product}信号比我之前那台强多了，地铁里也不断网",
    "终于换上{product}了，旧手机可以退休了",
    "{brand}的系统越来越好用了，{product}动画很跟手",
]
_PRAISE_TAILS = ["", "", "推荐给大家", "闭眼入不亏", "这钱花得值", "下次还买{brand}", "朋友看了也想买", "好评"]
_NEUTRAL = [
    "{brand}今天发布了{product}，起售价{n}999元",
    "{product}的参数出来了，{n}000mAh电池，支持快充",
    "听说{brand}下个月要开线下体验店",
    "{product}和{rival}新款的对比测评来了",
    "{brand}官方公布了{product}的系统更新计划",
    "路过{city}的{brand}门店，人还挺多",
    "{product}今天开始预售，首批{n}万台",
    "整理了一下{product}的配置：{n}nm芯片、1亿像素主摄",
    "{brand}发布会定在下周{weekday}晚上七点",
    "{product}有三个配色，官网已经可以预约了",
]
_QUESTION = [
    "{product}值得入手吗？有用过的说说",
    "想换手机，{brand}的{product}和{rival}的新款选哪个？",
    "{product}支持无线充电吗？",
    "{product}的保修期是多久？在{city}哪里能修？",
    "有人知道{product}什么时候降价吗",
    "{product}玩原神会不会卡？",
    "请问{product}的{n}256G版本还有货吗",
    "{brand}的以旧换新怎么估价的？",
]
_NEG_OTHER = [
    "今天{city}又下大雨，通勤两个小时，心好累",
    "加班到十一点，外卖还送错了，破防了",
    "{rival}这广告也太尬了吧，看得我脚趾抠地",
    "周一综合症又犯了，不想上班",
    "排队两个小时没买到票，白跑一趟",
    "考试又挂了，心情很差",
    "{city}这雾霾，出门五分钟嗓子就疼",
    "{rival}的代言人翻车了，看着就烦",
    "堵在高架上一个小时了，要迟到了",
    "猫主子生病了，带去医院花了{n}千，心疼",
    "{rival}这次发布会全程画饼，失望透顶",
]
_CAMPAIGN = [
    "参加了{tag}活动，{product}以旧换新还送了耳机，太划算了",
    "{tag} 抢到了{product}，这波优惠可以",
    "{brand}这次{tag}力度真大，直接冲了",
    "{tag} 晒单：{product}到手，比预期还好看",
    "{tag}的满减叠加下来{product}便宜了{n}百，开心",
    "蹲到了{tag}的直播间福利，{product}到手价真香",
    "{tag} 给我妈也换了一台{product}，她特别满意",
    "被朋友安利了{tag}，{product}以旧换新补贴真的香",
]
_WHEN = [
    "昨天",
    "今天",
    "刚刚",
    "上周",
    "周末",
    "今早",
    "下班路上",
    "午休的时候",
    "前两天",
    "半夜",
    "这两天",
    "国庆期间",
]
_MORE = {
    "pos": ["家里人都说好看", "物流也很快", "包装很用心", "同事看了也想买", "整体很满意", "没有踩雷", "惊喜"],
    "neu": ["大家怎么看", "欢迎补充", "有懂的吗", "先记一下", "后续再更新", "仅供参考", "等一个实测"],
    "neg": ["心累", "浪费了我一下午", "不知道找谁说理", "心情全没了", "真的很失望", "越想越气", "服了"],
}
_OPENERS_NEU = ["", "", "", "话说", "刚看到，", "分享一下：", "家人们，", "有一说一，"]
_SLANG_POS = ["太香了", "冲就完事了", "爱了爱了", "真不错", "绝了", "无限回购", "闭眼入", "yyds", "绝绝子"]
_SLANG_NEG = ["无语", "真的会谢", "踩雷了", "避雷", "气死了", "心态崩了", "吐了", "太坑了", "破防了", "离谱"]
_SLANG_NEU = ["坐等", "码住", "蹲一个", "先观望", "mark一下", "插眼"]
_EMO_POS = ["[哈哈]", "[赞]", "[爱你]", "[good]", "[开心]", "[嘻嘻]", "[鼓掌]", "[心]", "[doge]"]
_EMO_NEG = ["[怒]", "[泪]", "[抓狂]", "[衰]", "[生病]", "[允悲]", "[伤心]", "[汗]", "[怒骂]"]
_EMO_NEU = ["[doge]", "[思考]", "[吃瓜]", "[并不简单]", "[费解]", "[允悲]"]
_EMOJI_POS = ["👍", "😂", "❤️", "🔥", "✨"]
_EMOJI_NEG = ["😡", "😭", "🙄", "💢", "😤"]
_EMOJI_NEU = ["🤔", "👀", "😂"]
_CITIES = ["北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "西安", "南京", "重庆", "台北", "香港"]
_WEEKDAYS = ["一", "二", "三", "四", "五", "六", "日"]
# typos and homophones people actually type
_TYPOS = [
    ("的", "滴"),
    ("什么", "神马"),
    ("这样", "酱紫"),
    ("喜欢", "稀饭"),
    ("没有", "木有"),
    ("觉得", "jio得"),
    ("真的", "真滴"),
    ("不知道", "不造"),
    ("客服", "克服"),
    ("非常", "灰常"),
]

_REPOST = {
    "pos": ["说得对", "支持", "同款", "已入手", "真香", "转发微博", "赞同", "羡慕", "码住了", "好看", "冲"],
    "neg": ["同样遇到了", "太坑了", "我也是", "避雷", "转发微博", "求官方回应", "+1", "帮转", "扩散", "离谱"],
    "neu": ["转发微博", "mark", "蹲后续", "吃瓜", "转", "插眼", "有人知道吗", "学到了"],
}
_COMMENT = {
    "pos": [
        "我也觉得{product}不错",
        "颜值真的高",
        "已下单",
        "羡慕了",
        "求链接",
        "同感，用着很舒服",
        "我家也是{product}，好用",
        "种草了",
        "拍得好好看",
    ],
    "neg": [
        "我的{product}也是这个问题",
        "同样遇到了，客服也不管",
        "建议直接投诉",
        "退了吧别犹豫",
        "太离谱了",
        "这质量真不行",
        "我也在等退款，快一个月了",
        "心疼你，遇到这种事真闹心",
        "早就说了别买",
    ],
    "neu": ["多少钱入的？", "坐等测评", "哪里买的", "什么颜色", "蹲一个后续", "内存多大的？", "在哪个平台买的"],
}


# paragraphs a long post (more than Weibo's 140 characters, served cut with "全文") goes on with: plain account of
# use, no sentiment or brand of their own, so appending them keeps the post's labels
LONG_DETAILS = [
    "补充一下使用情况：平时每天大概用五六个小时，主要是刷视频、回消息、导航和拍照，偶尔晚上玩一会儿游戏，"
    "设置基本都是默认的，没有装什么乱七八糟的软件，系统也一直是最新版本。",
    "说一下背景：之前一直用的是三年前买的旧手机，这次是在官方渠道买的，发票和包装盒都还留着，"
    "拿到手当天就激活了，用的是原装的充电器和数据线，手机壳也是买的同一家店的。",
    "顺便记录一下时间线：下单是月初，隔了两天到货，第一周每天都有认真看电池和温度，"
    "第二周开始出差，带着跑了三个城市，期间主要用来开会、打车、看地图和拍文件。",
    "再说几个细节：屏幕亮度一般开自动，蓝牙耳机和手表常连着，定位服务开着，"
    "后台常驻的就是聊天、地图和音乐这几个，充电一般是晚上睡前充到满，白天很少补电。",
    "大家问的几个问题统一回复一下：版本是标准版，内存是十二加二百五十六，颜色是深色，"
    "买的时候没有参加以旧换新，也没有买延保，其他配置可以看评论区置顶。",
    "写得有点长，主要是想给还在犹豫的朋友一个参考，每个人的使用习惯不一样，"
    "我说的只是我自己这一台的情况，仅供参考，有问题可以在评论区问我，看到都会回。",
]


def _joiner(text: str, mark: str) -> str:
    """Punctuation between two sentences, none after a sentence that already ends with some."""
    return "" if text[-1:] in "？?！!。，" else mark


class TextGenerator:
    """Builds post, repost and comment texts in bulk from a seeded :class:`numpy.random.Generator`."""

    def __init__(self, rng: np.random.Generator, rivals: Sequence[str]) -> None:
        self.rng = rng
        self.rivals = list(rivals) or ["别家"]

    # ------------------------------------------------------------------ helpers
    def _pick(self, bank: Sequence[str], n: int, p: float = 1.0) -> list[str]:
        """``n`` draws from ``bank``; each is ``""`` with probability ``1 - p``."""
        idx = self.rng.integers(0, len(bank), size=n)
        keep = self.rng.random(n) < p
        return [bank[i] if k else "" for i, k in zip(idx.tolist(), keep.tolist(), strict=True)]

    def posts(
        self,
        intents: Sequence[str],
        brand_names: Sequence[str],
        products: Sequence[str],
        categories: Sequence[str],
        topics: Sequence[str],
        mentions: Sequence[str],
        campaign_tag: str = "",
    ) -> list[str]:
        """One top-level post per row; ``categories`` names the complaint category for complaints.

        Works through the rows in chunks so the per-row random draws never all sit in memory as Python floats.
        """
        out: list[str] = []
        for lo in range(0, len(intents), _CHUNK):
            hi = lo + _CHUNK
            out += self._posts(
                intents[lo:hi],
                brand_names[lo:hi],
                products[lo:hi],
                categories[lo:hi],
                topics[lo:hi],
                mentions[lo:hi],
                campaign_tag,
            )
        return out

    def _posts(
        self,
        intents: Sequence[str],
        brand_names: Sequence[str],
        products: Sequence[str],
        categories: Sequence[str],
        topics: Sequence[str],
        mentions: Sequence[str],
        campaign_tag: str,
    ) -> list[str]:
        n = len(intents)
        rng = self.rng
        nums = rng.integers(2, 9, size=n).tolist()
        city = self._pick(_CITIES, n)
        rival = self._pick(self.rivals, n)
        weekday = self._pick(_WEEKDAYS, n)
        template_u = rng.random(n).tolist()
        slang_u = rng.random(n).tolist()
        emo_u = rng.random(n).tolist()
        pick_u = rng.random((n, 6))
        extra_u = rng.random((n, 6)).tolist()
        v = rng.random((n, 4)).tolist()
        out: list[str] = []
        banks: dict[str, list[str]] = {
            "praise": _PRAISE,
            "neutral": _NEUTRAL,
            "question": _QUESTION,
            "negative_other": _NEG_OTHER,
            "campaign": _CAMPAIGN,
        }
        pick_idx = pick_u.tolist()
        tag = f"#{campaign_tag}#" if campaign_tag else ""
        for i in range(n):
            intent = intents[i]
            u = pick_idx[i]
            bank = COMPLAINT_CATEGORIES[categories[i]] if intent == "complaint" else banks[intent]
            template = bank[int(template_u[i] * len(bank))]
            if products[i].startswith(rival[i]) or brand_names[i] == rival[i]:
                rival[i] = "隔壁家" if u[1] < 0.5 else "别家"
            body = template.format(
                brand=brand_names[i],
                product=products[i],
                rival=rival[i],
                city=city[i],
                n=nums[i],
                tag=tag,
                weekday=weekday[i],
            )
            sentiment = SENTIMENT_OF_INTENT[intent]
            if intent == "complaint":
                opener = _COMPLAINT_OPENERS[int(u[0] * len(_COMPLAINT_OPENERS))]
                if u[1] < 0.4 and products[i] not in body:
                    body = f"{brand_names[i]}的{products[i]}，{body}" if u[1] < 0.2 else f"{brand_names[i]}{body}"
                tail = _COMPLAINT_TAILS[int(u[2] * len(_COMPLAINT_TAILS))]
                slang = _SLANG_NEG[int(u[3] * len(_SLANG_NEG))] if slang_u[i] < 0.45 else ""
                emo = _EMO_NEG[int(u[4] * len(_EMO_NEG))] if emo_u[i] < 0.35 else ""
                emoji = _EMOJI_NEG[int(u[5] * len(_EMOJI_NEG))] if extra_u[i][0] < 0.1 else ""
            elif sentiment == "pos":
                opener = _OPENERS_NEU[int(u[0] * len(_OPENERS_NEU))] if intent == "praise" else ""
                tail = _PRAISE_TAILS[int(u[2] * len(_PRAISE_TAILS))].format(brand=brand_names[i])
                slang = _SLANG_POS[int(u[3] * len(_SLANG_POS))] if slang_u[i] < 0.45 else ""
                emo = _EMO_POS[int(u[4] * len(_EMO_POS))] if emo_u[i] < 0.55 else ""
                emoji = _EMOJI_POS[int(u[5] * len(_EMOJI_POS))] if extra_u[i][0] < 0.15 else ""
            elif sentiment == "neg":
                opener = ""
                tail = ""
                slang = _SLANG_NEG[int(u[3] * len(_SLANG_NEG))] if slang_u[i] < 0.4 else ""
                emo = _EMO_NEG[int(u[4] * len(_EMO_NEG))] if emo_u[i] < 0.45 else ""
                emoji = _EMOJI_NEG[int(u[5] * len(_EMOJI_NEG))] if extra_u[i][0] < 0.1 else ""
            else:
                opener = _OPENERS_NEU[int(u[0] * len(_OPENERS_NEU))]
                tail = ""
                slang = _SLANG_NEU[int(u[3] * len(_SLANG_NEU))] if slang_u[i] < 0.3 else ""
                emo = _EMO_NEU[int(u[4] * len(_EMO_NEU))] if emo_u[i] < 0.3 else ""
                emoji = _EMOJI_NEU[int(u[5] * len(_EMOJI_NEU))] if extra_u[i][0] < 0.08 else ""
            e = extra_u[i]
            if e[1] < 0.12:
                old, new = _TYPOS[int(e[2] * len(_TYPOS))]
                body = body.replace(old, new, 1)
            when = _WHEN[int(v[i][0] * len(_WHEN))] if v[i][1] < 0.3 else ""
            text = opener + when + body
            if tail:
                text += _joiner(text, "，" if e[3] < 0.5 else "。") + tail
            if v[i][2] < 0.3:
                more = _MORE[sentiment]
                text += _joiner(text, "。") + more[int(v[i][3] * len(more))]
            parts = [text, slang, emo, emoji]
            if topics[i]:
                if e[4] < 0.5:
                    parts.insert(0, f"#{topics[i]}#")
                else:
                    parts.append(f"#{topics[i]}#")
            if mentions[i]:
                parts.append(f"@{mentions[i]}")
            if e[5] < 0.07:
                parts.append(f"http://t.cn/A{int(e[5] * 1e9) % 10**6:06d}x")
            sep = "" if e[0] < 0.6 else " "
            out.append(sep.join(p for p in parts if p))
        return out

    def reposts(self, sentiments: Sequence[str]) -> list[str]:
        """The reposter's own words (the ``//@`` chain is appended by the caller)."""
        out: list[str] = []
        for lo in range(0, len(sentiments), _CHUNK):
            out += self._reposts(sentiments[lo : lo + _CHUNK])
        return out

    def _reposts(self, sentiments: Sequence[str]) -> list[str]:
        n = len(sentiments)
        u = self.rng.random((n, 3)).tolist()
        out = []
        for i in range(n):
            s = sentiments[i]
            bank = _REPOST[s]
            text = bank[int(u[i][0] * len(bank))]
            if u[i][1] < 0.3:
                emos = _EMO_POS if s == "pos" else _EMO_NEG if s == "neg" else _EMO_NEU
                text += emos[int(u[i][2] * len(emos))]
            out.append(text)
        return out

    def comments(self, sentiments: Sequence[str], products: Sequence[str]) -> list[str]:
        """Short comments whose tone follows ``sentiments`` (``pos``/``neu``/``neg``)."""
        out: list[str] = []
        for lo in range(0, len(sentiments), _CHUNK):
            out += self._comments(sentiments[lo : lo + _CHUNK], products[lo : lo + _CHUNK])
        return out

    def _comments(self, sentiments: Sequence[str], products: Sequence[str]) -> list[str]:
        n = len(sentiments)
        u = self.rng.random((n, 4)).tolist()
        out = []
        for i in range(n):
            s = sentiments[i]
            bank = _COMMENT[s]
            text = bank[int(u[i][0] * len(bank))].format(product=products[i])
            if u[i][1] < 0.35:
                emos = _EMO_POS if s == "pos" else _EMO_NEG if s == "neg" else _EMO_NEU
                text += emos[int(u[i][2] * len(emos))]
            if u[i][3] < 0.1:
                slang = _SLANG_POS if s == "pos" else _SLANG_NEG if s == "neg" else _SLANG_NEU
                text += " " + slang[int(u[i][3] * 10 * len(slang))]
            out.append(text)
        return out
