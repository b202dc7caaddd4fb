"""The model card of best/ (read back with the real huggingface_hub.ModelCard) and `push` (the real hub client,
in a fresh process per case so that its environment-driven settings are what a user's would be)."""

import base64
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from albert_bench.errors import BenchError
from albert_bench.metric import squad_v2_evaluate


@pytest.fixture
def run(trained, tmp_path):
    """A copy of the trained run (its data beside it) that a test may change."""
    run_dir, data_dir = trained
    copy = tmp_path / "data"
    shutil.copytree(data_dir, copy, ignore=shutil.ignore_patterns("checkpoints", ".lock"))
    for name in ("config.json", "run_info.json"):
        f = copy / "run" / name
        f.write_text(f.read_text().replace(str(data_dir), str(copy)))
    return copy / "run"


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _best_row(run: Path) -> dict:
    step = json.loads((run / "best" / "dev_predictions.json").read_text())["step"]
    return next(r for r in _jsonl(run / "metrics.jsonl") if r["step"] == step)


def _card(run: Path):
    from huggingface_hub import ModelCard

    from albert_bench.card import write_card

    path = write_card(str(run))
    assert path == str(run / "best" / "README.md")
    return ModelCard.load(path)


def _by_label(card) -> dict:
    """(metric type, questions, threshold) → value, from the card's eval_results; each label once."""
    out = {}
    for r in card.data.eval_results:
        key = (r.metric_type, r.metric_args["questions"], r.metric_args["null_threshold"])
        assert key not in out, f"two results labelled {key}"
        out[key] = r.metric_value
    return out


def _at_zero(row: dict) -> dict:
    return {(kind, part, 0.0): row[f"{prefix}{key}"] for part, prefix in (("all", ""), ("HasAns", "HasAns_"), ("NoAns", "NoAns_"))
            for kind, key in (("exact_match", "exact"), ("f1", "f1"))}


def _tuned(m: dict, thr: float) -> dict:
    return {(kind, part, thr): m[f"{prefix}{key}"] for part, prefix in (("all", ""), ("HasAns", "HasAns_"), ("NoAns", "NoAns_"))
            for kind, key in (("exact_match", "exact"), ("f1", "f1"))}


def _dev_metric(run: Path, thr: float) -> dict:
    info = json.loads((run / "run_info.json").read_text())
    preds = json.loads((run / "best" / "dev_predictions.json").read_text())
    data = json.loads(Path(info["dev_file"]).read_text())["data"]
    return squad_v2_evaluate(data, preds["best_text"], preds["null_odds"], na_prob_thresh=thr)


# ---------------------------------------------------------------- the card


