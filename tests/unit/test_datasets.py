"""The benchmark adapters on slices of the real files in shared/data, and the RGB fixture.

The corpus each adapter writes goes through the real cleaner and chunker
here: every evidence quote must land whole inside one passage.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.settings import Settings
from eval.datasets import (
    CorpusDocument,
    Dataset,
    cleaner_problems,
    crud_rag_documents,
    crud_rag_references,
    detect_format,
    load_dataset,
    load_rgb,
    load_squad,
    spread,
    write_corpus,
)
from eval.scoring import contains, hit_rank, match_key
from ingest.chunk import chunk_document
from ingest.load import load_document

ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = ROOT.parent / "shared" / "data"
RGB_SAMPLE = ROOT / "tests" / "data" / "rgb_sample.jsonl"


def shared(relative: str) -> Path:
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.fail(
            f"共享评测数据缺失：{path}。这些测试读取 shared/data 中的真实文件（CMRC2018、DRCD、DuReader-checklist、"
            "CRUD-RAG），请把 shared/ 放在仓库旁边（../shared/data）后再运行。"
        )
    return path


def passages_of(dataset: Dataset, folder: Path) -> list[str]:
    write_corpus(dataset.documents, folder)
    settings = Settings()
    texts: list[str] = []
    for f in sorted(folder.glob("*.txt")):
        doc = load_document(f)
        texts += [p.text for p in chunk_document(doc, settings.max_passage_chars, settings.min_passage_chars)]
    return texts


def assert_evidence_lands_in_one_passage(dataset: Dataset, folder: Path) -> None:
    passages = passages_of(dataset, folder)
    for q in dataset.questions:
        if q.answerable:
            assert q.evidence, q.id
            assert hit_rank(q, passages) is not None, (q.id, q.evidence)


@pytest.mark.parametrize(
    "relative", ["cmrc2018/cmrc2018_dev.json", "drcd/DRCD_dev.json", "dureader_checklist/dev.json"]
)
def test_squad_slices_keep_answers_in_their_evidence(relative: str, tmp_path: Path) -> None:
    dataset = load_squad(shared(relative), limit=25)
    assert len(dataset.questions) == 25
    assert len({q.id for q in dataset.questions}) == 25
    assert 1 <= len(dataset.documents) <= 25
    assert not cleaner_problems(dataset.documents)
    corpus = match_key("".join(d.text for d in dataset.documents))
    for q in dataset.questions:
        if not q.answerable:
            assert q.answers == () and q.evidence == (), q.id
            continue
        assert q.answers and q.evidence, q.id
        for quote in q.evidence:
            assert match_key(quote) in corpus, (q.id, quote)
            assert any(contains(quote, a) for a in q.answers), (q.id, quote, q.answers)
    assert_evidence_lands_in_one_passage(dataset, tmp_path / "corpus")


def test_squad_evidence_is_the_sentence_of_the_answer_span() -> None:
    raw = json.loads(shared("cmrc2018/cmrc2018_dev.json").read_text("utf-8"))
    first = raw["data"][0]["paragraphs"][0]
    q = load_squad(shared("cmrc2018/cmrc2018_dev.json"), limit=1).questions[0]
    assert q.id == first["qas"][0]["id"] == "DEV_0_QUERY_0"
    assert q.answers == ("光荣和ω-force",)
    assert q.evidence == ("《战国无双3》（）是由光荣和ω-force开发的战国无双系列的正统第三续作。",)
    assert q.evidence[0] in first["context"]


def test_dureader_impossible_questions_are_unanswerable() -> None:
    path = shared("dureader_checklist/dev.json")
    raw = json.loads(path.read_text("utf-8"))
    impossible = {qa["id"]: qa["is_impossible"] for a in raw["data"] for p in a["paragraphs"] for qa in p["qas"]}
    dataset = load_squad(path, limit=60)
    kinds = {q.answerable for q in dataset.questions}
    assert kinds == {True, False}  # the spread reaches both parts of the file
    for q in dataset.questions:
        assert q.answerable is not impossible[q.id]


def test_drcd_stays_in_traditional_characters() -> None:
    dataset = load_squad(shared("drcd/DRCD_dev.json"), limit=3)
    assert "歐洲" in dataset.questions[0].answers
    assert "在歐洲，梵語的學術研究" in dataset.documents[0].text


def test_limit_spreads_over_the_file_and_all_contexts_indexes_every_paragraph() -> None:
    path = shared("cmrc2018/cmrc2018_dev.json")
    whole = load_squad(path)
    assert len(whole.questions) == 3219 and len(whole.documents) == 848
    some = load_squad(path, limit=4)
    assert [q.id for q in some.questions] == [whole.questions[i * 3219 // 4].id for i in range(4)]
    assert len(load_squad(path, limit=4, all_contexts=True).documents) == 848


def test_distractors_are_distinct_crud_rag_news(tmp_path: Path) -> None:
    directory = shared("crud_rag/80000_docs")
    docs = crud_rag_documents(7, directory)
    assert len(docs) == 7 and len({d.name for d in docs}) == 7 and len({d.text for d in docs}) == 7
    assert all(d.name.startswith("crud_") and len(d.text) > 40 for d in docs)
    assert not cleaner_problems(docs)
    dataset = load_squad(shared("cmrc2018/cmrc2018_dev.json"), limit=3, distractors=7, distractor_dir=directory)
    assert sum(d.name.startswith("crud_") for d in dataset.documents) == 7
    assert sum(d.name.startswith("ctx_") for d in dataset.documents) == 3
    assert len(passages_of(dataset, tmp_path / "c")) >= 10


def test_rgb_sample_adapter() -> None:
    dataset = load_rgb(RGB_SAMPLE)
    assert [q.id for q in dataset.questions] == ["0", "1", "2", "3", "4"]
    assert dataset.scopes is not None
    by_id = {q.id: q for q in dataset.questions}
    assert by_id["1"].required == (("16.67万亿", "16.67万亿元"),)
    assert by_id["2"].required == (("1.81亿",), ("1.22亿",))
    raw = [json.loads(line) for line in RGB_SAMPLE.read_text("utf-8").splitlines()]
    for item in raw:
        q = by_id[str(item["id"])]
        assert q.answerable and q.evidence
        assert all(any(e in p for p in item["positive"]) for e in q.evidence)
        # the fixture itself: negatives never hold an answer
        for neg in item["negative"]:
            assert not any(contains(neg, a) for a in q.answers), (q.id, neg)
        assert len(dataset.scopes[q.id]) == len(item["positive"]) + len(item["negative"])
    names = {d.name for d in dataset.documents}
    assert set().union(*dataset.scopes.values()) == names
    assert not cleaner_problems(dataset.documents)


def test_rgb_negative_only_indexes_only_negatives() -> None:
    dataset = load_rgb(RGB_SAMPLE, negative_only=True)
    raw = {str(item["id"]): item for item in map(json.loads, RGB_SAMPLE.read_text("utf-8").splitlines())}
    texts = {d.name: d.text for d in dataset.documents}
    assert dataset.scopes is not None
    for q in dataset.questions:
        assert not q.answerable and q.answers == () and q.evidence == ()
        scoped = [texts[n].strip() for n in dataset.scopes[q.id]]
        assert sorted(scoped) == sorted(raw[q.id]["negative"])


def test_detect_format_and_load_dataset(tmp_path: Path) -> None:
    assert detect_format(shared("drcd/DRCD_dev.json")) == "squad"
    assert detect_format(RGB_SAMPLE) == "rgb"
    assert detect_format(ROOT / "eval" / "seed_questions.jsonl") == "jsonl"
    seeds = load_dataset(ROOT / "eval" / "seed_questions.jsonl", limit=12)
    assert len(seeds.questions) == 12 and seeds.folders == [ROOT / "seeds"] and not seeds.documents
    assert {q.answerable for q in seeds.questions} == {True, False}
    with pytest.raises(Exception, match="distractors"):
        load_dataset(RGB_SAMPLE, distractors=2)


def test_write_corpus_replaces_files_of_an_earlier_run(tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    write_corpus([CorpusDocument("a.txt", "甲。\n"), CorpusDocument("b.txt", "乙。\n")], folder)
    write_corpus([CorpusDocument("b.txt", "乙。\n"), CorpusDocument("c.txt", "丙。\n")], folder)
    assert sorted(p.name for p in folder.iterdir()) == ["b.txt", "c.txt"]


def test_cleaner_problems_flags_text_the_cleaner_takes_for_a_heading() -> None:
    # a short line without punctuation before a paragraph becomes the title, not indexed text
    heading_like = CorpusDocument("short.txt", "短行没有标点\n\n数据显示，我国中小微企业数量已超过5200万户。\n")
    byline = CorpusDocument("byline.txt", "数据显示，我国中小微企业数量已超过5200万户。\n\n本报记者 孙琳\n")
    body = CorpusDocument("body.txt", "# 标题\n\n数据显示，我国中小微企业数量已超过5200万户。\n")
    assert cleaner_problems([heading_like, byline, body]) == ["short.txt", "byline.txt"]


def test_spread() -> None:
    assert spread(list(range(10)), 3) == [0, 3, 6]
    assert spread(list(range(3)), 5) == [0, 1, 2]
    assert spread(list(range(3)), None) == [0, 1, 2]


def test_a_question_set_on_crud_rag_news_indexes_the_documents_it_names(tmp_path: Path) -> None:
    import gzip

    directory = shared("crud_rag/80000_docs")
    part = "documents_dup_part_1_part_1.gz"
    with gzip.open(directory / part, "rt", encoding="utf-8") as f:
        lines = [line.strip() for _, line in zip(range(3), f, strict=False)]
    fact = lines[2][lines[2].index("正文：") + 3 :][:20]
    questions = tmp_path / "news.jsonl"
    rows = [
        {
            "id": "n1",
            "question": "问一",
            "answerable": True,
            "answers": [fact[:6]],
            "evidence": [fact],
            "doc": f"{part}:3",
        },
        {"id": "n2", "question": "问二", "answerable": False, "doc": f"{part}:1"},
        {"id": "n3", "question": "问三", "answerable": False, "doc": f"{part}:3"},
    ]
    questions.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    dataset = load_dataset(questions, distractor_dir=directory)
    assert not dataset.folders and len(dataset.documents) == 2  # lines 3 and 1, once each
    assert [d.text.strip() for d in dataset.documents] == [lines[2], lines[0]]
    assert_evidence_lands_in_one_passage(dataset, tmp_path / "c")
    with_news = load_dataset(questions, distractors=3, distractor_dir=directory)
    names = [d.name for d in with_news.documents]
    assert names[:2] == [d.name for d in dataset.documents] and len(names) == len(set(names)) >= 4
    with pytest.raises(Exception, match="没有这些行"):
        crud_rag_references([f"{part}:99999999"], directory)
    with pytest.raises(Exception, match="文件名:行号"):
        crud_rag_references(["no-line-number"], directory)


def test_ids_keeps_one_split_of_a_shared_file_among_the_whole_files_documents() -> None:
    path = ROOT / "eval" / "news_dev_questions.jsonl"
    whole = load_dataset(path, distractor_dir=shared("crud_rag/80000_docs"))
    split = load_dataset(path, distractor_dir=shared("crud_rag/80000_docs"), ids="news-a-")
    assert split.questions and all(q.id.startswith("news-a-") for q in split.questions)
    assert len(split.questions) < len(whole.questions)
    assert {d.name for d in split.documents} == {d.name for d in whole.documents}
    with pytest.raises(Exception, match="news-z-"):
        load_dataset(path, distractor_dir=shared("crud_rag/80000_docs"), ids="news-z-")
    with pytest.raises(Exception, match="--ids"):
        load_dataset(RGB_SAMPLE, ids="x")


def test_buckets_take_the_same_articles_as_the_data_roles() -> None:
    from learn.sources import SOURCES, squad_items

    test = next(s for s in SOURCES if s.name == "dureader-test")
    dataset = load_squad(shared("dureader_checklist/dev.json"), buckets=(test.buckets[0], test.buckets[1] - 1))
    ids = {q.id for q in dataset.questions}
    assert ids and ids == {item.qid for item in squad_items(test)}
    val = next(s for s in SOURCES if s.name == "dureader-val")
    assert not ids & {item.qid for item in squad_items(val)}
