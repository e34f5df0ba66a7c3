"""English question words → Chinese candidates from CC-CEDICT (qa.translate)."""

from __future__ import annotations

from core.text import tokenize
from qa.retrieve import keyword_tokens
from qa.translate import names, translate


def test_words_and_phrases_become_chinese_candidates() -> None:
    concepts = {c.english: c.chinese for c in translate("How much did the company's capital increase reach?")}
    assert "增资" in concepts["capital increase"]  # the longest dictionary phrase wins
    assert "公司" in concepts["company's"]


def test_plural_and_inflected_words_find_their_gloss() -> None:
    concepts = {c.english: c.chinese for c in translate("Which enterprises received subsidies?")}
    assert "企业" in concepts["enterprises"]
    assert "补贴" in concepts["subsidies"]


def test_stopwords_and_numbers_are_not_translated() -> None:
    assert translate("How many were there in 2023?") == ()


def test_candidates_are_words_most_common_first() -> None:
    (patent,) = translate("patent")
    assert patent.chinese[0] == "专利" and all(len(w) >= 2 for w in patent.chinese)


def test_bm25_matches_an_english_question_through_its_translations() -> None:
    assert "专利" in keyword_tokens("How many patents were granted?")
    assert keyword_tokens("我国有多少专利？") == tokenize("我国有多少专利？")  # Chinese: the index's own tokens


def test_a_place_whose_gloss_buries_its_name_is_translated() -> None:
    # CC-CEDICT glosses 上海 as "Shanghai municipality, central east China, abbr. to 滬|沪[Hu4]".
    (shanghai,) = translate("Shanghai")
    assert shanghai.chinese[0] == "上海"


def test_names_are_whole_runs_of_capitalised_words_that_the_dictionary_names() -> None:
    found = {c.english: c.chinese for c in names("What was Hunan's trade with ASEAN, and Alibaba's revenue?")}
    assert found["hunan's"][0] == "湖南" and "东盟" in found["asean"] and found["alibaba's"] == ("阿里巴巴",)
    # Part of a longer name, a person in pinyin, a common word or a stopword is not a name to require.
    assert names("When did it list on the Beijing Stock Exchange?") == ()
    assert names("How much did Li Changjiang raise?") == ()
    assert names("According to the report, what share went to Apple in June?") == ()
    assert names("How much did China export?") == ()
