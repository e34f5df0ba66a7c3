"""``python -m learn probe-gate``: would the gate gain from reading the question and its best sentences together?

The gate's features are lexical and bi-encoder ones (``qa.gate``). Two
candidates that read question and sentence jointly are judged here on the
validation cases, against the shipped features, with the same reader, the same
gate training, calibration and threshold choice (``learn.train.fit_gate``):

- ``alignment``: each question token's best cosine with the best sentence's
  tokens under the base e5 (min, mean, 10th and 25th percentile, share below
  0.6); nothing is trained.
- ``cross``: a cross-encoder from the base e5 (``query: question`` and
  ``passage: sentence`` as one input): the lower ``FROZEN`` layers are frozen
  and their output computed once, the top layers and a linear head on the mean
  of the last layer are trained for one epoch on the reader's best
  ``SHORTLIST`` sentences of every train case (label: the sentence holds the
  answer and the passages support it). Two folds by question, so every train
  case is scored by a model that did not see its question (the gate learns from
  scores as they are on new questions); validation is scored by the mean of
  the two. Its features: the best sentence's score, the best score of the
  shortlist and their margin over the rest.

Both read the cases ``python -m learn train-reader`` built (run it first) and
write ``eval/gate_probes.{json,md}``. Neither is in the product: the report
says what each would be worth.
"""

from __future__ import annotations

import copy
import hashlib
import json
import platform
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from learn.cases import Case
from learn.sources import ROOT
from learn.train import Fitted, cached_cases, fit_gate, fit_reader

SHORTLIST = 3
FROZEN = 8
MAX_TOKENS = 128
BATCH = 32
SEED = 13
PROBES = ("alignment", "cross")
REPORT = ROOT / "eval" / "gate_probes"

Pair = tuple[int, str, str, float]  # case index, question, sentence, label


def _shortlist(case: Case, probs: np.ndarray, n: int) -> list[int]:
    return [int(i) for i in np.argsort(-probs)[:n]] if len(probs) else []


def pairs_of(cases: Sequence[Case], probs: Sequence[np.ndarray], n: int = SHORTLIST) -> list[Pair]:
    """The reader's ``n`` best sentences of each case, best first, labelled as the cross-encoder learns them."""
    return [
        (k, c.analysis.text, c.candidates[i].text, float(c.supported and c.holds[i]))
        for k, (c, p) in enumerate(zip(cases, probs, strict=True))
        for i in _shortlist(c, p, n)
    ]


def _base_model() -> Any:
    import torch
    from sentence_transformers import SentenceTransformer

    from core.settings import Settings
    from ingest.embed import resolve_model_path

    torch.set_num_threads(2)
    return SentenceTransformer(str(resolve_model_path(Settings())), device="cpu")


def alignment_features(model: Any, pairs: Sequence[Pair], n_cases: int) -> np.ndarray:
    """Per case, from its best sentence: question tokens' best cosine with the sentence's tokens."""
    tokenizer = model.tokenizer

    def vectors(texts: list[str], prefix: str) -> dict[str, np.ndarray]:
        skip = len(tokenizer(prefix.strip(), add_special_tokens=False)["input_ids"]) + 1  # [CLS] and the prefix
        out = model.encode(
            [prefix + t for t in texts], output_value="token_embeddings", batch_size=64, convert_to_numpy=False
        )
        res = {}
        for t, v in zip(texts, out, strict=True):
            v = v.float().numpy()[skip:-1]
            res[t] = v / (np.linalg.norm(v, axis=1, keepdims=True) + 1e-9)
        return res

    first = {}
    for k, q, s, _ in pairs:
        first.setdefault(k, (q, s))
    qv = vectors(sorted({q for q, _ in first.values()}), "query: ")
    sv = vectors(sorted({s for _, s in first.values()}), "passage: ")
    rows = np.zeros((n_cases, 5))
    for k, (q, s) in first.items():
        if len(qv[q]) and len(sv[s]):
            best = (qv[q] @ sv[s].T).max(axis=1)
            rows[k] = [best.min(), best.mean(), np.percentile(best, 10), np.percentile(best, 25), (best < 0.6).mean()]
    return rows


