"""``python -m learn train-reader``: train the reader and the gate, calibrate, report, write the artefact.

1. Cases (``learn.cases``) from every train and validation source.
2. The reader: LightGBM LambdaRank over the sentence rows of each train case whose
   passages hold the answer (label: the sentence holds an answer text; one group
   per question), early-stopped on validation rows.
3. The gate: LightGBM on one row per case (``qa.gate.gate_features``), with the
   reader's probabilities on train cases taken out of fold (3 folds), so the gate
   learns from the reader as it behaves on unseen questions; early-stopped on
   validation, then calibrated there (isotonic) and its threshold chosen there
   (the best balanced accuracy).
4. Validation figures against the zero-shot e5 baseline, what each ``strictness`` does
   there (``strictness_curve``), and an ablation of each hand-written feature group
   (``ABLATIONS``); all in ``eval/train_reader.{json,md}``.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import platform
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from learn.cases import Case, with_removed
from learn.sources import ROOT, SOURCES, Source, file_sha256
from qa.analysis import ANSWER_KINDS
from qa.gate import GATE_FEATURES, gate_features, threshold_for
from qa.models import ARTEFACT, FORMAT, squash
from qa.read import SENTENCE_FEATURES, Reading

# The reader ranks the sentences of one question against each other (LambdaRank, groups = questions):
# on validation that picks the answer sentence more often than a pointwise binary model (80.1 % vs
# 79.2 % top-1, news-a 70.0 % vs 65.0 %); its scores are squashed to (0, 1) for the gate and composer.
_COMMON_PARAMS: dict[str, Any] = {
    "learning_rate": 0.05,
    "feature_fraction": 0.9,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "verbose": -1,
    "num_threads": 2,
    "seed": 13,
}
READER_PARAMS: dict[str, Any] = {
    **_COMMON_PARAMS,
    "objective": "lambdarank",
    "metric": "map",
    "eval_at": [1],
    "num_leaves": 31,
    "min_data_in_leaf": 40,
}
GATE_PARAMS: dict[str, Any] = {**_COMMON_PARAMS, "objective": "binary", "num_leaves": 15, "min_data_in_leaf": 30}
ROUNDS = 600
FOLDS = 3
SLOT_FEATURES = ("asks_unit", "unit_match", "novel_figures", "slot", "novel_quote", "dateline")
# Feature groups that rest on a hand-written table or pattern: each is ablated (zeroed in training and
# validation alike) and the report says what it is worth on validation.
ABLATIONS: dict[str, tuple[str, ...]] = {
    "answer kind (question-word table)": tuple(f"kind_{k}" for k in ANSWER_KINDS),
    "answer slot (unit after 多少, novel figures, their distance, quotes, dateline)": SLOT_FEATURES,
}


def _columns(names: Sequence[str], features: Sequence[str]) -> list[int]:
    wanted = set(names) | {f"best_{n}" for n in names}
    return [i for i, f in enumerate(features) if f in wanted]


@dataclass
class Fitted:
    reader: Any
    gate: Any
    calibration: tuple[list[float], list[float]]
    threshold: float
    validation: dict[str, Any]
    curve: list[dict[str, float]]


def _reader_rows(cases: Sequence[Case]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    use = [c for c in cases if c.supported and len(c.candidates)]
    x = np.concatenate([c.features for c in use])
    y = np.concatenate([c.holds for c in use]).astype(np.float64)
    group = np.concatenate([np.full(len(c.candidates), i) for i, c in enumerate(use)])
    return x, y, group


def _train(
    params: dict[str, Any],
    x: np.ndarray,
    y: np.ndarray,
    vx: np.ndarray,
    vy: np.ndarray,
    group: np.ndarray | None = None,
    vgroup: np.ndarray | None = None,
    weight: np.ndarray | None = None,
    vweight: np.ndarray | None = None,
) -> Any:
    """A LightGBM model, early-stopped on the validation rows; ``group`` (consecutive question ids of
    the rows) makes it a ranking model; ``weight`` / ``vweight`` weigh the rows."""
    import lightgbm as lgb

    sizes = None if group is None else np.bincount(group)
    vsizes = None if vgroup is None else np.bincount(vgroup)
    train = lgb.Dataset(x, y, group=sizes, weight=weight)
    valid = lgb.Dataset(vx, vy, group=vsizes, weight=vweight, reference=train)
    return lgb.train(params, train, ROUNDS, valid_sets=[valid], callbacks=[lgb.early_stopping(50, verbose=False)])


def _masked(x: np.ndarray, columns: list[int]) -> np.ndarray:
    if not columns:
        return x
    x = x.copy()
    x[:, columns] = 0.0
    return x


def _probabilities(model: Any, case: Case, mask: list[int]) -> np.ndarray:
    if not len(case.candidates):
        return np.zeros(0)
    return squash(np.asarray(model.predict(_masked(case.features, mask))))


def _out_of_fold(
    cases: Sequence[Case], vx: np.ndarray, vy: np.ndarray, vg: np.ndarray, mask: list[int]
) -> list[np.ndarray]:
    """Reader probabilities for every train case from a reader that did not see its question."""
    folds = [int(hash_fold(c.qid)) for c in cases]
    out: list[np.ndarray] = [np.zeros(0)] * len(cases)
    for k in range(FOLDS):
        x, y, g = _reader_rows([c for c, f in zip(cases, folds, strict=True) if f != k])
        model = _train(READER_PARAMS, _masked(x, mask), y, _masked(vx, mask), vy, g, vg)
        for i, (c, f) in enumerate(zip(cases, folds, strict=True)):
            if f == k:
                out[i] = _probabilities(model, c, mask)
    return out


def hash_fold(qid: str) -> int:
    import hashlib

    return hashlib.sha1(qid.encode()).digest()[1] % FOLDS


def _gate_rows(cases: Sequence[Case], probs: Sequence[np.ndarray], mask: list[int]) -> np.ndarray:
    rows = [
        gate_features(Reading(c.analysis, tuple(c.candidates), c.features, p), c.retrieved)
        for c, p in zip(cases, probs, strict=True)
    ]
    return _masked(np.stack(rows), mask)


def _labels(cases: Sequence[Case]) -> np.ndarray:
    return np.array([float(c.supported) for c in cases])


def source_weights(cases: Sequence[Case]) -> np.ndarray:
    """Per case, so that every source weighs the same in total (mean weight 1)."""
    counts: dict[str, int] = {}
    for c in cases:
        counts[c.source] = counts.get(c.source, 0) + 1
    return np.array([len(cases) / (len(counts) * counts[c.source]) for c in cases])


def fit(
    train: Sequence[Case],
    val: Sequence[Case],
    ablate: Sequence[str] = (),
    balance: bool = True,
    extra: tuple[np.ndarray, np.ndarray] | None = None,
) -> Fitted:
    """Reader, out-of-fold reader probabilities, gate, calibration and threshold; ``ablate`` names
    features held at zero throughout. With ``balance`` every source weighs the same in the gate's
    training, its calibration and the choice of its threshold, so the few in-domain news cases are
    not outvoted by the encyclopaedic sets. ``extra``: columns added to the gate's train and
    validation rows (``learn.probes`` tries candidate features so)."""
    mask = _columns(ablate, SENTENCE_FEATURES)
    reader, oof, val_probs = fit_reader(train, val, mask)
    return fit_gate(train, val, reader, oof, val_probs, _columns(ablate, GATE_FEATURES), balance, extra)


def fit_reader(
    train: Sequence[Case], val: Sequence[Case], mask: list[int] | None = None
) -> tuple[Any, list[np.ndarray], list[np.ndarray]]:
    """The reader, its out-of-fold probabilities on the train cases and its probabilities on validation."""
    mask = mask or []
    x, y, g = _reader_rows(train)
    vx, vy, vg = _reader_rows(val)
    reader = _train(READER_PARAMS, _masked(x, mask), y, _masked(vx, mask), vy, g, vg)
    oof = _out_of_fold(train, vx, vy, vg, mask)
    return reader, oof, [_probabilities(reader, c, mask) for c in val]


def fit_gate(
    train: Sequence[Case],
    val: Sequence[Case],
    reader: Any,
    oof: Sequence[np.ndarray],
    val_probs: Sequence[np.ndarray],
    gmask: list[int] | None = None,
    balance: bool = True,
    extra: tuple[np.ndarray, np.ndarray] | None = None,
    only_extra: bool = False,
) -> Fitted:
    """The gate on the reader's probabilities: trained, calibrated and its threshold chosen on validation;
    ``extra`` columns are added to its rows (with ``only_extra``, they are its only features)."""
    from sklearn.isotonic import IsotonicRegression

    gmask = gmask or []
    gx, gy = _gate_rows(train, oof, gmask), _labels(train)
    gvx, gvy = _gate_rows(val, val_probs, gmask), _labels(val)
    if extra is not None:
        gx, gvx = (extra[0], extra[1]) if only_extra else (np.hstack([gx, extra[0]]), np.hstack([gvx, extra[1]]))
    w, vw = (source_weights(train), source_weights(val)) if balance else (None, None)
    gate = _train(GATE_PARAMS, gx, gy, gvx, gvy, weight=w, vweight=vw)
    raw = np.asarray(gate.predict(gvx))
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, gvy, sample_weight=vw)
    calibrated = iso.predict(raw)
    threshold = _balanced_threshold(calibrated, gvy, vw)
    cal = ([float(v) for v in iso.X_thresholds_], [float(v) for v in iso.y_thresholds_])
    figures = evaluate_cases(val, val_probs, calibrated, threshold)
    return Fitted(reader, gate, cal, threshold, figures, strictness_curve(val, val_probs, calibrated, threshold))


STRICTNESS_STEPS = tuple(round(0.1 * i, 1) for i in range(11))


def strictness_curve(
    cases: Sequence[Case], probs: Sequence[np.ndarray], gate_p: np.ndarray, fitted: float
) -> list[dict[str, float]]:
    """What each ``strictness`` setting does on validation: its probability threshold, how many cases
    it refuses, how many of its refusals and answers are right (precision), and the end-to-end rates."""
    supported = np.array([c.supported for c in cases])
    rows = []
    for s in STRICTNESS_STEPS:
        t = threshold_for(fitted, s)
        refused = gate_p < t
        f = evaluate_cases(cases, probs, gate_p, t)["all"]
        rows.append(
            {
                "strictness": s,
                "threshold": t,
                "refused": float(refused.mean()),
                "refusal_precision": float((~supported[refused]).mean()) if refused.any() else float("nan"),
                "answer_precision": float(supported[~refused].mean()) if (~refused).any() else float("nan"),
                "unsupported_refused": f["unsupported_refused"],
                "supported_answered_right": f["supported_answered_right"],
            }
        )
    return rows


def _balanced_threshold(p: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> float:
    w = np.ones(len(p)) if w is None else w
    pos, neg = y == 1, y == 0
    best, best_t = -1.0, 0.5
    for t in np.unique(p):
        tpr = float(np.average(p[pos] >= t, weights=w[pos])) if pos.any() else 0.0
        tnr = float(np.average(p[neg] < t, weights=w[neg])) if neg.any() else 0.0
        if (tpr + tnr) / 2 > best:
            best, best_t = (tpr + tnr) / 2, float(t)
    return best_t


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    if len(set(labels.tolist())) < 2:
        return float("nan")
    return float(roc_auc_score(labels, scores))


def evaluate_cases(
    cases: Sequence[Case], probs: Sequence[np.ndarray], gate_p: np.ndarray, threshold: float
) -> dict[str, Any]:
    """Per source and overall: reader top-1 holds the answer, e5 zero-shot top-1, gate AUC, end-to-end rates."""
    out: dict[str, Any] = {}
    names = sorted({c.source for c in cases})
    for name in [*names, "all"]:
        idx = [i for i, c in enumerate(cases) if name in ("all", c.source)]
        sup = [i for i in idx if cases[i].supported and len(cases[i].candidates)]
        top = [bool(cases[i].holds[int(np.argmax(probs[i]))]) for i in sup]
        zero = [bool(cases[i].holds[int(np.argmax(_base(cases[i])))]) for i in sup]
        labels = np.array([float(cases[i].supported) for i in idx])
        answered = gate_p[idx] >= threshold
        neg = labels == 0
        right = [answered[j] and top[sup.index(i)] for j, i in enumerate(idx) if i in set(sup)]
        out[name] = {
            "cases": len(idx),
            "supported": int(labels.sum()),
            "reader_top1": _mean(top),
            "e5_zero_shot_top1": _mean(zero),
            "gate_auc": auc(gate_p[idx], labels),
            "unsupported_refused": float((~answered[neg]).mean()) if neg.any() else float("nan"),
            "supported_answered_right": _mean(right),
            "noise_refused": _mean([not answered[j] for j, i in enumerate(idx) if cases[i].kind == "noise"]),
            "near_miss_refused": _mean([not answered[j] for j, i in enumerate(idx) if cases[i].kind == "impossible"]),
            "swapped_refused": _mean([not answered[j] for j, i in enumerate(idx) if cases[i].kind == "swapped"]),
            "removed_refused": _mean([not answered[j] for j, i in enumerate(idx) if cases[i].kind == "removed"]),
        }
    return out


def _base(case: Case) -> np.ndarray:
    return case.cosines if case.base_cosines is None else case.base_cosines


def _mean(values: Sequence[bool]) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


def artefact(fitted: Fitted, embedding_model: str, info: dict[str, Any]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "embedding_model": embedding_model,
        "sentence_features": list(SENTENCE_FEATURES),
        "gate_features": list(GATE_FEATURES),
        "reader": fitted.reader.model_to_string(),
        "reader_output": "rank",
        "reader_encoder": info.get("reader_encoder"),
        "gate": fitted.gate.model_to_string(),
        "calibration": {"x": fitted.calibration[0], "y": fitted.calibration[1]},
        "threshold": fitted.threshold,
        "info": info,
    }


def learned_sources() -> list[Source]:
    """The train and validation sources the reader and gate learn from (Chinese, with contexts)."""
    return [
        s
        for s in SOURCES
        if s.role in ("train", "validation") and (s.path.endswith(".json") or s.path.startswith("eval/news_"))
    ]


# The code a case's stored retrieval and sentences come from: a change to any of it builds the cases again
# (features are computed afresh from the stored parts on every run, so qa/read.py and qa/gate.py are not here).
CASE_CODE = (
    "learn/cases.py",
    "learn/sources.py",
    "eval/datasets.py",
    "qa/retrieve.py",
    "qa/analysis.py",
    "core/text.py",
    "ingest",
)


def case_code_sha() -> str:
    import hashlib

    h = hashlib.sha256()
    for name in CASE_CODE:
        path = ROOT / name
        for f in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            h.update(f.relative_to(ROOT).as_posix().encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def _cases_for(
    src: Source, settings: Any, embedder: Any, work: Path, limit: int | None, reuse: bool, refeature: bool = True
) -> list[Case]:
    """The source's cases, built afresh, or with ``reuse`` loaded from the last build's retrieval and
    cosines (same source file and limit) with features computed again by the current code."""
    from learn.cases import build_cases

    cache = work / "cases" / f"{src.name}-{limit or 'all'}.pkl"
    key = (file_sha256(ROOT / src.path), limit, case_code_sha())
    if reuse and cache.exists():
        with cache.open("rb") as f:
            stored_key, stored = pickle.load(f)
        if stored_key == key:
            stored = [c.upgraded() for c in stored]
            return [c.refeatured() for c in stored] if refeature else stored
    built = build_cases(src, settings, embedder, work, limit=limit)
    cache.parent.mkdir(parents=True, exist_ok=True)
    with cache.open("wb") as f:
        pickle.dump((key, built), f)
    return built


def encoder_run(limit: int | None, epochs: int = 1, quick: bool = False) -> dict[str, Any]:
    """Fine-tune the reader's sentence encoder on the same cases the reader learns from."""
    from core.settings import Settings
    from ingest.embed import SentenceTransformerEmbedder, resolve_model_path
    from learn import encoder

    settings = Settings()
    embedder = SentenceTransformerEmbedder(settings)
    work = settings.data_dir / "learn"
    by_role: dict[str, dict[str, list[Case]]] = {"train": {}, "validation": {}}
    for src in learned_sources():
        by_role[src.role][src.name] = _cases_for(src, settings, embedder, work, limit, reuse=True, refeature=False)
    command = "python -m learn train-encoder" + (f" --limit {limit}" if limit != 1200 else "")
    command += f" --epochs {epochs}" if epochs != 1 else ""
    if quick:
        picked = encoder.examples([c for cs in by_role["train"].values() for c in cs])[:200]
        keep = {e.question for e in picked}
        by_role["train"] = {k: [c for c in cs if c.analysis.text in keep] for k, cs in by_role["train"].items()}
        by_role["validation"] = {k: cs[:100] for k, cs in by_role["validation"].items()}
        out = work / "reader_encoder-quick.safetensors"
        return encoder.run(
            by_role["train"], by_role["validation"], Path(resolve_model_path(settings)), out, work, epochs, command
        )
    return encoder.run(
        by_role["train"], by_role["validation"], Path(resolve_model_path(settings)), epochs=epochs, command=command
    )


