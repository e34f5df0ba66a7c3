"""What a question demands: numbers, units, answer kinds, key terms and their coverage."""

from __future__ import annotations

import pytest

from qa.terms import (
    QuestionAnalysis,
    Term,
    analyze,
    char_bigrams,
    coverage,
    focus_missing,
    key_missing,
    number_forms,
    numbers_missing,
    question_numbers,
    required_missing,
    synonyms,
    typed_answer,
)


@pytest.mark.parametrize("text", ["5200万", "5,200万", "５２００万", "５，２００万户", "超过5200万户。"])
def test_number_forms_one_spelling_for_every_writing(text: str) -> None:
    assert number_forms(text) == {"5200", "5200万", "=52000000"}


def test_number_forms_magnitudes_compare_by_value() -> None:
    assert "=122000000" in number_forms("1.22亿户") & number_forms("12200万户")
    assert number_forms("46.50万家") == {"46.5", "46.5万", "=465000"}
    assert number_forms("2023年10月，70%以上") == {"2023", "10", "70", "70%"}


def test_number_forms_keep_grouped_digits_apart_from_lists() -> None:
    assert number_forms("1,234,567元") == {"1234567"}
    assert number_forms("第1，2，3名") == {"1", "2", "3"}


def test_question_numbers_are_the_most_specific_form() -> None:
    assert question_numbers("我国中小微企业是不是超过5,200万户？") == ("=52000000",)
    assert question_numbers("截至2023年9月底有多少户？") == ("2023", "9")
    assert question_numbers("增长了3.50%吗") == ("3.5%",)


def test_numbers_missing_finds_the_year_that_is_not_there() -> None:
    analysis = analyze("2022年全国个体工商户有多少户？")
    assert analysis.numbers == ("2022",)
    assert numbers_missing(analysis, "截至2023年9月底，全国个体工商户达到1.22亿户。") == ("2022",)
    assert numbers_missing(analysis, "2022年底，全国个体工商户1.14亿户。") == ()


def test_numbers_missing_compares_magnitudes_by_value() -> None:
    analysis = analyze("中小微企业是否超过5200万户？")
    assert numbers_missing(analysis, "中小微企业数量已超过５，２００万户") == ()
    assert numbers_missing(analysis, "中小微企业数量已超过52000000户") == ("=52000000",)


@pytest.mark.parametrize(
    ("question", "kind", "unit"),
    [
        ("祥符区高端装备制造产业园占地多少亩？", "number", "亩"),
        ("现在全国到底有多少家小微企业啊", "number", "家"),
        ("在祥符区租厂房一个月多少钱？", "number", "钱"),
        ("民营经济贡献了全社会多少比例的税收？", "number", "%"),
        ("王斌是第几届全国政协委员？", "number", "届"),
        ("创新型中小企业的数量是多少？", "number", ""),
        ("赛北机械设备股份有限公司是哪一年成立的？", "time", "年"),
        ("调研组是在哪个月开展这次调研的？", "time", "月"),
        ("《方案》是哪一天正式印发的？", "time", "日"),
        ("产业园啥时候能全部建好交付？", "time", ""),
        ("祥符区项目的项目经理是谁？", "person", ""),
        ("吸引了来自哪里的流量仪表企业？", "place", ""),
        ("为什么线下实体店的产品高度同质化？", "reason", ""),
        ("文章认为什么将逐步成为中国制造的品牌价值？", "other", ""),
        ("《方案》是由哪几个部门联合印发的？", "list", ""),
    ],
)
def test_answer_kind_and_unit(question: str, kind: str, unit: str) -> None:
    analysis = analyze(question)
    assert (analysis.answer_type, analysis.unit) == (kind, unit)


def test_kind_and_unit_come_from_the_first_question_asked() -> None:
    analysis = analyze("我国专精特新中小企业有多少家？民营经济又涵盖了多大比例的“小巨人”企业？")
    assert (analysis.answer_type, analysis.unit) == ("number", "家")


def test_question_words_are_not_terms() -> None:
    terms = [t.text for t in analyze("现在全国到底有多少家小微企业啊").terms]
    assert terms == ["全国", "小微", "企业"]  # not 家小 (多少家|小微) nor 到底/多少
    assert "认为" not in [t.text for t in analyze("王斌认为要打破哪些“门”？").terms]
    assert "担任" not in [t.text for t in analyze("王斌在中国中小企业协会担任什么职务？").terms]  # 协会副会长王斌


