"""One question over several passages (a retriever's top documents): one answer, scores comparable across passages,
the same text found twice merged with both locations, one no-answer decision — in the Python API, `ask` and the
HTTP API."""

import json

import pytest

from albert_bench.cli import main
from albert_bench.errors import BenchError
from albert_bench.qa import merge_passages

GRACE = "The city of Grace is Vienna. The job of Oscar is pilot."
LENA = "The pet of Lena is a hamster. The job of Mia is baker."
# A character outside the BMP before the answer (2 UTF-16 units, 1 code point) that the tokenizer's NFKC reads as a
# plain "T": the offsets must count the original text, and the tiny model sees a sentence like its training data
# (an emoji would be <unk>, which the tiny model answers next to only on some seeds)
EMOJI = "𝐓he city of Grace is Vienna."


def _alt(text, start, score):
    return {"text": text, "start": start, "end": start + len(text), "score": score, "probability": 0.0, "passage": None, "locations": None}


def _res(null, *alts):
    return {"no_answer_score": null, "alternatives": list(alts)}


def test_merge_scores_alike_keeps_every_location_and_decides_no_answer_once():
    per = [_res(2.0, _alt("Paris", 5, 4.0), _alt("Rome", 0, 1.0)),
           _res(1.0, _alt("Vienna", 21, 9.0), _alt("Paris", 3, 6.0)),
           _res(3.0, _alt("Vienna", 0, 8.0))]
    m = merge_passages(per, threshold=0.0, top_k=5)
    assert (m["answer"], m["passage"], m["start"], m["end"], m["score"]) == ("Vienna", 1, 21, 27, 9.0)
    assert m["no_answer_score"] == 1.0 and m["null_odds"] == 1.0 - 9.0  # those of the passage answered from
    assert m["locations"] == [{"passage": 1, "start": 21, "end": 27}, {"passage": 2, "start": 0, "end": 6}]
    texts = [a["text"] for a in m["alternatives"]]
    assert texts == ["Vienna", "Paris", "Rome"]  # by score, each text once
    paris = m["alternatives"][1]
    assert (paris["passage"], paris["start"], paris["score"]) == (1, 3, 6.0)  # its best place
    assert [w["passage"] for w in paris["locations"]] == [0, 1]
    import math

    z = math.exp(1.0) + math.exp(9.0) + math.exp(6.0) + math.exp(1.0)  # null, Vienna, Paris, Rome
    assert m["alternatives"][0]["probability"] == pytest.approx(math.exp(9.0) / z)
    # the same candidates under a threshold the best span does not clear: no answer for the whole question
    m = merge_passages(per, threshold=-9.0, top_k=2)
    assert m["no_answer"] and m["answer"] == "" and m["passage"] is None and m["locations"] == [] and len(m["alternatives"]) == 2
    assert m["null_odds"] == 1.0 - 9.0 > m["threshold"]  # the passage closest to answering: still above the threshold


def test_each_passage_decides_no_answer_as_it_would_alone():
    """A distractor's span is not an answer because another passage's no-answer score is low: each passage's best
    span is held against its own no-answer score, and the question takes the best span of the passages that answer."""
    # alone, neither passage answers (null odds +1.0 and +0.5); against the other's low no-answer score "A" would
    m = merge_passages([_res(5.0, _alt("A", 0, 4.0)), _res(1.0, _alt("B", 0, 0.5))], threshold=0.0)
    assert m["no_answer"] and m["null_odds"] == 0.5 and m["no_answer_score"] == 1.0
    # only the second answers alone: its span is the answer, though the first's scores higher
    m = merge_passages([_res(5.0, _alt("A", 0, 4.0)), _res(1.0, _alt("B", 7, 2.0))], threshold=0.0)
    assert (m["answer"], m["passage"], m["start"], m["null_odds"], m["no_answer_score"]) == ("B", 1, 7, -1.0, 1.0)
    assert [a["text"] for a in m["alternatives"]] == ["A", "B"]  # the candidates themselves stay ranked by score
    # the same text in a passage that does not answer and one that does: it points at the one answered from
    m = merge_passages([_res(9.0, _alt("C", 3, 8.5)), _res(1.0, _alt("C", 11, 2.0))], threshold=0.0)
    assert (m["answer"], m["passage"], m["start"], m["score"]) == ("C", 1, 11, 2.0)
    assert [w["passage"] for w in m["locations"]] == [0, 1]
    with pytest.raises(BenchError, match="contexts: empty"):
        merge_passages([], 0.0)