def _use_reader_encoder(
    cases: dict[str, list[Case]], settings: Any, work: Path, limits: dict[str, int | None]
) -> str | None:
    """Give every case the tuned reader encoder's cosines (the base ones kept for the zero-shot figure);
    the encoder's sha256, or None where there is no tuned encoder. Cosines are cached per encoder."""
    from learn.cases import encoder_cosines
    from qa.encoder import ENCODER_ARTEFACT, reader_encoder

    if not ENCODER_ARTEFACT.exists():
        return None
    sha = file_sha256(ENCODER_ARTEFACT)
    encoder = reader_encoder(settings)  # the runtime that serves it, so training reads the same cosines
    for name, items in cases.items():
        cache = work / "cases" / f"{name}-{limits[name] or 'all'}.reader-cosines.pkl"
        key = (sha, encoder.runtime_tag, [c.qid for c in items])
        stored = None
        if cache.exists():
            with cache.open("rb") as f:
                stored_key, stored = pickle.load(f)
            stored = stored if stored_key == key else None
        if stored is None:
            t = time.perf_counter()
            stored = encoder_cosines(encoder, items)
            with cache.open("wb") as f:
                pickle.dump((key, stored), f)
            print(f"  {name}: reader encoder cosines in {time.perf_counter() - t:.0f} s", file=sys.stderr)
        cases[name] = [replace(c, cosines=v, base_cosines=c.cosines) for c, v in zip(items, stored, strict=True)]
    return sha


