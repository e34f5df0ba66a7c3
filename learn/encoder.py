"""``python -m learn train-encoder``: fine-tune the top layers of the e5 bi-encoder as the reader's sentence encoder.

The zero-shot e5 cosine of the question with each sentence is the reader's
strongest feature. Here the top ``TUNED_LAYERS`` transformer layers learn to
put the question next to the sentence that answers it, with the other
sentences of the same retrieved passages as hard negatives (contrastive loss
over the batch: every other question's sentences are negatives too). The data
are the reader's own cases (``learn.cases``, built by ``train-reader``): train
sources to learn from, validation sources to compare against the base encoder.

Only what differs from the base is kept: the tuned layers in fp16
(``qa/trained/reader_encoder.safetensors``, with the base's fingerprint so that
loading on another build of the base model is refused). Retrieval keeps the
base encoder; the reader reads the tuned one's cosines (``qa.encoder``).
"""

from __future__ import annotations

import json
import platform
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from learn.cases import Case
from learn.sources import ROOT
from qa.encoder import ENCODER_ARTEFACT, TUNED_LAYERS, base_fingerprint, tuned_state

HARD_NEGATIVES = 3
BATCH = 16
EPOCHS = 1
LEARNING_RATE = 3e-5
SCALE = 20.0  # cosine × SCALE are the logits of the contrastive loss (temperature 0.05)
SEED = 13
MAX_TOKENS = 96


@dataclass(frozen=True)
class Example:
    question: str
    positive: str
    negatives: tuple[str, ...]


def examples(cases: Sequence[Case], negatives: int = HARD_NEGATIVES) -> list[Example]:
    """One example per answered question: the best-scored sentence holding the answer, and the
    ``negatives`` sentences the base encoder ranks highest among those that do not."""
    out: list[Example] = []
    for c in cases:
        if c.kind != "normal" or not c.supported or not c.holds.any():
            continue
        order = np.argsort(-c.cosines)
        pos = next(i for i in order if c.holds[i])
        negs = [c.candidates[i].text for i in order if not c.holds[i]][:negatives]
        if negs:
            out.append(Example(c.analysis.text, c.candidates[pos].text, tuple(negs)))
    return out


def _freeze_lower(model: Any, tuned: int) -> None:
    bert = model[0].auto_model
    for p in bert.parameters():
        p.requires_grad = False
    for layer in bert.encoder.layer[-tuned:]:
        for p in layer.parameters():
            p.requires_grad = True


def _embed(model: Any, texts: Sequence[str]) -> Any:
    prepare = getattr(model, "preprocess", None) or model.tokenize
    return model(prepare(list(texts)))["sentence_embedding"]