@pytest.fixture(scope="module")
def qa(trained):
    from albert_bench.qa import QuestionAnswerer

    return QuestionAnswerer.from_pretrained(str(trained[0] / "best"))


def test_one_passage_in_a_list_answers_as_the_passage_alone(qa):
    one = qa.answer("What is the city of Grace?", GRACE)
    many = qa.answer_passages("What is the city of Grace?", [GRACE])
    for key in ("answer", "start", "end", "score", "no_answer", "no_answer_score", "null_odds", "p_correct"):
        assert many[key] == pytest.approx(one[key]) if isinstance(one[key], float) else many[key] == one[key], key
    assert many["passage"] == 0 and many["locations"] == [{"passage": 0, "start": one["start"], "end": one["end"]}]


def test_the_answer_names_its_passage_and_offsets_into_it(qa):
    contexts = [LENA, GRACE, "Nothing here. " + GRACE]
    res = qa.answer_passages("What is the city of Grace?", contexts, top_k=5)
    assert res["answer"] == "Vienna" and not res["no_answer"]
    assert contexts[res["passage"]][res["start"]:res["end"]] == "Vienna"
    assert sorted(w["passage"] for w in res["locations"]) == [1, 2]  # found twice, merged, both kept
    for w in res["locations"]:
        assert contexts[w["passage"]][w["start"]:w["end"]] == "Vienna"
    for alt in res["alternatives"]:
        assert contexts[alt["passage"]][alt["start"]:alt["end"]] == alt["text"]
    assert len({a["text"] for a in res["alternatives"]}) == len(res["alternatives"])
    assert 0.0 <= res["p_correct"] <= 1.0
    with pytest.raises(BenchError, match="contexts: pass a list"):
        qa.answer_passages("What?", "a string, not a list")
    with pytest.raises(BenchError, match="context 1: empty"):
        qa.answer_passages("What?", [GRACE, "  "])