class _CrossTrainer:
    """The lower layers' output per pair, computed once; the top layers and a head trained on it."""

    def __init__(self, model: Any) -> None:
        self.bert = model[0].auto_model
        self.tokenizer = model.tokenizer
        self.top = list(self.bert.encoder.layer[FROZEN:])

    def lower(self, pairs: Sequence[Pair]) -> list[Any]:
        import torch

        order = sorted(range(len(pairs)), key=lambda k: len(pairs[k][1]) + len(pairs[k][2]))
        out: list[Any] = [None] * len(pairs)
        self.bert.eval()
        with torch.inference_mode():
            for b in range(0, len(order), 64):
                idx = order[b : b + 64]
                enc = self.tokenizer(
                    ["query: " + pairs[k][1] for k in idx],
                    ["passage: " + pairs[k][2] for k in idx],
                    padding=True,
                    truncation=True,
                    max_length=MAX_TOKENS,
                    return_tensors="pt",
                )
                hidden = self.bert(**enc, output_hidden_states=True).hidden_states[FROZEN]
                for j, k in enumerate(idx):
                    n = int(enc["attention_mask"][j].sum())
                    out[k] = hidden[j, :n].half().clone()
        return out

    @staticmethod
    def _batch(states: Sequence[Any]) -> tuple[Any, Any]:
        import torch

        n = max(h.shape[0] for h in states)
        x = torch.zeros(len(states), n, states[0].shape[1])
        mask = torch.zeros(len(states), n)
        for j, h in enumerate(states):
            x[j, : h.shape[0]] = h.float()
            mask[j, : h.shape[0]] = 1
        return x, mask

    @staticmethod
    def _forward(layers: Any, head: Any, x: Any, mask: Any) -> Any:
        h = x
        additive = (1.0 - mask[:, None, None, :]) * -1e4
        for layer in layers:
            r = layer(h, attention_mask=additive)
            h = r[0] if isinstance(r, tuple) else r
        return head((h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)).squeeze(-1)

    def fit(self, states: Sequence[Any], labels: Sequence[float]) -> tuple[Any, Any, list[float]]:
        import torch

        rng = random.Random(SEED)
        torch.manual_seed(SEED)
        layers = torch.nn.ModuleList([copy.deepcopy(layer) for layer in self.top])
        head = torch.nn.Linear(states[0].shape[1], 1)
        opt = torch.optim.AdamW(
            [{"params": layers.parameters(), "lr": 3e-5}, {"params": head.parameters(), "lr": 1e-3}], weight_decay=0.01
        )
        idx = list(range(len(states)))
        rng.shuffle(idx)
        batches = []
        for start in range(0, len(idx), 512):  # batches of similar length, in random order
            chunk = sorted(idx[start : start + 512], key=lambda k: states[k].shape[0])
            batches += [chunk[i : i + BATCH] for i in range(0, len(chunk), BATCH)]
        rng.shuffle(batches)
        loss_fn = torch.nn.BCEWithLogitsLoss()
        losses = []
        layers.train()
        for b in batches:
            x, mask = self._batch([states[k] for k in b])
            loss = loss_fn(self._forward(layers, head, x, mask), torch.tensor([labels[k] for k in b]))
            loss.backward()
            opt.step()
            opt.zero_grad()
            losses.append(float(loss.detach()))
        layers.eval()
        return layers, head, losses

    def score(self, layers: Any, head: Any, states: Sequence[Any]) -> np.ndarray:
        import torch

        out = np.zeros(len(states))
        order = sorted(range(len(states)), key=lambda k: states[k].shape[0])
        with torch.inference_mode():
            for b in range(0, len(order), 128):
                idx = order[b : b + 128]
                x, mask = self._batch([states[k] for k in idx])
                out[idx] = self._forward(layers, head, x, mask).numpy()
        return out


def _question_fold(case: Case) -> int:
    return hashlib.sha1(case.qid.split("-")[0].encode()).digest()[2] % 2


def _per_case(pairs: Sequence[Pair], scores: np.ndarray, n_cases: int) -> np.ndarray:
    """Best sentence's score, the shortlist's best, and the best sentence's margin over the rest."""
    per: list[list[float]] = [[] for _ in range(n_cases)]
    for (k, *_), v in zip(pairs, scores, strict=True):
        per[k].append(float(v))
    rows = np.zeros((n_cases, 3))
    for k, v in enumerate(per):
        if v:
            rows[k] = [v[0], max(v), v[0] - (max(v[1:]) if len(v) > 1 else -10.0)]
    return rows