def test_terms_are_weighted_by_idf() -> None:
    weights = {t.text: t.weight for t in analyze("开封精特仪表科技有限公司的注册资本是多少？").terms}
    assert weights["注册资本"] > weights["有限公司"]
    assert max(weights.values()) <= 12.0


def test_key_is_the_noun_whose_value_is_asked() -> None:
    assert analyze("开封精特仪表科技有限公司的注册资本是多少？").key == ("注册资本",)
    assert analyze("祥符区流量仪表产业园目前的年产值是多少？").key == ("年产值",)
    assert analyze("王斌在中国中小企业协会担任什么职务？").key == ("协会",)  # 职务 names the kind of answer


def test_english_questions_check_years_only() -> None:
    analysis = analyze("What is the total investment of the 16 projects worth over 100 million yuan in 2023?")
    assert analysis.english
    assert analysis.numbers == ("2023",)


def _hand_made(*weighted: tuple[str, float, tuple[str, ...]]) -> QuestionAnalysis:
    terms = tuple(Term(text, weight, parts) for text, weight, parts in weighted)
    return QuestionAnalysis("问题", terms, (), "other", False)


def test_coverage_exact_shares() -> None:
    analysis = _hand_made(("注册资本", 8.0, ("注册", "资本")), ("公司", 4.0, ()), ("亩", 2.0, ()))
    full = coverage(analysis, "该公司注册资本为1000万元，占地20亩")
    assert (full.share, full.worst, full.missing, full.share_multi) == (1.0, 0.0, (), 1.0)
    none = coverage(analysis, "无关内容")
    assert (none.share, none.worst, none.missing, none.share_multi) == (0.0, 8.0, ("注册资本", "公司", "亩"), 0.0)


def test_coverage_gives_partial_credit_to_the_parts_of_a_compound() -> None:
    analysis = _hand_made(("注册资本", 8.0, ("注册", "资本")), ("公司", 4.0, ()))
    half = coverage(analysis, "公司的资本")  # one of two parts: 0.8 × 1/2 of 注册资本's weight
    assert half.share == pytest.approx((8.0 * 0.4 + 4.0) / 12.0)
    assert half.missing == ("注册资本",)
    assert half.worst == pytest.approx(8.0 * 0.6)
    both = coverage(analysis, "注册的资本，公司")
    assert both.share == pytest.approx((8.0 * 0.8 + 4.0) / 12.0)
    assert both.missing == ()


def test_coverage_normalises_width_and_script() -> None:
    analysis = _hand_made(("产业园", 9.0, ()), ("5g", 5.0, ()))
    assert coverage(analysis, "產業園的５Ｇ网络").share == 1.0


@pytest.mark.parametrize(
    ("question", "text", "expected"),
    [
        ("产业园占地多少亩？", "项目占地120亩。", True),
        ("产业园占地多少亩？", "共有3栋楼已经封顶。", False),
        ("产业园有多少名工人？", "80多名工人分布在各个作业面", True),
        ("原有多少家企业？", "原有流量仪表企业40余家", True),
        ("有多少家企业？", "达到1.22亿户", True),
        ("计划投资多少钱？", "计划投资1.2万元", True),
        ("提出要处理好多少大关系？", "处理好十大关系", True),
        ("贡献了多少比例的税收？", "贡献了70%以上的技术创新成果", True),
        ("贡献了多少比例的税收？", "贡献了大量税收", False),
        ("是哪一年开工的？", "3月12日开工", False),
        ("是哪一年开工的？", "2023年开工", True),
        ("项目经理是谁？", "项目经理刘道洪向记者介绍说", True),
        ("项目经理是谁？", "目前12栋楼已经封顶", False),
        ("有多少栋楼已经封顶？", "一栋栋现代化标准厂房拔地而起", False),
        ("有多少栋楼已经封顶？", "目前12栋楼已经封顶", True),
        ("为什么同质化？", "创业门槛不高", None),
    ],
)
def test_typed_answer(question: str, text: str, expected: bool | None) -> None:
    assert typed_answer(analyze(question), text) is expected