def test_card_reports_the_metrics_row_of_best_at_zero_and_at_the_tuned_threshold(run):
    card = _card(run)
    row = _best_row(run)
    assert row["step"] != _jsonl(run / "metrics.jsonl")[-1]["step"], "the fixture's best/ should not be its last evaluation"
    thr = json.loads((run / "best" / "qa_config.json").read_text())["null_threshold"]
    info = json.loads((run / "run_info.json").read_text())
    assert thr != 0.0 and row["best_exact_thresh"] == row["best_f1_thresh"]  # so best_exact is EM at the tuned one too

    got = _by_label(card)
    # The tuned figures recomputed from the dev file agree with the official search's best EM and F1...
    assert got[("exact_match", "all", thr)] == pytest.approx(row["best_exact"], abs=1e-9)
    assert got[("f1", "all", thr)] == pytest.approx(row["best_f1"], abs=1e-9)
    # ...and the threshold-0 figures are the metrics row's exact, f1, HasAns_*, NoAns_*.
    for key, value in _at_zero(row).items():
        assert got[key] == value, key
    # HasAns and NoAns at the tuned threshold add up to the tuned F1, weighted by their question counts.
    for kind, best in (("exact_match", row["best_exact"]), ("f1", row["best_f1"])):
        mix = (got[(kind, "HasAns", thr)] * row["HasAns_total"] + got[(kind, "NoAns", thr)] * row["NoAns_total"]) / row["total"]
        assert mix == pytest.approx(best, abs=1e-9)
    assert got == {**_at_zero(row), **_tuned(_dev_metric(run, thr), thr)}

    for r in card.data.eval_results:
        assert (r.task_type, r.dataset_revision, r.dataset_split) == ("question-answering", info["dev_sha256"], "validation")
        assert "extractive" in r.task_name.lower() and "dev.json" in r.dataset_name
        at = r.metric_args["null_threshold"]
        assert ("threshold 0" in r.metric_name) == (at == 0.0) and ("tuned" in r.metric_name) == (at == thr)
        assert r.metric_name.startswith({"all": "", "HasAns": "HasAns ", "NoAns": "NoAns "}[r.metric_args["questions"]])
        words = r.metric_name.split()
        assert words[0 if r.metric_args["questions"] == "all" else 1] == {"exact_match": "EM", "f1": "F1"}[r.metric_type]
    meta = card.data.to_dict()
    assert meta["pipeline_tag"] == "question-answering"
    assert meta["albert_bench"]["train_sha256"] == info["train_sha256"] and meta["albert_bench"]["dev_sha256"] == info["dev_sha256"]
    assert meta["albert_bench"]["null_threshold"] == thr and meta["albert_bench"]["step"] == row["step"]
    cfg = json.loads((run / "config.json").read_text())
    for needle in (info["train_sha256"], info["dev_sha256"], info["hardware"], f"{thr:.4f}", f"| lr | `{cfg['lr']}` |",
                   f"| epochs | `{cfg['epochs']}` |", f"| seed | `{cfg['seed']}` |"):
        assert needle in card.text, needle
    assert str(run.parent) not in card.content, "local paths stay out of a card meant for publishing"
    # the calibration section states the held-out ECE that qa_config.json records
    held = json.loads((run / "best" / "qa_config.json").read_text())["calibration"]["held_out"]
    assert f"{held['ece_before']:.3f} for the n-best probability, **{held['ece_after']:.3f}** for p_correct" in card.text
    assert [p.name for p in (run / "best").iterdir() if ".tmp" in p.name] == []


def test_tuned_figures_come_from_the_saved_threshold_em_and_f1_apart(run):
    """Predictions with a word too many on some answerable questions: EM and F1 part, so a swap shows."""
    preds_file = run / "best" / "dev_predictions.json"
    preds = json.loads(preds_file.read_text())
    answered = [q for q, t in preds["best_text"].items() if t][:40:3]
    for q in answered:
        preds["best_text"][q] += " indeed"
    thr = json.loads((run / "best" / "qa_config.json").read_text())["null_threshold"]
    # A few right answers with null odds between 0 and the saved threshold: answered at one and not at the other, so
    # the figures at the two differ whatever odds the trained model happens to give.
    dev = json.loads(Path(json.loads((run / "run_info.json").read_text())["dev_file"]).read_text())["data"]
    gold = {q["id"]: q["answers"][0]["text"] for a in dev for p in a["paragraphs"] for q in p["qas"] if q["answers"]}
    for q in [q for q in gold if q not in answered][:5]:
        preds["best_text"][q], preds["null_odds"][q] = gold[q], thr / 2
    preds_file.write_text(json.dumps(preds))
    want = _dev_metric(run, thr)
    assert want["exact"] != want["f1"] and want["HasAns_exact"] != want["HasAns_f1"]
    assert want["HasAns_exact"] != _dev_metric(run, 0.0)["HasAns_exact"]  # the threshold matters here
    got = _by_label(_card(run))
    assert got == {**_at_zero(_best_row(run)), **_tuned(want, thr)}


def _fake_row(run: Path, **changes) -> dict:
    """The best row's metric values replaced by distinct ones (EM ≠ F1, 0 ≠ tuned, HasAns ≠ NoAns)."""
    rows = _jsonl(run / "metrics.jsonl")
    step = _best_row(run)["step"]
    values = {"exact": 61.0, "f1": 62.5, "HasAns_exact": 41.0, "HasAns_f1": 43.5, "NoAns_exact": 81.0, "NoAns_f1": 82.25,
              "best_exact": 71.0, "best_exact_thresh": 1.25, "best_f1": 72.5, "best_f1_thresh": 2.5, **changes}
    rows = [{**r, **values} if r["step"] == step else r for r in rows]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return _best_row(run)


