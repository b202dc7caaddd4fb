"""Synthetic SQuAD 2.0 data with known answers: small enough for a tiny model to learn from scratch on a CPU.

Each passage states a few facts of different kinds ("The city of Maria is Paris. The job of Omar is baker.").
A question asks for one kind of fact: answerable when the passage states it, unanswerable when it does not
(a question that looks answerable, SQuAD 2.0's adversarial kind).
Train and dev use disjoint passages; the answer's offset is exact by construction.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from . import settings
from .settings import setting

NAMES = ["Maria", "Omar", "Lena", "Jack", "Sofia", "Ivan", "Grace", "Pedro", "Anna", "David", "Emma", "Carlos",
         "Julia", "Peter", "Laura", "Henry", "Clara", "Oscar", "Alice", "Victor"]
FACTS = {
    # relation: (sentence template, question template, values). Question and sentence share their key word,
    # which a tiny model learns to match quickly; SQuAD's paraphrases are the real thing's job.
    "city": ("The city of {n} is {v}.", "What is the city of {n}?",
             ["Paris", "London", "Berlin", "Madrid", "Rome", "Tokyo", "Cairo", "Lima", "Oslo", "Dublin", "Vienna", "Prague"]),
    "job": ("The job of {n} is {v}.", "What is the job of {n}?",
            ["baker", "doctor", "pilot", "teacher", "farmer", "lawyer", "painter", "nurse", "singer", "driver"]),
    "pet": ("The pet of {n} is a {v}.", "What is the pet of {n}?",
            ["dog", "cat", "parrot", "horse", "rabbit", "goat", "turtle", "hamster"]),
    "color": ("The favourite colour of {n} is {v}.", "What is the favourite colour of {n}?",
              ["red", "blue", "green", "yellow", "purple", "orange", "black", "white"]),
}

# Neutral sentences that state no fact: some passages get many, so they span several windows and the model
# learns that the no-answer score is the minimum over windows.
FILLERS = ["{n} went for a long walk in the park.", "{n} met some friends after work.", "It rained for most of the day.",
           "{n} read a book in the evening.", "The weather was mild that week."]


def make_article(rng: random.Random, title: str, n_paragraphs: int, questions_per_paragraph: int, id_prefix: str, filler_share: float = 0.3) -> dict:
    paragraphs = []
    for p in range(n_paragraphs):
        # Each kind of fact appears at most once per passage, so a question has one right answer or none.
        rels = rng.sample(list(FACTS), rng.randint(1, 3))
        facts = [(rng.choice(NAMES), rel, rng.choice(FACTS[rel][2])) for rel in rels]
        if rng.random() < filler_share:
            fillers = [(rng.choice(NAMES), None, rng.choice(FILLERS)) for _ in range(rng.randint(5, 25))]
            facts = rng.sample(facts + fillers, len(facts) + len(fillers))
        context, where = "", {}
        for n, rel, v in facts:
            if rel is None:
                context += v.format(n=n) + " "
                continue
            sentence = FACTS[rel][0].format(n=n, v=v)
            where[rel] = (n, v, len(context) + sentence.rindex(v))
            context += sentence + " "
        context = context.strip()
        qas, asked = [], set()
        for q in range(questions_per_paragraph):
            for _ in range(20):  # a question asked once per passage: a duplicate would only weigh it twice
                if rng.random() < 0.6:  # answerable: a fact the passage states
                    rel = rng.choice(rels)
                    n, v, start = where[rel]
                    answers = [{"text": v, "answer_start": start}]
                else:  # unanswerable: a kind of fact the passage does not state (a plausible-looking question)
                    absent = [r for r in FACTS if r not in where]
                    rel, n, answers = rng.choice(absent), rng.choice(NAMES), []
                question = FACTS[rel][1].format(n=n)
                if question not in asked:
                    break
            else:
                continue
            asked.add(question)
            qas.append({"id": f"{id_prefix}-{p}-{q}", "question": question, "answers": answers, "is_impossible": not answers})
        paragraphs.append({"context": context, "qas": qas})
    return {"title": title, "paragraphs": paragraphs}


@dataclass(frozen=True)
class SynthSizes:
    """`albert-bench data synth`'s settings (its flags are generated from these fields)."""

    train: int = setting(2000, "about this many training questions", lo=1, hi=1_000_000)
    dev: int = setting(300, "about this many dev questions", lo=1, hi=1_000_000)
    seed: int = setting(0, "random seed: the same seed writes the same files", lo=0, hi=2**32 - 1)

    def __post_init__(self):
        settings.check(self)


def make_synthetic(n_train: int = 2000, n_dev: int = 300, seed: int = 0, questions_per_paragraph: int = 4, filler_share: float = 0.3) -> tuple[dict, dict]:
    """(train, dev) SQuAD 2.0 JSON objects with about n_train / n_dev questions; `filler_share` of the passages are
    padded with fact-free sentences to span several windows."""
    rng = random.Random(seed)

    def split(name: str, n: int) -> dict:
        paras = max(1, n // questions_per_paragraph)
        return {"version": "v2.0", "data": [make_article(rng, f"synthetic-{name}", paras, questions_per_paragraph, name, filler_share)]}

    return split("train", n_train), split("dev", n_dev)


def tiny_albert_dir(out_dir: str, tokenizer_dir: str, hidden: int = 128, layers: int = 2, heads: int = 2, dropout: float = 0.0) -> str:
    """A model directory with a tiny ALBERT config and the given (real) tokenizer, no weights: train it with
    `--init random`."""
    from transformers import AlbertConfig

    from .model import load_tokenizer

    tok = load_tokenizer(tokenizer_dir)
    cfg = AlbertConfig(vocab_size=len(tok), embedding_size=64, hidden_size=hidden, num_hidden_layers=layers,
                       num_attention_heads=heads, intermediate_size=hidden * 2, max_position_embeddings=512,
                       hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout, classifier_dropout_prob=dropout,
                       pad_token_id=tok.pad_token_id)
    cfg.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    return out_dir