def test_focus_missing_lists_absent_key_nouns() -> None:
    analysis = analyze("开封精特仪表科技有限公司的注册资本是多少？")
    assert focus_missing(analysis, "开封精特仪表科技有限公司明确达成入驻意向", "key") == ("注册资本",)
    assert focus_missing(analysis, "该公司注册资本5000万元", "key") == ()


def test_char_bigrams_stay_within_runs() -> None:
    assert char_bigrams("专利，转化") == frozenset({"专利", "转化"})


@pytest.mark.parametrize(
    ("question", "required"),
    [
        ("我国目前一共有多少家专精特新“小巨人”企业？", ("小巨人",)),  # quoted: verbatim
        ("天津市登记在册的个体工商户有多少户？", ("天津市", "登记在册")),  # a place; the attribute of 工商户
        ("2023年全国新设立的个体工商户有多少户？", ("设立",)),
        ("孙太利认为立与破分别对应什么逻辑？", ("孙太利",)),  # a person
        ("天津市工商联调研组走访了哪些类型的线下实体店？", ("天津市",)),  # 类型 names the answer's kind
        ("我国中小微企业数量有多少？", ()),
    ],
)
def test_required_phrases(question: str, required: tuple[str, ...]) -> None:
    assert analyze(question).required == required


def test_required_missing_checks_verbatim_and_accepts_a_place_without_its_suffix() -> None:
    analysis = analyze("天津市登记在册的个体工商户有多少户？")
    assert required_missing(analysis, "全国登记在册的个体工商户达到1.22亿户") == ("天津市",)
    assert required_missing(analysis, "天津登记在册的个体工商户有100万户") == ()
    quoted = analyze("我国目前一共有多少家专精特新“小巨人”企业？")
    assert required_missing(quoted, "专精特新中小企业10.3万家") == ("小巨人",)


def test_a_deputy_title_is_not_the_title() -> None:
    analysis = analyze("中国中小企业协会的会长是谁？")
    assert "会长" in coverage(analysis, "中国中小企业协会副会长王斌表示").missing
    assert "会长" not in coverage(analysis, "中国中小企业协会会长某某表示").missing
    assert coverage(analyze("协会的副会长是谁？"), "协会副会长王斌").missing == ()


def test_predicate_and_clause() -> None:
    analysis = analyze("祥符区那个高端装备产业园啥时候能全部建好交付？")
    assert "交付" in analysis.predicate
    said = analyze("国家知识产权局有关负责人认为，相当一部分中小企业存在什么问题？")
    assert "存在" in said.clause and "国家知识产权局" not in said.clause


def test_the_answer_kind_comes_from_the_clause_that_asks() -> None:
    # 几个 in a statement means "a few"; the question is 有啥 (= 有什么) at the end
    analysis = analyze("我们公司手里有几个专利，想找钱搞产业化，国家有啥融资路子？")
    assert (analysis.answer_type, analysis.unit) == ("list", "")
    assert analyze("截至2023年9月底，全国有多少户个体工商户？").unit == "户"


def test_function_words_are_not_terms() -> None:
    # stopwords-iso's Chinese list: 跟, 除了, 还有 say nothing a passage must contain
    terms = [t.text for t in analyze("这版报纸中，除了中小企业，还有什么主体被比作中国经济的“毛细血管”？").terms]
    assert "除了" not in terms and "还有" not in terms
    assert {"中小企业", "主体", "毛细血管"} <= set(terms)


def test_a_term_found_only_as_a_synonym_gets_partial_credit() -> None:
    assert "存款" in synonyms("储蓄") and "途径" in synonyms("路子")
    assert synonyms("存") == frozenset()  # single characters are too ambiguous
    analysis = _hand_made(("储蓄", 6.0, ()), ("居民", 6.0, ()))
    found = coverage(analysis, "居民存款新增16.67万亿")
    assert found.share == pytest.approx((6.0 * 0.8 + 6.0) / 12.0)
    assert found.missing == ()
    assert coverage(analysis, "居民消费").missing == ("储蓄",)