def test_without_the_dev_file_the_card_reports_the_row_and_says_what_it_lacks(run):
    info = json.loads((run / "run_info.json").read_text())
    os.remove(info["dev_file"])
    row = _fake_row(run)
    thr = json.loads((run / "best" / "qa_config.json").read_text())["null_threshold"]
    card = _card(run)
    got = _by_label(card)
    # best_exact was found at another threshold than the tuned one: labelled at its own, as the best over thresholds
    assert got == {**_at_zero(row), ("f1", "all", thr): row["best_f1"], ("exact_match", "all", row["best_exact_thresh"]): row["best_exact"]}
    best_em = next(r for r in card.data.eval_results if r.metric_args["null_threshold"] == row["best_exact_thresh"])
    assert "best EM over" in best_em.metric_name and "not the tuned" in best_em.metric_name
    assert "not a file at the path the run recorded" in card.text and "HasAns/NoAns at the tuned threshold are not given" in card.text

    # found at the same threshold as the best F1: then it is EM at the tuned threshold
    (run / "best" / "README.md").unlink()
    row = _fake_row(run, best_exact_thresh=2.5)
    got = _by_label(_card(run))
    assert got == {**_at_zero(row), ("f1", "all", thr): row["best_f1"], ("exact_match", "all", thr): row["best_exact"]}


def test_a_changed_dev_file_is_not_used_for_the_tuned_figures(run):
    info = json.loads((run / "run_info.json").read_text())
    dev = Path(info["dev_file"])
    dev.write_text(dev.read_text() + "\n")  # the same questions, another sha256
    row = _fake_row(run, best_exact_thresh=2.5)
    thr = json.loads((run / "best" / "qa_config.json").read_text())["null_threshold"]
    card = _card(run)
    assert _by_label(card) == {**_at_zero(row), ("f1", "all", thr): row["best_f1"], ("exact_match", "all", thr): row["best_exact"]}
    assert "has changed since training" in card.text


@pytest.mark.parametrize("damage, named", [
    (lambda run: shutil.rmtree(run / "best"), "best"),
    (lambda run: (run / "metrics.jsonl").unlink(), "metrics.jsonl"),
    (lambda run: (run / "best" / "dev_predictions.json").unlink(), "dev_predictions.json"),
    (lambda run: (run / "best" / "qa_config.json").unlink(), "qa_config.json"),
    (lambda run: (run / "metrics.jsonl").write_text(json.dumps({**_jsonl(run / "metrics.jsonl")[0], "step": 1}) + "\n"), "step"),
])
def test_write_card_without_what_it_needs_is_one_line_naming_it(run, damage, named):
    from albert_bench.card import write_card

    card = run / "best" / "README.md"
    before = card.read_bytes() if card.exists() else None  # `train` wrote one
    damage(run)
    with pytest.raises(BenchError) as e:
        write_card(str(run))
    assert named in str(e.value) and "\n" not in str(e.value)
    assert (card.read_bytes() if card.exists() else None) == (None if named == "best" else before)  # nothing written


# ---------------------------------------------------------------- push

GOOD_TOKEN = "hf_good_token_for_the_fake_hub"