def train(model: Any, data: Sequence[Example], epochs: int = EPOCHS, log_every: int = 20) -> list[float]:
    """Contrastive fine-tuning of the unfrozen layers; returns the loss of each step."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=LEARNING_RATE, weight_decay=0.01)
    rng = random.Random(SEED)
    losses: list[float] = []
    steps = epochs * ((len(data) + BATCH - 1) // BATCH)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / 20) * (1 - s / steps))
    model.train()
    started = time.perf_counter()
    for _ in range(epochs):
        order = list(data)
        rng.shuffle(order)
        for start in range(0, len(order), BATCH):
            batch = order[start : start + BATCH]
            q = _embed(model, ["query: " + e.question for e in batch])
            passages = [e.positive for e in batch] + [n for e in batch for n in e.negatives]
            p = _embed(model, ["passage: " + t for t in passages])
            logits = SCALE * q @ p.T
            loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(batch)))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            losses.append(float(loss.detach()))
            if len(losses) % log_every == 0:
                rate = len(losses) / (time.perf_counter() - started)
                print(
                    f"  step {len(losses)}/{steps}: loss {np.mean(losses[-log_every:]):.3f} ({rate:.2f} steps/s)",
                    file=sys.stderr,
                )
    model.eval()
    return losses


def cosines(model: Any, cases: Sequence[Case], batch_size: int = 64) -> list[np.ndarray]:
    """The model's cosine of each case's question with each of its candidates."""
    texts = sorted({c.text for case in cases for c in case.candidates})
    questions = sorted({case.analysis.text for case in cases})
    sv = model.encode(["passage: " + t for t in texts], batch_size=batch_size, normalize_embeddings=True)
    qv = model.encode(["query: " + t for t in questions], batch_size=batch_size, normalize_embeddings=True)
    s_at = {t: i for i, t in enumerate(texts)}
    q_at = {t: i for i, t in enumerate(questions)}
    return [
        sv[[s_at[c.text] for c in case.candidates]] @ qv[q_at[case.analysis.text]] if case.candidates else np.zeros(0)
        for case in cases
    ]


def top1(cases: Sequence[Case], scores: Sequence[np.ndarray]) -> float:
    """Share of answered questions whose best-scored sentence holds the answer."""
    hits = [
        bool(c.holds[int(np.argmax(s))])
        for c, s in zip(cases, scores, strict=True)
        if c.kind == "normal" and c.supported and len(c.candidates)
    ]
    return float(np.mean(hits)) if hits else float("nan")


def run(
    train_cases: dict[str, list[Case]],
    val_cases: dict[str, list[Case]],
    model_dir: Path,
    out: Path = ENCODER_ARTEFACT,
    report_dir: Path = ROOT / "eval",
    epochs: int = EPOCHS,
    command: str = "python -m learn train-encoder",
) -> dict[str, Any]:
    import torch
    from safetensors.torch import save_file
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    started = time.perf_counter()
    base = SentenceTransformer(str(model_dir), device="cpu")
    val_all = [c for cs in val_cases.values() for c in cs]
    base_scores = cosines(base, val_all)
    model = SentenceTransformer(str(model_dir), device="cpu")
    model.max_seq_length = MAX_TOKENS
    _freeze_lower(model, TUNED_LAYERS)
    data = examples([c for cs in train_cases.values() for c in cs])
    print(f"  {len(data)} training questions", file=sys.stderr)
    t = time.perf_counter()
    losses = train(model, data, epochs)
    seconds_training = time.perf_counter() - t
    tuned_scores = cosines(model, val_all)
    figures: dict[str, Any] = {}
    at = 0
    for name, cs in val_cases.items():
        n = len(cs)
        figures[name] = {
            "base_top1": top1(cs, base_scores[at : at + n]),
            "tuned_top1": top1(cs, tuned_scores[at : at + n]),
        }
        at += n
    figures["all"] = {"base_top1": top1(val_all, base_scores), "tuned_top1": top1(val_all, tuned_scores)}
    out.parent.mkdir(parents=True, exist_ok=True)
    fingerprint = base_fingerprint(base)
    save_file(
        tuned_state(model),
        str(out),
        metadata={"base": fingerprint, "layers": str(TUNED_LAYERS), "scale": str(SCALE)},
    )
    report = {
        "info": {
            "command": command,
            "training_questions": len(data),
            "train_sources": sorted(train_cases),
            "validation_sources": sorted(val_cases),
            "tuned_layers": TUNED_LAYERS,
            "hard_negatives": HARD_NEGATIVES,
            "batch": BATCH,
            "epochs": epochs,
            "learning_rate": LEARNING_RATE,
            "first_loss": float(np.mean(losses[:20])) if losses else None,
            "last_loss": float(np.mean(losses[-20:])) if losses else None,
            "seconds_training": round(seconds_training, 1),
            "seconds_total": round(time.perf_counter() - started, 1),
            "artefact": str(out.relative_to(ROOT)) if out.is_relative_to(ROOT) else str(out),
            "artefact_bytes": out.stat().st_size,
            "base_fingerprint": fingerprint,
            "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, no accelerator, torch fp32",
        },
        "validation": figures,
    }
    (report_dir / "train_encoder.json").write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n")
    (report_dir / "train_encoder.md").write_text(markdown(report))
    return report


def markdown(report: dict[str, Any]) -> str:
    info = report["info"]
    lines = [
        "# Reader sentence encoder: fine-tuned top layers of e5",
        "",
        f"Command: `{info['command']}`. {info['training_questions']} training questions "
        f"({', '.join(info['train_sources'])}), top {info['tuned_layers']} layers tuned, "
        f"{info['hard_negatives']} hard negatives a question, batch {info['batch']}, {info['epochs']} epoch(s), "
        f"{info['seconds_training']:.0f} s of training on {info['machine']}; "
        f"loss {info['first_loss']:.3f} → {info['last_loss']:.3f}. Artefact: `{info['artefact']}` "
        f"({info['artefact_bytes'] / 1e6:.1f} MB, fp16).",
        "",
        "Validation: share of answered questions whose best sentence by cosine holds the answer "
        "(the sentence the reader's strongest feature points at).",
        "",
        "| source | base e5 top-1 | tuned top-1 |",
        "|---|---:|---:|",
    ]
    for name, f in report["validation"].items():
        lines.append(f"| {name} | {f['base_top1'] * 100:.1f} % | {f['tuned_top1'] * 100:.1f} % |")
    return "\n".join(lines) + "\n"