def test_where_the_reader_saw_it_does_not_cut_the_name() -> None:
    analysis = analyze("孙太利文中，立与破的关系和速度与质量的关系各自的核心论断是什么？")
    assert analysis.required == ("孙太利",)  # not 孙太 / 利文
    assert "利文" not in [t.text for t in analysis.terms]


def test_a_question_word_before_a_noun_asks_about_that_noun() -> None:
    # 对应什么逻辑: 逻辑 is asked about; 对应 is the verb
    assert analyze("孙太利认为立与破分别对应什么逻辑？").key == ("逻辑",)
    assert analyze("听说开封祥符区在搞产业园，是哪个园区？").key == ("园区",)
    # 什么水平 names the kind of answer: the thing asked about is before it
    assert analyze("公司的注册资本是什么水平？").key == ("注册资本",)


def test_a_place_only_the_headline_names_is_missing_when_the_passage_is_national() -> None:
    analysis = analyze("天津市登记在册的个体工商户有多少户？")
    assert analysis.places == ("天津市",)
    national = "据国家统计局数据，全国登记在册的个体工商户达到1.22亿户。"
    assert required_missing(analysis, "天津市工商联调研提出\n" + national, national) == ("天津市",)
    local = "据统计，登记在册的个体工商户达到120万户。"
    assert required_missing(analysis, "天津市工商联调研提出\n" + local, local) == ()
    assert required_missing(analysis, "天津市" + national, "天津市" + national) == ()


def test_what_a_counted_question_is_about() -> None:
    # further on than the noun phrase after 多少人, 工作 is the object of what the counted did
    assert analyze("零工驿站运行以来，已经帮多少人成功匹配到工作？").key == ()
    assert {"装配式", "构件"} & set(analyze("惠州企业向香港供应了多少立方米的装配式构件？").key)  # after 的
    assert "财务指标" in analyze("《方案》设定的10个评价指标中有几个是财务指标？").key  # 是 links


def test_when_questions_ask_about_the_event_not_the_intent() -> None:
    assert analyze("计划到什么时候在全国认定百名乡村工匠大师？").key == ("全国",)  # not 计划
    analysis = analyze("东方电气集团是从哪一年开始定点帮扶凉山州昭觉县的？")
    assert "是从" not in [t.text for t in analysis.terms]  # 是 + 从 cut as one word


def test_a_narrower_place_implies_the_wider_one_before_it() -> None:
    analysis = analyze("山西清徐县的食醋年产量有多少？")
    assert analysis.places == ("山西", "清徐县")
    assert required_missing(analysis, "清徐县食醋年产量近80万吨") == ()
    assert required_missing(analysis, "山西老陈醋年产量很高") == ("清徐县",)  # the wider one does not imply it


def test_names_may_be_in_the_opening_of_the_article() -> None:
    analysis = analyze("青海格尔木市的零工驿站已经帮多少人匹配到工作？")
    passage = "统计显示，零工驿站运行以来，成功匹配就业54人。"
    opening = "中新网西宁8月17日电 记者17日从青海省格尔木市委宣传部获悉，该市创新打造首个零工驿站"
    assert required_missing(analysis, passage) == ("青海", "格尔木市")
    assert required_missing(analysis, passage, passage, opening) == ()
    assert coverage(analysis, passage, opening).share > coverage(analysis, passage).share
    assert "零工驿站" not in analysis.names  # a quoted phrase must be in the passage itself


def test_an_unknown_word_glued_to_a_function_character_is_cut_off_it() -> None:
    terms = [t.text for t in analyze("我想在郑州用公积金贷款买二手房，按新规首付最低要付多少比例？").terms]
    assert "新规" in terms and "按新规" not in terms
    assert "孙太利" in [t.text for t in analyze("孙太利认为立与破分别对应什么逻辑？").terms]  # a name stays whole


def test_a_year_may_be_in_the_opening_of_the_article() -> None:
    analysis = analyze("2023年上半年全国文化企业实现利润总额多少？")
    passage = "上半年，文化企业实现利润总额4785亿元。"
    assert numbers_missing(analysis, passage) == ("2023",)
    assert numbers_missing(analysis, passage, "2023-07-30，正文：国家统计局今天发布") == ()
    amount = analyze("利润总额超过4000亿元的有几个行业？")  # an amount must be in the passage itself
    assert numbers_missing(amount, passage, "利润总额超过4000亿元") == ("=400000000000",)