def test_ask_over_several_files_or_a_json_list(trained, tmp_path, capsys):
    best = str(trained[0] / "best")
    (tmp_path / "a.txt").write_text(LENA)
    (tmp_path / "b.txt").write_text(GRACE)
    (tmp_path / "list.json").write_text(json.dumps([LENA, GRACE]))
    (tmp_path / "LIST.JSON").write_text(json.dumps([LENA, GRACE]))  # the suffix in capitals: still a list, not one passage of JSON source
    for files in ([tmp_path / "a.txt", tmp_path / "b.txt"], [tmp_path / "list.json"], [tmp_path / "LIST.JSON"]):
        assert main(["ask", "--model", best, "--question", "What is the city of Grace?", "--context-file", *map(str, files)]) == 0
        first = capsys.readouterr().out.splitlines()[0]
        assert first.startswith("Vienna\t(passage 1, chars 21-27, score ")
    assert main(["ask", "--model", best, "--question", "What is the city of Grace?", "--context-file", str(tmp_path / "list.json"), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["passage"] == 1 and res["locations"] == [{"passage": 1, "start": 21, "end": 27}]
    for bad, needle in ((json.dumps({"a": 1}), "expected a JSON list of passages"), ("[1, 2]", "expected a JSON list of passages"),
                        ("[", "list.json: "), (json.dumps([GRACE, " "]), "list.json item 1")):
        (tmp_path / "list.json").write_text(bad)
        assert main(["ask", "--model", best, "--question", "Who?", "--context-file", str(tmp_path / "list.json")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and needle in err[0], err


def test_http_contexts_answer_with_utf16_offsets_per_passage_and_limits_over_all(qa):
    from dataclasses import replace

    from fastapi.testclient import TestClient

    from albert_bench.serve import ServeLimits, create_app

    with TestClient(create_app(qa, allowed_hosts=["testserver"])) as c:
        r = c.post("/v1/answer", json={"question": "What is the city of Grace?", "contexts": [LENA, EMOJI], "top_k": 2})
        assert r.status_code == 200, r.text
        res = r.json()
        assert (res["answer"], res["passage"], res["start"], res["start_utf16"]) == ("Vienna", 1, EMOJI.index("Vienna"), EMOJI.index("Vienna") + 1)
        at = EMOJI.index("Vienna")
        assert res["locations"] == [{"passage": 1, "start": at, "end": at + 6, "start_utf16": at + 1, "end_utf16": at + 7}]
        # no answer in any passage: no passage, and no offsets in either unit
        r = c.post("/v1/answer", json={"question": "What is the pet of Grace?", "contexts": [EMOJI, GRACE]})
        res = r.json()
        assert res["no_answer"] and (res["passage"], res["start"], res["start_utf16"], res["end_utf16"]) == (None, None, None, None), res
        for body in ({"question": "Q?", "context": GRACE, "contexts": [GRACE]}, {"question": "Q?"}):
            r = c.post("/v1/answer", json=body)
            assert r.status_code == 422 and r.json() == {"error": "body: send `context` (one passage) or `contexts` (a list of passages), one of the two"}
        r = c.post("/v1/answer", json={"question": "Q?", "contexts": []})
        assert r.status_code == 422 and r.json() == {"error": "contexts: empty; send at least one passage"}
        r = c.post("/v1/answer", json={"question": "Q?", "contexts": [GRACE] * 33})
        assert r.status_code == 413 and r.json() == {"error": "contexts: 33 passages; the limit is 32 (--max-passages, at most --max-queue)"}
        r = c.post("/v1/answer:batch", json={"items": [{"question": "Q?", "contexts": [GRACE]}]})
        assert r.status_code == 422 and "not a field of this request" in r.json()["error"]  # one passage per batch item
    with TestClient(create_app(qa, ServeLimits(max_queue=4, max_batch_items=4), allowed_hosts=["testserver"])) as c:
        r = c.post("/v1/answer", json={"question": "Q?", "contexts": [GRACE] * 5})  # more than the queue could ever hold
        assert r.status_code == 413 and r.json() == {"error": "contexts: 5 passages; the limit is 4 (--max-passages, at most --max-queue)"}
    one = qa.count_windows([("What is the city of Grace?", GRACE)])[0]
    limits = replace(ServeLimits(), max_request_windows=2 * one)  # each passage fits; three together do not
    with TestClient(create_app(qa, limits, allowed_hosts=["testserver"])) as c:
        r = c.post("/v1/answer", json={"question": "What is the city of Grace?", "contexts": [GRACE] * 3})
        assert r.status_code == 413 and r.json()["error"].startswith(f"contexts: needs {3 * one} windows of the model's input; the limit is {2 * one}")


def test_predict_rows_with_a_list_of_passages(trained, tmp_path, capsys):
    rows = [{"id": "a", "question": "What is the city of Grace?", "context": [LENA, GRACE]},
            {"id": "b", "question": "What is the city of Grace?", "context": GRACE},
            {"id": "c", "question": "What is the city of Grace?", "context": []},
            {"id": "d", "question": "What is the city of Grace?", "context": [GRACE, 7]}]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out.jsonl"
    assert main(["predict", "--model", str(trained[0] / "best"), "--input", str(tmp_path / "in.jsonl"), "--output", str(out)]) == 1
    got = {line["id"]: line for line in map(json.loads, out.read_text().splitlines())}
    assert got["a"]["answer"] == "Vienna" and got["a"]["passage"] == 1 and got["a"]["locations"] == [{"passage": 1, "start": 21, "end": 27}]
    assert got["b"]["answer"] == "Vienna" and "passage" not in got["b"] and 0 <= got["b"]["p_correct"] <= 1
    assert got["c"]["error"] == "context: an empty list; pass a passage, or a list of passages"
    assert got["d"]["error"] == "context.1: should be a string, got 7"