class FakeHub(ThreadingHTTPServer):
    """The endpoints the real huggingface_hub client uses to create a repo and commit a folder (legacy HTTP path:
    preupload, LFS batch + PUT, commit), answering as the hub does, and recording what arrives."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.base = f"http://127.0.0.1:{self.server_address[1]}"
        self.requests: list[tuple[str, str]] = []
        self.created: list[dict] = []
        self.lfs: dict[str, bytes] = {}
        self.commits: list[list[dict]] = []
        self.validated: list[str] = []
        self.files: dict[str, dict[str, int]] = {}  # repo → path → size: what its commits left there


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def _send(self, code: int, obj) -> None:
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _authorized(self) -> bool:
        if self.headers.get("Authorization") == f"Bearer {GOOD_TOKEN}":
            return True
        self._send(401, {"error": "Invalid username or password."})
        return False

    def do_GET(self):
        hub = self.server
        hub.requests.append(("GET", self.path))
        if self.path == "/api/whoami-v2" and self._authorized():
            self._send(200, {"type": "user", "name": "tester", "auth": {"type": "access_token", "accessToken": {"role": "write"}}})
        elif self.path.startswith("/api/models/") and "/tree/main" in self.path:  # list_repo_files: one page
            repo = self.path.split("/api/models/", 1)[1].split("/tree/", 1)[0]
            self._send(200, [{"type": "file", "path": p, "size": n, "oid": "b" * 40} for p, n in sorted(hub.files.get(repo, {}).items())])
        elif self.path != "/api/whoami-v2":
            self._send(404, {"error": "not found"})

    def do_PUT(self):
        hub = self.server
        hub.requests.append(("PUT", self.path))
        if self.path.startswith("/lfs-upload/"):
            hub.lfs[self.path.rsplit("/", 1)[1]] = self._body()
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self):
        hub = self.server
        hub.requests.append(("POST", self.path))
        body = self._body()
        if not self._authorized():
            return
        if self.path == "/api/validate-yaml":  # the client checks README.md's metadata before uploading
            import yaml

            content = json.loads(body)["content"]
            hub.validated.append(content)
            meta = yaml.safe_load(content.split("---")[1]) if content.startswith("---") else None
            if isinstance(meta, dict) and meta.get("model-index"):
                self._send(200, {"errors": [], "warnings": []})
            else:
                self._send(400, {"errors": [{"message": "\"model-index\" is required in this fake hub"}]})
        elif self.path == "/api/repos/create":
            payload = json.loads(body)
            hub.created.append(payload)
            self._send(200, {"url": f"{hub.base}/{payload.get('organization') or 'tester'}/{payload['name']}"})
        elif "/preupload/" in self.path:
            files = json.loads(body)["files"]
            self._send(200, {"files": [{"path": f["path"], "uploadMode": "lfs" if f["path"].endswith(".safetensors") else "regular",
                                        "shouldIgnore": False} for f in files]})
        elif self.path.endswith(".git/info/lfs/objects/batch"):
            objects = json.loads(body)["objects"]
            self._send(200, {"transfer": "basic", "objects": [
                {"oid": o["oid"], "size": o["size"], "authenticated": True,
                 "actions": {"upload": {"href": f"{hub.base}/lfs-upload/{o['oid']}", "expires_in": 3600}}} for o in objects]})
        elif "/commit/" in self.path:
            lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
            hub.commits.append(lines)
            repo = self.path.split("/api/models/", 1)[1].split("/commit/", 1)[0]
            files = hub.files.setdefault(repo, {})
            for line in lines:
                if line["key"] == "deletedFile":
                    files.pop(line["value"]["path"], None)
                elif line["key"] in ("file", "lfsFile"):
                    files[line["value"]["path"]] = line["value"].get("size") or len(base64.b64decode(line["value"]["content"]))
            self._send(200, {"commitUrl": f"{hub.base}/{repo}/commit/{'a' * 40}", "commitOid": "a" * 40, "pullRequestUrl": None})
        else:
            self._send(404, {"error": "not found"})


@pytest.fixture
def hub():
    server = FakeHub()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


PUSH = """
import sys, time
from albert_bench.card import push
from albert_bench.errors import BenchError
t = time.perf_counter()
try:
    url = push(sys.argv[1], sys.argv[2], private=sys.argv[3] == "private")
except BenchError as e:
    print(f"error: {e}", file=sys.stderr)
    print(f"{time.perf_counter() - t:.2f}")
    sys.exit(2)
print(url)
print(f"{time.perf_counter() - t:.2f}")
"""


def _push(tmp_path, model_dir, repo_id="albert-test", private=False, **env):
    """`push` in a fresh process whose Hugging Face settings come only from `env` (home: an empty folder)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    home = tmp_path / "hf-home"
    home.mkdir(exist_ok=True)
    clean.update({"HF_HOME": str(home), "HF_HUB_OFFLINE": "0", "HF_HUB_DISABLE_TELEMETRY": "1", **env})
    p = subprocess.run([sys.executable, "-c", PUSH, str(model_dir), repo_id, "private" if private else "public"],
                       env=clean, capture_output=True, text=True, timeout=60)
    out = p.stdout.split()
    return p.returncode, out[:-1], p.stderr.strip(), float(out[-1]) if out else None


def _one_line(rc, err) -> str:
    assert rc == 2, err
    assert err.startswith("error: ") and "\n" not in err, err
    return err