def test_an_a_not_a_question_asks_about_its_a() -> None:
    words = {t.text for t in analyze("我开个小饭馆，跟外卖平台合作到底划不划算？").terms}
    assert "划算" in words and not {"划", "不划算"} & words
    assert "靠谱" in analyze("这个项目靠不靠谱？").question


def test_a_time_jieba_tags_as_a_name_is_not_required() -> None:
    a = analyze("今年夏天南京天加发往北欧的冷却设备为什么卖得好？")
    assert "今年夏天" not in a.required and "天加" in a.required


@pytest.mark.parametrize(
    ("question", "text", "missing"),
    [
        ("听说祥符区在搞产业园，是哪个园区？", "依托行业协会建立流量仪表产业园。", ()),
        ("在哪个场馆办？", "在中国进出口商品交易会展馆A区举办。", ()),
        ("在哪个场馆办？", "在祥符区举办。", ("场馆",)),
        ("项目是哪一年开工建设的？", "工人抢抓工时。", ("开工",)),  # an event's year: 开工 is no kind of thing
    ],
)
def test_a_kind_asked_for_is_found_as_the_name_of_one(question: str, text: str, missing: tuple[str, ...]) -> None:
    assert set(missing) <= set(key_missing(analyze(question), text))
    if not missing:
        assert key_missing(analyze(question), text) == ()


@pytest.mark.parametrize(
    ("question", "kind", "unit"),
    [
        ("What share of OLED panel shipments went to Apple in Q2 2023?", "number", "%"),
        ("How much revenue did State Grid report?", "number", "钱"),
        ("How many car dealerships are there in Xianghuaqiao?", "number", "家"),
        ("At what price per share did he buy?", "number", "钱"),  # 8.92港元/股: per share is no percentage
        ("Which company had the highest net profit margin?", "other", ""),  # a name is asked for
        ("By how much did the sales grow?", "number", ""),  # growth: 增长50% or 增加3亿元
    ],
)
def test_an_english_question_demands_the_unit_its_answer_is_written_in(question: str, kind: str, unit: str) -> None:
    a = analyze(question)
    assert (a.answer_type, a.unit) == (kind, unit)


def test_an_english_question_is_covered_through_its_translations() -> None:
    a = analyze("How much did the registered capital of the semiconductor company increase?")
    assert a.english and all(t.translations for t in a.terms)
    assert coverage(a, "润鹏半导体注册资本将增加至150亿元").share > coverage(a, "今年夏天气温很高").share
    assert coverage(a, "今年夏天气温很高").share == 0.0


def test_the_askers_own_situation_costs_less_when_the_story_does_not_say_it() -> None:
    from dataclasses import replace

    from qa.terms import PREAMBLE_SOFT

    analysis = analyze("我在宁夏开厂，今年招了个应届大学生，企业能领多少一次性扩岗补助？")
    soft = {t.text for t in analysis.terms if t.soft == PREAMBLE_SOFT}
    assert {"开厂", "应届"} <= soft and not soft & {"宁夏", "企业", "扩岗", "补助"}  # names and the asking clause count
    passage = "宁夏出台新政：企业招用高校毕业生，可按每人1500元领取一次性扩岗补助。"
    plain = replace(analysis, terms=tuple(replace(t, soft=1.0) for t in analysis.terms))
    assert coverage(analysis, passage).share > coverage(plain, passage).share
    # Found, such a term counts in full; without a first-person opening nothing is softened.
    assert coverage(analysis, passage + "开厂应届今年招大学生").share == pytest.approx(1.0)
    assert all(t.soft == 1.0 for t in analyze("宁夏今年招了应届大学生的企业能领多少一次性扩岗补助？").terms)


def test_a_verb_or_determiner_with_ge_is_no_term_but_single_is() -> None:
    words = {t.text for t in analyze("我开个小饭馆，跟外卖平台合作到底划不划算？").terms}
    assert "开个" not in words and "饭馆" in words
    assert "每个" not in {t.text for t in analyze("新增居民存款平均到每个人是多少钱？").terms}
    assert "单个" in {t.text for t in analyze("北京对单个企业的技术改造项目最多补贴多少钱？").terms}