def cached_cases(limit: int | None = 1200, tuned_encoder: bool = True) -> tuple[list[Case], list[Case]]:
    """The train and validation cases (no neighbour near misses), from the last ``train-reader`` build
    where it is still valid (else built), with the reader encoder's cosines and the current features."""
    from core.settings import Settings
    from ingest.embed import SentenceTransformerEmbedder

    settings = Settings()
    embedder = SentenceTransformerEmbedder(settings)
    work = settings.data_dir / "learn"
    squad = learned_sources()
    cases = {s.name: _cases_for(s, settings, embedder, work, limit, True, refeature=False) for s in squad}
    if tuned_encoder:
        _use_reader_encoder(cases, settings, work, {s.name: limit for s in squad})
    kept = {n: [c.refeatured() for c in items if c.kind != "neighbour"] for n, items in cases.items()}
    train = [c for s in squad if s.role == "train" for c in kept[s.name]]
    return train, [c for s in squad if s.role == "validation" for c in kept[s.name]]


def run(
    limit: int | None,
    out: Path = ARTEFACT,
    report_dir: Path = ROOT / "eval",
    quick: bool = False,
    reuse_cases: bool = False,
    tuned_encoder: bool = True,
    removed_cases: bool = False,
    balance: bool = True,
    ablations: bool = True,
    neighbours: bool = False,
    train_limit: int | Literal["same"] | None = "same",
    curve: bool = False,
) -> dict[str, Any]:
    """``tuned_encoder``: the reader reads the fine-tuned encoder's cosines (``qa/trained/reader_encoder``,
    when present) instead of the base e5's; ``removed_cases``: the gate also learns from removed cases;
    ``balance``: every source weighs the same in the gate (``fit``); ``neighbours``: the gate also learns
    from the neighbour near misses (validation never holds them, so both choices are judged on the
    same cases; on validation they did not pay: gate AUC 0.887 → 0.888, CHANGELOG); ``train_limit``: the
    questions taken from each train source (None: all), where it differs from the validation sources'
    ``limit``; ``curve``: also fit on a quarter and a half of the train questions (``learning_curve``)."""
    from core.settings import Settings
    from ingest.embed import SentenceTransformerEmbedder

    started = time.perf_counter()
    settings = Settings()
    embedder = SentenceTransformerEmbedder(settings)
    work = settings.data_dir / "learn"
    squad = learned_sources()
    limits = {s.name: limit if train_limit == "same" or s.role != "train" else train_limit for s in squad}
    cases: dict[str, list[Case]] = {}
    for src in squad:
        t = time.perf_counter()
        cases[src.name] = _cases_for(src, settings, embedder, work, limits[src.name], reuse_cases, refeature=False)
        print(f"  {src.name}: {len(cases[src.name])} cases in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    encoder_sha = _use_reader_encoder(cases, settings, work, limits) if tuned_encoder else None
    for name in cases:
        cases[name] = [c.refeatured() for c in (with_removed(cases[name]) if removed_cases else cases[name])]
    built = time.perf_counter() - started
    if not neighbours:
        cases = {name: [c for c in items if c.kind != "neighbour"] for name, items in cases.items()}
    train = [c for s in squad if s.role == "train" for c in cases[s.name]]
    val = [c for s in squad if s.role == "validation" for c in cases[s.name] if c.kind != "neighbour"]
    fitted = fit(train, val, balance=balance)
    ablated = {
        name: fit(train, val, ablate=features, balance=balance).validation
        for name, features in (ABLATIONS.items() if ablations else ())
    }
    learning = learning_curve(train, val, balance) if curve else []
    info = {
        "command": "python -m learn train-reader"
        + (" --quick" if quick else "")
        + (f" --limit {limit}" if limit and not quick else "")
        + ("" if train_limit == "same" else f" --train-limit {train_limit or 0}")
        + (" --curve" if curve else "")
        + (" --reuse-cases" if reuse_cases else "")
        + ("" if tuned_encoder else " --base-encoder")
        + (" --removed" if removed_cases else "")
        + ("" if balance else " --unbalanced")
        + ("" if ablations else " --no-ablations")
        + (" --neighbours" if neighbours else ""),
        "sources": {
            s.name: {
                "role": s.role,
                "path": s.path,
                "buckets": list(s.buckets),
                "sha256": file_sha256(ROOT / s.path),
                "cases": len(cases[s.name]),
            }
            for s in squad
        },
        "train_cases": len(train),
        "validation_cases": len(val),
        "reader_rounds": fitted.reader.best_iteration,
        "gate_rounds": fitted.gate.best_iteration,
        "reader_params": READER_PARAMS,
        "gate_params": GATE_PARAMS,
        "threshold": fitted.threshold,
        "seconds_building_cases": round(built, 1),
        "seconds_total": round(time.perf_counter() - started, 1),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, no accelerator",
        "embedding_model": embedder.name,
        "reader_encoder": encoder_sha,
        "removed_cases": removed_cases,
        "balanced_sources": balance,
        "neighbour_cases_in_training": neighbours,
    }
    report = {
        "info": info,
        "validation": fitted.validation,
        "strictness": fitted.curve,
        "learning_curve": learning,
        "ablations": ablated,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(artefact(fitted, embedder.name, info), ensure_ascii=False), encoding="utf-8")
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "train_reader.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    (report_dir / "train_reader.md").write_text(markdown(report), encoding="utf-8")
    return report


def _pct(v: float) -> str:
    return "–" if v != v else f"{100 * v:.1f} %"


def markdown(report: dict[str, Any]) -> str:
    info = report["info"]
    lines = [
        "# The learned reader and gate",
        "",
        f"Made by `{info['command']}` in {info['seconds_total']:.0f} s ({info['machine']}); "
        f"{info['train_cases']} train cases, {info['validation_cases']} validation cases; "
        f"reader {info['reader_rounds']} rounds, gate {info['gate_rounds']} rounds; "
        f"operating threshold {info['threshold']:.3f} (calibrated probability, strictness 0.5).",
        "",
        "## Validation (threshold and calibration chosen here)",
        "",
        *_table(report["validation"]),
        "",
        *_curve_lines(report.get("strictness", [])),
        *_learning_lines(report.get("learning_curve", []), report["validation"]["all"], info["train_cases"]),
        *_ablation_lines(report),
        "## Data",
        "",
        "| source | role | buckets | cases | sha256 |",
        "|---|---|---|---:|---|",
        *(
            f"| {n} | {s['role']} | {s['buckets'][0]}–{s['buckets'][1] - 1} | {s['cases']} | {s['sha256'][:16]}… |"
            for n, s in info["sources"].items()
        ),
        "",
    ]
    return "\n".join(lines)


_VARIANT = re.compile(r"-(swapped|neighbour|removed)$")


def learning_curve(
    train: Sequence[Case], val: Sequence[Case], balance: bool, shares: Sequence[float] = (0.25, 0.5)
) -> list[dict[str, Any]]:
    """Validation figures when reader and gate learn from a share of the train questions (a question's
    variants go with it), to say whether more training data would pay."""
    rows = []
    for share in shares:
        part = share_of_questions(train, share)
        rows.append({"share": share, "train_cases": len(part), **fit(part, val, balance=balance).validation["all"]})
    return rows


def share_of_questions(cases: Sequence[Case], share: float) -> list[Case]:
    """The cases of a fixed pseudo-random share of the questions: a question's swapped, neighbour and
    removed variants are kept or dropped with it, and a larger share holds every question of a smaller one."""
    return [c for c in cases if _share_key(_VARIANT.sub("", c.qid)) < share]


def _share_key(qid: str) -> float:
    return int.from_bytes(hashlib.sha1(qid.encode()).digest()[:4], "big") / 2**32


def _learning_lines(rows: Sequence[dict[str, Any]], full: dict[str, Any], all_cases: int) -> list[str]:
    if not rows:
        return []
    rows = [*rows, {"share": 1.0, "train_cases": all_cases, **full}]
    keys = ("reader_top1", "gate_auc", "noise_refused", "near_miss_refused", "supported_answered_right")
    lines = [
        "## Learning curve: validation figures from a share of the train questions",
        "",
        "| share | train cases | reader top-1 | gate AUC | noise refused | near misses refused "
        "| supported answered right |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        cells = [_auc_text(r[k]) if k == "gate_auc" else _pct(r[k]) for k in keys]
        lines.append(f"| {r['share']:.2f} | {r['train_cases']} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _curve_lines(curve: Sequence[dict[str, float]]) -> list[str]:
    if not curve:
        return []
    lines = [
        "## Strictness: what each setting does on validation (all sets)",
        "",
        "`YIJU_STRICTNESS` moves the threshold on the calibrated probability: 0.5 is the fitted one, 0 and 1 the "
        "ends. Refusal precision: of the cases refused, the share the passages do not support; answer precision: "
        "of those answered, the share they do.",
        "",
        "| strictness | threshold | refused | refusal precision | answer precision | unsupported refused "
        "| supported answered right |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in curve:
        lines.append(
            f"| {r['strictness']:.1f} | {r['threshold']:.3f} | {_pct(r['refused'])} | {_pct(r['refusal_precision'])} "
            f"| {_pct(r['answer_precision'])} | {_pct(r['unsupported_refused'])} "
            f"| {_pct(r['supported_answered_right'])} |"
        )
    return [*lines, ""]


def _ablation_lines(report: dict[str, Any]) -> list[str]:
    """Per ablated group: the all-validation figures without it and the change the group makes."""
    base = report["validation"]["all"]
    keys = ("reader_top1", "gate_auc", "noise_refused", "near_miss_refused", "supported_answered_right")
    lines = [
        "## Ablations: what each hand-written feature group is worth on validation",
        "",
        "Each row is a full retraining with the group's features held at zero; Δ is the full model minus that.",
        "",
        "| without | reader top-1 | gate AUC | noise refused | near misses refused | supported answered right |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, figures in report["ablations"].items():
        f = figures["all"]
        cells = [
            f"{f[k]:.3f} (Δ {base[k] - f[k]:+.3f})"
            if k == "gate_auc"
            else f"{_pct(f[k])} (Δ {100 * (base[k] - f[k]):+.1f})"
            for k in keys
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "Per set, without each group:", ""]
    for name, figures in report["ablations"].items():
        lines += [f"### Without {name}", "", *_table(figures), ""]
    return lines


def _auc_text(v: float) -> str:
    return "–" if v != v else f"{v:.3f}"


def _table(figures: dict[str, Any]) -> list[str]:
    rows = [
        "| set | cases | reader top-1 holds answer | e5 zero-shot top-1 | gate AUC | unsupported refused | noise refused "
        "| near misses refused | swapped refused | removed refused | supported answered right |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, f in figures.items():
        rows.append(
            f"| {name} | {f['cases']} | {_pct(f['reader_top1'])} | {_pct(f['e5_zero_shot_top1'])} | "
            f"{_auc_text(f['gate_auc'])} | {_pct(f['unsupported_refused'])} | "
            f"{_pct(f['noise_refused'])} | {_pct(f['near_miss_refused'])} | {_pct(f['swapped_refused'])} | "
            f"{_pct(f.get('removed_refused', float('nan')))} | {_pct(f['supported_answered_right'])} |"
        )
    return rows