def cross_features(
    model: Any, train: Sequence[Case], oof: Sequence[np.ndarray], val: Sequence[Case], val_probs: Sequence[np.ndarray]
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    from sklearn.metrics import roc_auc_score

    trainer = _CrossTrainer(model)
    tr_pairs, va_pairs = pairs_of(train, oof), pairs_of(val, val_probs)
    t = time.perf_counter()
    tr_states, va_states = trainer.lower(tr_pairs), trainer.lower(va_pairs)
    lower_s = time.perf_counter() - t
    folds = np.array([_question_fold(train[k]) for k, *_ in tr_pairs])
    tr_scores, va_scores = np.zeros(len(tr_pairs)), np.zeros(len(va_pairs))
    losses = []
    t = time.perf_counter()
    for f in (0, 1):
        fit_idx, out_idx = np.flatnonzero(folds != f), np.flatnonzero(folds == f)
        layers, head, loss = trainer.fit([tr_states[k] for k in fit_idx], [tr_pairs[k][3] for k in fit_idx])
        losses.append([round(float(np.mean(loss[:50])), 3), round(float(np.mean(loss[-50:])), 3)])
        tr_scores[out_idx] = trainer.score(layers, head, [tr_states[k] for k in out_idx])
        va_scores += trainer.score(layers, head, va_states) / 2
    info = {
        "train_pairs": len(tr_pairs),
        "validation_pairs": len(va_pairs),
        "seconds_lower_layers": round(lower_s, 1),
        "seconds_training": round(time.perf_counter() - t, 1),
        "loss_first_last_50_batches": losses,
        "validation_pair_auc": float(roc_auc_score([p[3] for p in va_pairs], va_scores)),
    }
    return _per_case(tr_pairs, tr_scores, len(train)), _per_case(va_pairs, va_scores, len(val)), info


def run(limit: int | None = 1200, probes: Sequence[str] = PROBES, out: Path = REPORT) -> dict[str, Any]:
    started = time.perf_counter()
    train, val = cached_cases(limit)
    reader, oof, val_probs = fit_reader(train, val)
    arms: dict[str, Fitted] = {"shipped features": fit_gate(train, val, reader, oof, val_probs)}
    model = _base_model()
    notes: dict[str, Any] = {}
    for name in probes:
        t = time.perf_counter()
        if name == "alignment":
            extra = (
                alignment_features(model, pairs_of(train, oof, 1), len(train)),
                alignment_features(model, pairs_of(val, val_probs, 1), len(val)),
            )
            notes[name] = {}
        else:
            tr, va, notes[name] = cross_features(model, train, oof, val, val_probs)
            extra = (tr, va)
            arms["cross-encoder alone"] = fit_gate(train, val, reader, oof, val_probs, extra=extra, only_extra=True)
        arms[f"with {name}"] = fit_gate(train, val, reader, oof, val_probs, extra=extra)
        notes[name]["seconds"] = round(time.perf_counter() - t, 1)
        print(f"  {name}: {notes[name]['seconds']:.0f} s", file=sys.stderr)
    report = {
        "command": "python -m learn probe-gate" + (f" --only {probes[0]}" if len(probes) == 1 else ""),
        "limit": limit,
        "train_cases": len(train),
        "validation_cases": len(val),
        "seconds_total": round(time.perf_counter() - started, 1),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, no accelerator",
        "probes": notes,
        "arms": {name: {"threshold": f.threshold, "validation": f.validation} for name, f in arms.items()},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    out.with_suffix(".md").write_text(markdown(report), encoding="utf-8")
    return report


def _pct(v: float) -> str:
    return "–" if v != v else f"{100 * v:.1f} %"


def markdown(report: dict[str, Any]) -> str:
    sets = list(next(iter(report["arms"].values()))["validation"])
    lines = [
        "# Gate probes: reading the question and its best sentences together",
        "",
        f"Made by `{report['command']}` in {report['seconds_total']:.0f} s ({report['machine']}); "
        f"{report['train_cases']} train cases, {report['validation_cases']} validation cases (those of "
        "`python -m learn train-reader`). Each arm is the same reader and the same gate training, calibration and "
        "threshold choice, on the shipped gate features plus the probe's (`learn/probes.py` says what each is).",
        "",
        "Gate AUC on validation:",
        "",
        "| arm | " + " | ".join(sets) + " |",
        "|---|" + "---:|" * len(sets),
    ]
    for name, arm in report["arms"].items():
        lines.append(f"| {name} | " + " | ".join(f"{arm['validation'][s]['gate_auc']:.3f}" for s in sets) + " |")
    lines += [
        "",
        "At each arm's operating point (all validation sets):",
        "",
        "| arm | threshold | near misses refused | noise refused | unsupported refused | supported answered right |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, arm in report["arms"].items():
        f = arm["validation"]["all"]
        lines.append(
            f"| {name} | {arm['threshold']:.3f} | {_pct(f['near_miss_refused'])} | {_pct(f['noise_refused'])} | "
            f"{_pct(f['unsupported_refused'])} | {_pct(f['supported_answered_right'])} |"
        )
    if "cross" in report["probes"]:
        c = report["probes"]["cross"]
        lines += [
            "",
            f"Cross-encoder: {c['train_pairs']} train pairs, {c['validation_pairs']} validation pairs; lower layers "
            f"{c['seconds_lower_layers']:.0f} s, training (two folds) {c['seconds_training']:.0f} s; loss over the "
            f"first and last 50 batches {c['loss_first_last_50_batches']}; its own AUC over validation pairs "
            f"{c['validation_pair_auc']:.3f}.",
        ]
    return "\n".join([*lines, ""])