def test_a_verdict_the_story_does_not_state_costs_less() -> None:
    from qa.terms import PREAMBLE_SOFT

    analysis = analyze("加盟个品牌开店靠谱吗，有啥坑？")
    terms = {t.text: t for t in analysis.terms}
    assert "靠谱" in terms and "谱" not in terms  # the cutter's 靠 / 谱 joined again
    assert terms["靠谱"].soft == terms["坑"].soft == PREAMBLE_SOFT and terms["品牌"].soft == 1.0
    passage = "加盟品牌开店，初期须支付不菲的加盟费。"
    assert coverage(analysis, passage).share > 0.6
    assert coverage(analysis, passage + "很靠谱，没有坑。").share == pytest.approx(1.0)
    likened = {t.text: t for t in analyze("还有什么主体被比作中国经济的“毛细血管”？").terms}
    assert likened["比作"].soft == PREAMBLE_SOFT and likened["毛细血管"].soft == 1.0


@pytest.mark.parametrize(
    ("question", "text", "expected"),
    [
        ("2023年新增居民存款平均到每个人大约是多少钱？", "其中居民存款新增16.67万亿。", False),  # a total
        ("2023年新增居民存款平均到每个人大约是多少钱？", "16.67万亿相当于14亿人，每人存了1.2万。", True),
        ("沙特把每日多少桶的减产计划延长到9月底？", "自愿减产100万桶/日的协议将再延长一个月。", True),
        ("车站每天有几班往返班次？", "一天只有8班固定往返班次。", True),
        ("土地出让起始价是多少万元？", "起始价为120万元。", True),  # no figure per unit asked
    ],
)
def test_a_figure_per_unit_is_answered_by_one(question: str, text: str, expected: bool) -> None:
    assert typed_answer(analyze(question), text) is expected


def test_a_government_is_named_with_or_without_renmin_and_its_place_apart() -> None:
    analysis = analyze("上海市政府常务会议原则同意了哪份新版工作规则？")
    assert "上海市政府" in analysis.required
    assert required_missing(analysis, "会议原则同意新版《上海市人民政府工作规则》") == ()
    assert required_missing(analysis, "上海市市长龚正今天主持召开市政府常务会议") == ()
    assert required_missing(analysis, "北京市市长今天主持召开市政府常务会议") == ("上海市政府",)
    assert required_missing(analysis, "上海市总工会今天召开会议") == ("上海市政府",)


def test_a_verb_jieba_tags_as_a_place_is_not_required() -> None:
    a = analyze("我在格尔木打零工，听说新建了个零工驿站，还能享受哪些免费服务？")
    assert "格尔木" in a.required and "新建" not in a.required  # 新建 is also a county in Jiangxi
    assert "新建" in analyze("江西新建区今年的GDP是多少？").required


def test_an_amount_of_the_askers_situation_may_be_covered_by_a_range() -> None:
    from decimal import Decimal

    from qa.terms import amount_ranges

    rule = "补贴标准参考10万至20万元每辆补贴3000元、20万元以上每辆补贴6000元执行。"
    assert amount_ranges(rule) == [(Decimal(100000), Decimal(200000)), (Decimal(200000), None)]
    assert amount_ranges("年应纳税所得额不超过300万元的小微企业") == [(None, Decimal(3000000))]
    covered = analyze("我在山东，想换一辆25万元的新车，按以旧换新政策能领多少补贴？")
    assert covered.own_amounts == ("=250000",) and numbers_missing(covered, rule) == ()
    outside = analyze("我在山东，想换一辆8万元的新车，按以旧换新政策能领多少补贴？")
    assert numbers_missing(outside, rule) == ("=80000",)
    # An amount the question asks about (not the asker's own) must be there as it is.
    bound = analyze("山东25万元以上的新车每辆补贴多少？")
    assert bound.own_amounts == () and numbers_missing(bound, rule) == ("=250000",)


def test_dates_and_counts_are_no_ranges_of_amounts() -> None:
    from qa.terms import amount_ranges

    assert amount_ranges("1-5月，2020-2025年间，共10至20人参加，30人以上的团") == []
