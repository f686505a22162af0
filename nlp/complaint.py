"""Complaint detection: a post that reports a problem with a product or service, with a category.

Negative is not the same as complaint: "下雨了好烦" is negative and no complaint;
"屏幕碎了，售后还要收费" is a complaint.  A post is a complaint when it states a
*problem* from the lexicon below and either the problem speaks for itself (a
*stated* pattern: "电池鼓包", "送错了", "等了两个小时") or the post reads negative
(a *weak* pattern: "凉了", "太少" are complaints in an angry review, not in a happy one),
or it carries a grievance word (投诉/维权/踩雷…).

Not complaints (``benchmarks/data/README.md`` has the labelling rules these follow):

* a negated problem — "没有鼓包", "一点都不卡", "没有踩雷": the 4 characters before a match end
  in a negator;
* a hypothetical or a worry — "如果坏了…", "担心会漏": the clause holds a conditional before the match;
* a question that asks for information — "保修期是多久？", "有人知道X5什么时候降价吗": a text ending in a
  question, or a problem followed by a question in its clause, unless the post reads clearly negative (a
  rhetorical "还能再慢点吗？" stays a complaint);
* a problem about something else — the nearest subject named before it is no product or service bought
  ("堵在高架上一个小时了，要迟到了": 迟 is the writer's, not a delivery's) or, in a post that names a
  monitored brand, another business's service ("#星阅新品# 加班到十一点，外卖还送错了": the brand is a topic
  tag, the wrong delivery a takeaway's).  A fault (质量/故障, 安全) is a product's whatever an earlier clause
  named ("今天加班到很晚，又死机了").

A delay whose subject is money ("申请退款5天了还没到账") is a refund complaint, not a parcel's.

The category is the first of :data:`CATEGORIES` (in order) with a matching problem.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from importlib import resources
from itertools import chain

import numpy as np

__all__ = ["CATEGORIES", "detect_complaints", "is_question"]

# category → (stated: a complaint whatever the tone, weak: a complaint in a negative post)
CATEGORIES: dict[str, tuple[list[str], list[str]]] = {
    "安全": (
        [
            r"冒烟",
            r"起火",
            r"爆炸",
            r"自燃",
            r"烫伤",
            r"触电",
            r"漏电",
            r"安全隐患",
            r"焦味",
            r"食物中毒",
            r"拉肚子",
            r"吃坏(了)?肚子",
            r"拉了一(晚|夜|天)",
        ],
        [r"过敏"],
    ),
    "质量/故障": (
        [
            r"鼓包",
            r"烫得",
            r"烫手",
            r"发热严重",
            r"掉电",
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
            r"进灰",
            r"碎了",
            r"裂了",
            r"开不了机",
            r"开不开机",
            r"失灵",
            r"质量(太|很|真|特别)?(差|烂)",
            r"做工(差|粗糙)",
            r"异响",
            r"杂音",
            r"鼓起来",
            r"漏液",
            r"变质",
            r"发霉",
            r"长毛",
            r"白毛",
            r"有虫",
            r"异物",
            r"不明物",
            r"过期",
            r"不新鲜",
            r"难吃",
            r"馊",
            r"发臭",
            r"变味",
            r"没熟",
            r"鸡毛",
            r"头发丝",
            r"假货",
            r"是假的",
            r"翻新",
            r"二手",
            r"次品",
            r"劣质",
            r"掉色",
            r"褪色",
            r"起球",
            r"开线(?!下)",  # a seam come open, not 开线下店 (opening a store)
            r"破(了)?(个)?洞",
            r"色差",
            r"(和|跟|与)(图片|描述|实物|商场).{0,6}不(一样|符)",
            r"不符",
            r"变形",
            r"卡(的|得)(要死|要命|不行)",
            r"坏(的|了)(一|两|三|四|五|六|几)",
            r"(一|两|三|四|五|六|几)个(是)?坏",
            r"全(都)?是坏",
            r"吃出",
            r"喝出",
            r"(倒|溢|漏)出来",
            r"找不到网络",
            r"连不上",
            r"无法连接",
        ],
        [
            r"发烫",
            r"耗电",
            r"重启",
            r"松了",
            r"松动",
            r"不好吃",
            r"太(少|小|咸|甜|酸|辣|油|腻|硬|淡|干|厚|薄|长|短)",
            r"量(很|太|也太|特别)?(少|小)",
            r"分量(少|不足)",
            r"不足",
            r"不甜",
            r"没(有)?(味道|效果|弹性)",
            r"怪怪",
            r"很卡",
            r"太卡",
            r"反应(慢|迟钝)",
            r"迟钝",
            r"没电",
            r"不耐用",
            r"不好用",
            r"难用",
            r"噪音",
            r"声音.{0,2}大",
            r"不起泡",
            r"头皮屑",
            r"头痒",
            r"掉发",
            r"油腻",
            r"干涩",
            r"偷工减料",
            r"坏的",
            r"烂",
            r"差劲",
            r"不值",
        ],
    ),
    "物流/配送": (
        [
            r"送(得|的)?(太|很|好|超|特别|真|非常)?慢",
            r"速度.{0,3}慢",
            r"(太|超|好)慢了",
            r"蜗牛",
            r"迟了",
            r"晚了.{0,4}(分钟|小时)",
            r"等了.{0,6}(小时|钟头|天|半天|好久|很久)",
            r"(一|两|三|四|五|[0-9]+)个?(多|半)?小时(才|还没)",
            r"才(送到|送来|到货)",
            r"还没(有)?(发货|到(?!账)|送到|收到)",
            r"没(有)?发货",
            r"送错",
            r"发错",
            r"配错",
            r"漏送",
            r"少送",
            r"只送了",
            r"压根没",
            r"物流.{0,6}(慢|不动|没更新|停|差|卡在)",
            r"快递.{0,6}(慢|差|垃圾|没更新|丢|压|破)",
            r"拆开过",
            r"没有?密封",
            r"(下楼|出去|自己).{0,3}(取|拿)",
            r"不(能)?送(上楼|到)",
            r"忘(记)?(给|放|带)",
            r"才(给)?(送|到)",
            r"催单",
            r"超时",
            r"迟迟",
        ],
        [
            r"凉了",
            r"凉的",
            r"洒了",
            r"撒了",
            r"撒出",
            r"洒出",
            r"漏了",
            r"压扁",
            r"压坏",
            r"包装.{0,3}破",
            r"破损",
            r"没(给|放)",
            r"少了",
            r"太久",
            r"好久",
            r"很久",
            r"慢",
            r"迟",
        ],
    ),
    "退款/售后": (
        [
            r"退不了",
            r"不给退",
            r"拒绝退",
            r"不能退",
            r"退款.{0,6}(没|不|慢|拖)",
            r"售后(?!客服).{0,6}(差|不管|推|拒|收费|慢|不负责)",  # 售后客服态度差: the staff (客服)
            r"保修.{0,4}(不|拒)",
            r"维修.{0,6}(慢|贵|收费|不)",
            r"发票.{0,6}(没|不|拖)",
            r"没有?发票",
            r"索赔",
            r"没(有)?到账",
            r"(还|都|是|也)没(有)?退",
            r"(退货|退款|换货|申请)被(拒|驳回)",
        ],
        [r"退款", r"退货", r"退钱", r"换货", r"返修", r"价保", r"差价", r"三包"],
    ),
    "客服": (
        [
            r"客服.{0,14}(不回|不理|没人|态度|敷衍|踢皮球|推卸|机器人|断线|不管|有问题)",
            r"没人(接|理|管)",
            r"电话.{0,10}(打不通|没人接|不接|打不进)",
            r"打不进去",
            r"态度(差|恶劣|太差|不好)",
            r"不回复",
            r"已读不回",
            r"挂(断|掉)了?电话",
        ],
        [r"态度"],
    ),
    "价格": (
        [
            r"乱收费",
            r"多收",
            r"乱扣",
            r"虚假(宣传|优惠|活动)",
            r"坑钱",
            r"割韭菜",
            r"溢价",
            r"(就|又|马上)降价",
            r"买贵了",
            r"收(了)?.{0,4}费",
        ],
        [r"降价", r"贵了", r"涨价", r"加价", r"太贵"],
    ),
}
_GRIEVANCE = re.compile(
    r"投诉|维权|曝光|12315|消协|避雷|踩雷|太坑|坑人|黑心|骗子|欺骗|被骗|垃圾|差评|再也不(会)?买|上当"
)
_QUESTION = re.compile(r"(吗|么|呢|多久|哪里|什么|怎么|是否|几)[？?~～]*\s*$|[？?]\s*$")
# a negator among the 4 characters before a problem, with no clause break between ("没有压坏的", "一点都不卡")
_NEGATED = re.compile(r"(不|没|无(?!理由)|未|别|并非)[^。！？!?；;，,\s]{0,2}$")  # 七天无理由退货: a kind of return
_HYPOTHETICAL = re.compile(
    r"如果|万一|要是|假如|假设|担心|害怕|怕|会不会|是否会|以免|以防|希望不要|但愿|不知道|以后|追评|要不"
    r"|有人知道|请问|什么时候"  # asking about it: "有人知道X5什么时候降价吗" reports no price drop
)
# a question right after a problem, in its clause: "还能再慢点吗？" (rhetorical when the post reads clearly
# negative), "理由是包装拆了？？" (only that clause asks)
_ASKED = re.compile(r"[^。！？!?；;，,\n]{0,6}?(吗|？|\?)")  # not 呢 (还没到呢) or 么 (这么久)

# What a problem is about: the nearest of these named before it (hashtags skipped: a topic tag is no subject).
# A subject named in an earlier clause carries over ("堵在高架上一个小时了，要迟到了"), except to faults that
# can only be a product's (质量/故障, 安全).


def _subject_words() -> dict[str, list[str]]:
    """``lexicon/complaint_subjects.txt``: the words of each kind of subject, in file order."""
    text = resources.files("yuqing.nlp").joinpath("lexicon/complaint_subjects.txt").read_text(encoding="utf-8")
    kinds: dict[str, list[str]] = {"elsewhere": [], "life": [], "own": []}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            kind, word = line.split()
            kinds[kind].append(word)
    return kinds


_SUBJECT_WORDS = _subject_words()
_ELSEWHERE, _LIFE, _OWN = (_SUBJECT_WORDS[k] for k in ("elsewhere", "life", "own"))
_FAULTS = ("安全", "质量/故障")
# a delay or a thing not arrived whose subject is money: "申请退款5天了还没到账" is a refund complaint
_MONEY = re.compile(r"退款|退货|退钱|差价|钱")
_CLAUSE_END = re.compile(r"[。！？!?；;，,\n~～…]")


def _first_chars(pattern: str) -> str:
    """The characters a match of ``pattern`` can start with (the forms the lexicon uses: a literal, a
    character class, or a group of alternatives, each starting with one of these)."""
    head = pattern[0]
    if head == "[":
        body = pattern[1 : pattern.index("]")]
        return re.sub(r"(.)-(.)", lambda m: "".join(map(chr, range(ord(m[1]), ord(m[2]) + 1))), body)
    if head != "(":
        if head in ".\\?*+{|^$)":
            raise ValueError(f"lexicon pattern {pattern!r} starts with {head!r}: give it a literal start")
        return head
    depth, start, out = 0, 1, []
    for i, ch in enumerate(pattern):
        depth += ch == "("
        depth -= ch == ")"
        if (ch == "|" and depth == 1) or (ch == ")" and depth == 0):
            out.append(_first_chars(pattern[start:i]))
            start = i + 1
        if ch == ")" and depth == 0:
            if pattern[i + 1 : i + 2] in ("?", "*"):
                raise ValueError(f"lexicon pattern {pattern!r} may start empty")
            return "".join(out)
    raise ValueError(f"unbalanced lexicon pattern {pattern!r}")


_ALL = [*(p for stated, weak in CATEGORIES.values() for p in (*stated, *weak)), *_GRIEVANCE.pattern.split("|")]


def _literal_led(pattern: str) -> list[str]:
    """``pattern`` as alternatives that each start with one literal character, matching the same strings:
    a leading group is distributed (``(和|跟)X`` → ``和X``, ``跟X``), a leading class spelled out
    (``[0-9]+X`` → ``0[0-9]*X``, …)."""
    head = pattern[0]
    if head == "(":
        depth, end = 0, len(pattern) - 1
        for i, ch in enumerate(pattern):
            depth += ch == "("
            depth -= ch == ")"
            if depth == 0:
                end = i
                break
        group, rest = pattern[: end + 1], pattern[end + 1 :]
        alternatives, depth, start = [], 0, 1
        for i, ch in enumerate(group):
            depth += ch == "("
            depth -= ch == ")"
            if (ch == "|" and depth == 1) or (ch == ")" and depth == 0):
                alternatives.append(group[start:i])
                start = i + 1
        return [q for alt in alternatives for q in _literal_led(alt + rest)]
    if head == "[":
        end = pattern.index("]")
        cls, rest = pattern[: end + 1], pattern[end + 1 :]
        if rest.startswith("+"):
            return [re.escape(c) + cls + "*" + rest[1:] for c in _first_chars(cls)]
        return [re.escape(c) + rest for c in _first_chars(cls)]
    _first_chars(pattern)  # refuses a pattern that may start empty or with a metacharacter
    if pattern[1:2] in ("?", "*", "+", "{"):
        raise ValueError(f"lexicon pattern {pattern!r}: its first character is repeated; give it a literal start")
    return [pattern]


def _by_first_character(alternatives: Sequence[str]) -> str:
    """One alternation of literal-led ``alternatives`` with one branch per first character (``不(?:足|甜)``
    for ``不足|不甜``): it finds a match wherever one of them does, and the engine tries ~170 branches at a
    position instead of ~230."""
    rests: dict[str, list[str]] = {}
    for alt in alternatives:
        k = 2 if alt[0] == "\\" else 1  # an escaped first character is two characters of regex text
        rests.setdefault(alt[:k], []).append(alt[k:])
    return "|".join(
        first + ("" if "" in rest else "(?:" + "|".join(dict.fromkeys(rest)) + ")") for first, rest in rests.items()
    )


# every problem and grievance pattern at once: most posts match none and skip the per-category scan.
# Each alternative starts with a literal character, so the regex engine knows the characters a match can
# start with and skips every other position in C (~15 → ~9 µs a post against a lookahead of those
# characters; a plain alternation of the patterns as written costs ~30 µs); one branch per first character
# takes another quarter off (4.1 → 3.0 µs on Weibo posts)
_STARTS = "".join(sorted({c for p in _ALL for c in _first_chars(p)}))
_ANY = re.compile(_by_first_character([q for p in _ALL for q in _literal_led(p)]))


def _scanner(patterns: Sequence[str]) -> re.Pattern[str]:
    """``patterns`` joined, literal-led and one branch per first character: the same matches as
    ``"|".join(patterns)`` (at a position the first alternative that matches wins either way, and alternatives
    starting with different characters never match at one position), found in a third of the time."""
    return re.compile(_by_first_character([q for p in patterns for q in _literal_led(p)]))


_COMPILED = {cat: (_scanner(stated), _scanner(weak)) for cat, (stated, weak) in CATEGORIES.items()}
# the subjects in one scan (elsewhere before life before own where two start at one position: "别家的快递");
# the kind of a match is looked up from its words
_SUBJECT = _scanner([*_ELSEWHERE, *_LIFE, *_OWN, "#[^#\n]{1,40}#"])
_SUBJECT_KIND = {**dict.fromkeys(_OWN, "own"), **dict.fromkeys(_LIFE, "life")}


def _subject_kind(words: str) -> str:
    """``own``, ``life``, ``elsewhere`` or ``tag`` (a hashtag) for the words a :data:`_SUBJECT` match covers."""
    return "tag" if words[0] == "#" else _SUBJECT_KIND.get(words, "elsewhere")


NEGATIVE = 0.5  # P(positive) below which a post reads negative
RHETORICAL = 0.3  # a question reading this negative is a complaint put as a question


def _clause_start(text: str, pos: int) -> int:
    starts = [m.end() for m in _CLAUSE_END.finditer(text, 0, pos)]
    return starts[-1] if starts else 0


class _Post:
    """One candidate text and what the checks of its matches share, each found once and only when asked:
    the clause breaks, the subjects named, the monitored brands named."""

    __slots__ = ("_breaks", "_subjects", "asking", "brands", "text")

    def __init__(self, text: str, sentiment: float, brands: Sequence[str]) -> None:
        self.text = text
        # a question about a problem is asked, not reported, unless the post reads clearly negative
        self.asking = sentiment >= RHETORICAL
        self.brands = brands
        self._breaks: list[int] | None = None
        self._subjects: list[tuple[int, int, str]] | None = None

    def clause_start(self, pos: int) -> int:
        """Where the clause holding ``pos`` starts (what :func:`_clause_start` answers)."""
        if self._breaks is None:
            self._breaks = [m.end() for m in _CLAUSE_END.finditer(self.text)]
        k = bisect_right(self._breaks, pos) - 1
        return self._breaks[k] if k >= 0 else 0

    def stated(self, m: re.Match[str], category: str) -> bool:
        """``m`` states a problem of the post: not negated, not hypothetical, not asked, and about the brand,
        its product or its service (:meth:`about`)."""
        text, at = self.text, m.start()
        if _NEGATED.search(text, max(0, at - 4), at):
            return False
        clause = self.clause_start(at)
        if _HYPOTHETICAL.search(text, clause, at):
            return False
        if self.asking and _ASKED.match(text, m.end()):
            return False
        return self.about(m.end(), category, clause)

    def about(self, end: int, category: str, clause: int) -> bool:
        """The nearest subject named before ``end`` (inside the problem's words included) is a product or
        service of the kind a brand is complained about; no subject at all means the post's own topic."""
        if self._subjects is None:
            self._subjects = [(m.start(), m.end(), _subject_kind(m[0])) for m in _SUBJECT.finditer(self.text)]
        nearest = None
        for subject in self._subjects:
            if subject[0] >= end:
                break
            if subject[2] != "tag":
                nearest = subject
        if nearest is None or nearest[2] == "own":
            return True
        if category in _FAULTS and nearest[1] <= clause:  # a fault is a product's whatever came before it
            return True
        if nearest[2] == "life":
            return False
        # another business's service is not the brand's problem in a post that names the brand, unless the
        # brand is that business ("外卖" in a post about 美团外卖)
        word, lowered = self.text[nearest[0] : nearest[1]], self.text.lower()
        named = [b for b in self.brands if b in lowered]
        return not named or any(word in b for b in named)

    def refund(self, m: re.Match[str]) -> bool:
        """A delay or a thing not arrived whose subject is money ("申请退款5天了还没到账")."""
        return bool(_MONEY.search(self.text, self.clause_start(m.start()), m.start()))


def _problem(post: _Post, negative: bool) -> str:
    """The first category with a stated problem; a logistics delay whose subject is money files as a refund."""
    text, refund = post.text, False
    for cat, (stated, weak) in _COMPILED.items():
        if cat == "物流/配送":
            for m in chain(stated.finditer(text), weak.finditer(text) if negative else ()):
                if post.stated(m, cat):
                    if not post.refund(m):
                        return cat
                    refund = True
            continue
        if any(post.stated(m, cat) for m in stated.finditer(text)):
            return cat
        if negative and any(post.stated(m, cat) for m in weak.finditer(text)):
            return cat
        if refund and cat == "退款/售后":
            return cat
    return ""


_PARTICLES = ("吗", "么", "呢", "多久", "哪里", "什么", "怎么", "是否", "几")
_QUESTION_MARKS = "？?~～"


def is_question(text: str) -> bool:
    """The text ends in a question (a trailing question mark or question particle).

    What ``_QUESTION.search`` answers, read from the end of the text instead of tried at every position:
    the last character before trailing whitespace is a question mark, or a particle precedes the
    trailing run of question marks and tildes.
    """
    core = text.rstrip()
    return core.endswith(("？", "?")) or core.rstrip(_QUESTION_MARKS).endswith(_PARTICLES)


def detect_complaints(
    texts: Sequence[str], sentiment: np.ndarray, subjects: Sequence[str] = ()
) -> tuple[np.ndarray, list[str]]:
    """``(is_complaint, category)`` per text, given calibrated P(positive) from the sentiment model.

    ``subjects``: the names of the monitored brands (brand names, aliases, product names). In a post that
    names one, a problem with another business's service ("#星阅新品# 外卖还送错了") is no complaint: the
    post is counted for the brand, the problem is not the brand's.
    """
    flags = np.zeros(len(texts), dtype=bool)
    cats: list[str] = []
    lowered_subjects = [t.lower() for t in subjects if t]
    for i, text in enumerate(texts):
        if not _ANY.search(text):
            cats.append("")
            continue
        negative = bool(sentiment[i] < NEGATIVE)
        post = _Post(text, float(sentiment[i]), lowered_subjects)
        grievance = any(post.stated(m, "其他") for m in _GRIEVANCE.finditer(text))
        if grievance:  # a grievance word makes a question rhetorical
            post.asking = False
        cat = _problem(post, negative)
        if cat and post.asking and is_question(text):  # a post ending in a question asks about what it names
            cat = ""
        if cat:
            flags[i] = True
            cats.append(cat)
        elif grievance and negative:
            flags[i] = True
            cats.append("其他")
        else:
            cats.append("")
    return flags, cats