@pytest.fixture
def best(run) -> Path:
    _card(run)
    return run / "best"


def test_push_offline_is_one_line_at_once(tmp_path, best, hub):
    rc, _, err, seconds = _push(tmp_path, best, HF_HUB_OFFLINE="1", HF_ENDPOINT=hub.base, HF_TOKEN=GOOD_TOKEN)
    # the event, not the seconds: no request reached the hub (it would have answered one at once)
    assert "HF_HUB_OFFLINE" in _one_line(rc, err)
    assert hub.requests == []


def test_push_to_an_unreachable_hub_is_one_line_within_seconds(tmp_path, best):
    with socket.socket() as s:  # a port nothing listens on: connections are refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rc, _, err, seconds = _push(tmp_path, best, HF_ENDPOINT=f"http://127.0.0.1:{port}", HF_TOKEN=GOOD_TOKEN)
    assert "cannot reach the Hugging Face hub" in _one_line(rc, err) and f"127.0.0.1:{port}" in err
    assert seconds < 5


def test_push_to_a_hub_that_never_answers_gives_up_after_one_request_of_5_s(tmp_path, best):
    with socket.socket() as s:  # accepts connections (the backlog) and never answers
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        rc, _, err, seconds = _push(tmp_path, best, HF_ENDPOINT=f"http://127.0.0.1:{s.getsockname()[1]}", HF_TOKEN=GOOD_TOKEN)
    assert "cannot reach the Hugging Face hub" in _one_line(rc, err) and "timed out" in err
    assert 4.5 < seconds < 8


def test_push_without_a_token_says_to_log_in(tmp_path, best, hub):
    rc, _, err, _ = _push(tmp_path, best, HF_ENDPOINT=hub.base)
    assert "no token" in _one_line(rc, err) and "hf auth login" in err and "HF_TOKEN" in err
    assert hub.requests == []  # known without asking the hub


def test_push_with_a_token_the_hub_refuses_is_one_line_after_one_request(tmp_path, best, hub):
    rc, _, err, _ = _push(tmp_path, best, HF_ENDPOINT=hub.base, HF_TOKEN="hf_expired")
    assert "refuses the token (HTTP 401" in _one_line(rc, err) and "hf auth login" in err
    assert hub.requests == [("GET", "/api/whoami-v2")]


def test_push_of_what_is_not_a_model_directory_names_what_it_lacks(tmp_path, best, run, hub):
    env = dict(HF_ENDPOINT=hub.base, HF_TOKEN=GOOD_TOKEN)
    rc, _, err, _ = _push(tmp_path, run, **env)  # the run directory instead of its best/
    assert "lacks" in _one_line(rc, err) and "weights" in err and "README.md" in err and f"pass {run / 'best'}" in err
    assert "no model_type" in err  # the run's config.json is the training config, not a model's
    (best / "README.md").unlink()
    rc, _, err, _ = _push(tmp_path, best, **env)
    assert "model card README.md" in _one_line(rc, err) and "weights" not in err and "config.json" not in err
    rc, _, err, _ = _push(tmp_path, tmp_path / "nowhere", **env)
    assert "no such model directory" in _one_line(rc, err)
    assert hub.created == [] and hub.commits == []


def test_push_reports_every_problem_at_once(tmp_path):
    rc, _, err, _ = _push(tmp_path, tmp_path / "nowhere", repo_id="bad..name", HF_HUB_OFFLINE="1")
    assert "3 problems" in _one_line(rc, err) and "no such model directory" in err and "bad..name" in err and "HF_HUB_OFFLINE" in err


