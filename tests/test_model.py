"""Loading tokenizers: the ids a model sees must not depend on which transformers release converted its tokenizer."""

import json

import pytest

from conftest import ALBERT_DIR
from albert_bench.model import load_tokenizer

USER_PIECES = ["(", ")", '"', "-", ".", "–", "£", "€"]  # spiece.model's user-defined pieces (type 4), ids 5-12


def test_albert_tokenizer_gives_sentencepiece_ids_on_every_dev_text(dev, albert_tok, sentencepiece_ids):
    texts = sorted({e.context for e in dev.examples}) + [e.question for e in dev.examples]
    ids = [e.ids for e in albert_tok.backend_tokenizer.encode_batch(texts, add_special_tokens=False)]
    differ = [t for t, got in zip(texts, ids) if got != sentencepiece_ids(t)]
    assert len(texts) == 1204 + 11873 and differ == []


@pytest.mark.parametrize("as_special", [False, True], ids=["as-converted-by-5.24", "saved-by-5.24-and-reloaded"])
def test_a_tokenizer_that_splits_at_user_pieces_is_repaired_on_load(tmp_path, dev, sentencepiece_ids, as_special):
    """transformers 5.24 made ALBERT's user-defined pieces AddedTokens (and, once saved, extra special tokens):
    the text was cut at each one and the next word got a second '▁' prefix. Build that state with today's
    release, save it as a model directory would hold it, and load it."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(ALBERT_DIR))
    if as_special:
        tok.add_special_tokens({"extra_special_tokens": USER_PIECES})
    else:
        tok.add_tokens(USER_PIECES)
    texts = [e.context for e in dev.examples[:400:20]] + ["Saint-Clair-sur-Epte (911) cost £5.", "The city of Grace is Vienna."]
    assert [tok.backend_tokenizer.encode(t, add_special_tokens=False).ids for t in texts] != [sentencepiece_ids(t) for t in texts]
    tok.save_pretrained(tmp_path / "broken")

    fixed = load_tokenizer(str(tmp_path / "broken"))
    assert [fixed.backend_tokenizer.encode(t, add_special_tokens=False).ids for t in texts] == [sentencepiece_ids(t) for t in texts]
    assert fixed("The city of Grace is Vienna.", add_special_tokens=False).word_ids() == [0, 1, 2, 3, 4, 5, 5]
    # what a run saves from it is repaired too: a plain load of the saved copy tokenizes as SentencePiece
    fixed.save_pretrained(tmp_path / "saved")
    again = AutoTokenizer.from_pretrained(str(tmp_path / "saved"))
    assert [again.backend_tokenizer.encode(t, add_special_tokens=False).ids for t in texts] == [sentencepiece_ids(t) for t in texts]
    assert not set(USER_PIECES) & {t["content"] for t in json.loads((tmp_path / "saved" / "tokenizer.json").read_text())["added_tokens"]}


def test_named_special_tokens_stay(albert_tok):
    enc = albert_tok("who?", "there [MASK].")
    assert enc["input_ids"][0] == albert_tok.cls_token_id == 2 and albert_tok.mask_token_id in enc["input_ids"]
    assert albert_tok.sep_token_id == 3 and albert_tok.pad_token_id == 0


# ---------------------------------------------------------------- answering faster, same answers (issue 26)

def _albert(tmp_path):
    import torch

    from albert_bench.model import load_model
    from albert_bench.synthetic import tiny_albert_dir

    tiny_albert_dir(str(tmp_path / "tiny"), str(ALBERT_DIR), hidden=64, layers=2, heads=2)
    torch.manual_seed(0)
    model, tok = load_model(str(tmp_path / "tiny"), init="random")
    batch = tok(["Who wrote the book, and when?"] * 2, ["Ann wrote it in 1990, far from home.", "Bob did."], padding=True, return_tensors="pt")
    return model.eval(), batch


def test_fused_gelu_is_the_same_function(tmp_path):
    import torch
    from transformers.activations import GELUTanh, NewGELUActivation

    from albert_bench.model import fuse_gelu

    model, batch = _albert(tmp_path)
    assert model.config.hidden_act == "gelu_new"
    with torch.inference_mode():
        before = model(**batch).start_logits
        assert fuse_gelu(model) == 1  # ALBERT shares one layer: one activation module
        after = model(**batch).start_logits
    assert not any(type(m) is NewGELUActivation for m in model.modules()) and any(type(m) is GELUTanh for m in model.modules())
    assert torch.allclose(before, after, atol=1e-5) and model.config.hidden_act == "gelu_new"  # a saved model keeps its config
    assert fuse_gelu(model) == 0


def test_weights_held_in_bf16_answer_as_autocast_over_fp32_weights(tmp_path):
    """The same bf16 values reach the same kernels: bit for bit what autocast gave with fp32 weights."""
    import torch

    from albert_bench.model import hold_weights_in_bf16

    model, batch = _albert(tmp_path)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        before = model(**batch).start_logits
        hold_weights_in_bf16(model)
        after = model(**batch).start_logits
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert linears and all(m.weight.dtype == torch.bfloat16 for m in linears)
    assert all(m.weight.dtype == torch.float32 for m in model.modules() if isinstance(m, (torch.nn.LayerNorm, torch.nn.Embedding)))
    assert torch.equal(before, after)