def test_push_uploads_the_folder_through_the_real_client(tmp_path, best, hub):
    # HF_HUB_DISABLE_XET: the fake hub speaks the HTTP/LFS upload protocol, not Xet storage (the client's default).
    rc, out, err, _ = _push(tmp_path, best, repo_id="albert-test", private=True, HF_ENDPOINT=hub.base, HF_TOKEN=GOOD_TOKEN,
                            HF_HUB_DISABLE_XET="1")
    assert rc == 0, err
    assert out == [f"{hub.base}/tester/albert-test"]
    assert hub.created == [{"name": "albert-test", "organization": None, "visibility": "private", "type": "model"}]
    assert len(hub.commits) == 1 and hub.validated and set(hub.validated) == {(best / "README.md").read_text()}
    regular = {v["value"]["path"]: base64.b64decode(v["value"]["content"]) for v in hub.commits[0] if v["key"] == "file"}
    lfs = {v["value"]["path"]: v["value"]["oid"] for v in hub.commits[0] if v["key"] == "lfsFile"}
    local = {p.name: p.read_bytes() for p in best.iterdir() if p.is_file()}
    assert set(regular) | set(lfs) == set(local) and "README.md" in regular and "model.safetensors" in lfs
    assert all(regular[name] == local[name] for name in regular)
    for name, oid in lfs.items():
        assert oid == hashlib.sha256(local[name]).hexdigest() and hub.lfs[oid] == local[name]
    # Pushed again, from a folder without one of those files: the repo holds the folder, not a mix of both pushes
    # (a stale file beside new weights would load as part of the new model); the hub's .gitattributes stays.
    hub.files["tester/albert-test"][".gitattributes"] = 10
    again = tmp_path / "again"
    shutil.copytree(best, again)
    (again / "dev_predictions.json").unlink()
    rc, _, err, _ = _push(tmp_path, again, repo_id="albert-test", HF_ENDPOINT=hub.base, HF_TOKEN=GOOD_TOKEN, HF_HUB_DISABLE_XET="1")
    assert rc == 0, err
    assert [v["value"]["path"] for v in hub.commits[1] if v["key"] == "deletedFile"] == ["dev_predictions.json"]
    assert set(hub.files["tester/albert-test"]) == {p.name for p in again.iterdir()} | {".gitattributes"}


def test_train_writes_the_card_with_best_and_the_cli_rewrites_it(run, capsys):
    """`train` leaves best/README.md beside the best model; `albert-bench card RUN` writes the same card again."""
    from huggingface_hub import ModelCard

    from albert_bench.cli import main

    written = (run / "best" / "README.md").read_text()
    card = ModelCard.load(run / "best" / "README.md")
    row = _best_row(run)
    assert _at_zero(row).items() <= _by_label(card).items()
    assert main(["card", str(run)]) == 0
    assert capsys.readouterr().out.strip() == str(run / "best" / "README.md")
    # the same results (the text may differ: the test model is cached across changes to card.py, and sessions end after the card)
    assert _by_label(ModelCard.load(run / "best" / "README.md")) == _by_label(ModelCard(written))


def test_push_cli_offline_is_one_line(best, capsys, monkeypatch):
    from albert_bench.cli import main

    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    assert main(["push", "--model", str(best), "--repo-id", "me/tiny-qa"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "HF_HUB_OFFLINE" in err


def test_card_says_what_precision_auto_answers_in(run):
    """The bf16 check train made (on hardware with native bf16) or its absence, as the card tells it."""
    cfg_path = run / "best" / "qa_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["bf16_check"] = {"questions": 400, "same_answers": 0.9975, "f1_fp32": 98.5, "f1_bf16": 98.25, "device": "cpu", "passed": True}
    cfg_path.write_text(json.dumps(cfg))
    text = _card(run).text
    assert "## Answering precision" in text and "99.8% of the\nanswers unchanged, F1 98.25 against 98.50. **Passed**" in text
    cfg["bf16_check"]["passed"] = False
    cfg_path.write_text(json.dumps(cfg))
    assert "**Failed**:\n`--precision auto` (the default) answers in fp32." in _card(run).text
    cfg["bf16_check"] = None
    cfg_path.write_text(json.dumps(cfg))
    assert "No bf16 check" in _card(run).text


def test_push_of_a_run_directory_pushes_its_best_model(run, best, monkeypatch, capsys):
    """As ask, evaluate, serve and export do: RUN stands for RUN/best, said in one line (offline here, so the push
    itself stops at its own one line, after the mapping)."""
    from huggingface_hub import constants

    from albert_bench.cli import main

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert main(["push", "--model", str(run), "--repo-id", "me/x"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == f"warning: {run} is a training run: pushing its best model, {run / 'best'}"
    assert err[-1].startswith("error: ") and "HF_HUB_OFFLINE" in err[-1] and "lacks" not in err[-1]
