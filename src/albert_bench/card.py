"""The model card of a training run's best model (`RUN/best/README.md`), and pushing a model directory to the hub.

The card's YAML metadata is built with huggingface_hub's own `ModelCardData` and `EvalResult`, so
`ModelCard.load(RUN/best/README.md).data.eval_results` reads back every figure. Each result says, in
`metric_args`, which questions it covers (`questions`: all, HasAns, NoAns) and the no-answer threshold it was
computed at (`null_threshold`: the model answers "" when null score − best span score exceeds it):

    at the tuned threshold   the `null_threshold` saved in best/qa_config.json, which the model answers with. EM, F1
                             and HasAns/NoAns are computed from best/dev_predictions.json and the dev file (when it is
                             still there, unchanged); F1 equals the search's best_f1 by construction. Without the dev
                             file: the metrics log's best_f1, and best_exact, which is EM at the tuned threshold only
                             when the search found it at the same threshold (else it is labelled as the best EM over
                             thresholds, at its own threshold).
    at threshold 0           the metrics log's exact, f1, HasAns_*, NoAns_*: `evaluate_now` scores the best span of
                             every question with na_prob_thresh=0.0 over the null odds.

The metrics row is the one whose step is best/dev_predictions.json's "step". huggingface_hub is imported
inside the functions (the command line's start-up time), and nothing here imports torch.
"""

from __future__ import annotations

import os

from .errors import BenchError, all_problems
from .files import QA_CONFIG, atomic_write, read_json

CARD = "README.md"
TASK = ("question-answering", "Extractive Question Answering")
# Config settings that do not shape the model (bookkeeping, paths), left out of the card's settings table.
_NOT_SETTINGS = {"run_dir", "resume", "overwrite", "config", "report_to", "save_steps", "keep_checkpoints", "no_feature_cache",
                 "eval_batch_size", "eval_steps", "data_dir"}
_PATHS = {"model", "train_file", "dev_file", "dataset"}
_WHAT = "a run directory written by `albert-bench train`"


def _name(path: str | None) -> str:
    """A file or model named by its last part: the card is meant to be published, local paths are not."""
    if not path:
        return "-"
    return os.path.basename(str(path).rstrip("/")) or str(path)


def _tuned_from_dev(info: dict, preds: dict, threshold: float, row: dict) -> tuple[dict | None, str]:
    """The metric at the saved threshold, from best/dev_predictions.json and the dev file, or (None, why not)."""
    from .files import file_sha256
    from .metric import squad_v2_evaluate

    dev = info.get("dev_file")
    if not dev or not os.path.isfile(dev):
        return None, f"the dev data {_name(dev)} is not a file at the path the run recorded (moved, or not a local file)"
    if file_sha256(dev) != info.get("dev_sha256"):
        return None, f"the dev file {_name(dev)} has changed since training (its sha256 differs from run_info.json)"
    try:
        from .data import read_squad

        data = read_squad(dev, "the run's dev file").data  # any layout train reads: SQuAD JSON or rows
        if not isinstance(preds.get("best_text"), dict) or not isinstance(preds.get("null_odds"), dict):
            return None, "the dev file or best/dev_predictions.json is not in the expected format"
        m = squad_v2_evaluate(data, preds["best_text"], preds["null_odds"], na_prob_thresh=threshold)
    except BenchError as e:
        return None, f"the dev file could not be scored again ({e})"
    if m.get("total") != row.get("total"):
        return None, f"best/dev_predictions.json scores {m.get('total')} questions, the metrics log {row.get('total')}"
    return m, ""


def _results(row: dict, tuned: dict | None, threshold: float, dataset: dict) -> list:
    """EvalResults: (metric type, questions, threshold, value, name) for each figure the run has."""
    from huggingface_hub import EvalResult

    out = []

    def add(kind: str, questions: str, at: float, value, name: str) -> None:
        if value is None:
            return
        out.append(EvalResult(task_type=TASK[0], task_name=TASK[1], metric_type=kind, metric_value=float(value),
                              metric_name=name, metric_args={"questions": questions, "null_threshold": float(at)}, **dataset))

    where = f"tuned no-answer threshold {threshold:.4g}"
    if tuned is not None:
        add("exact_match", "all", threshold, tuned["exact"], f"EM at the {where}")
        add("f1", "all", threshold, tuned["f1"], f"F1 at the {where}")
    else:
        if row["best_exact_thresh"] == row["best_f1_thresh"]:  # the same dev answers as the saved threshold
            add("exact_match", "all", threshold, row["best_exact"], f"EM at the {where}")
        else:
            add("exact_match", "all", row["best_exact_thresh"], row["best_exact"],
                f"best EM over no-answer thresholds (at {row['best_exact_thresh']:.4g}, not the tuned one)")
        # tuned_threshold gives the same dev answers as the search's best_f1_thresh, so this is F1 at the saved one
        add("f1", "all", threshold, row["best_f1"], f"F1 at the {where}")
    add("exact_match", "all", 0.0, row.get("exact"), "EM at no-answer threshold 0")
    add("f1", "all", 0.0, row.get("f1"), "F1 at no-answer threshold 0")
    for part in ("HasAns", "NoAns"):
        if tuned is not None:
            add("exact_match", part, threshold, tuned.get(f"{part}_exact"), f"{part} EM at the {where}")
            add("f1", part, threshold, tuned.get(f"{part}_f1"), f"{part} F1 at the {where}")
        add("exact_match", part, 0.0, row.get(f"{part}_exact"), f"{part} EM at no-answer threshold 0")
        add("f1", part, 0.0, row.get(f"{part}_f1"), f"{part} F1 at no-answer threshold 0")
    return out


def _table(rows: list[tuple]) -> str:
    return "\n".join(["| " + " | ".join(str(c) for c in r) + " |" for r in rows[:1]] + ["|" + "---|" * len(rows[0])]
                     + ["| " + " | ".join(str(c) for c in r) + " |" for r in rows[1:]])


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.2f}"


def write_card(run_dir: str) -> str:
    """Write `run_dir/best/README.md`, the model card of the run's best model, and return its path.

    Reads config.json, run_info.json, metrics.jsonl, best/qa_config.json and best/dev_predictions.json (and the dev
    file, for the figures at the tuned threshold). Call it after best/ is saved and dev_predictions.json written.
    A run without best/ or without an evaluation of best/'s step: one-line BenchError naming the missing file.
    The CLI has nothing to print on success (training may mention `model card: PATH`).
    """
    from huggingface_hub import ModelCard, ModelCardData

    from . import rundir
    from .rundir import METRICS, read_metrics

    best = rundir.path(run_dir, rundir.BEST)
    if not os.path.isdir(best):
        raise BenchError(f"{best}: no such directory; the run has no best model yet (it is saved at the first evaluation)")
    qa = rundir.read(run_dir, rundir.BEST, QA_CONFIG, need="best/ lacks its tuned threshold; pass " + _WHAT)
    preds = rundir.read(run_dir, rundir.BEST, rundir.DEV_PREDICTIONS, need="best/ lacks its dev predictions; pass " + _WHAT)
    cfg = rundir.read(run_dir, rundir.CONFIG, need="pass " + _WHAT)
    info = rundir.read(run_dir, rundir.RUN_INFO, need="pass " + _WHAT)
    rows = read_metrics(run_dir)
    if not rows:
        raise BenchError(f"{os.path.join(run_dir, METRICS)}: no evaluation logged yet; the card needs the evaluation of best/")
    step = preds.get("step") if isinstance(preds, dict) else None
    row = next((r for r in rows if isinstance(r, dict) and r.get("step") == step), None)
    needed = ("exact", "f1", "best_exact", "best_f1", "best_exact_thresh", "best_f1_thresh")
    if row is not None and [k for k in needed if not isinstance(row.get(k), (int, float)) or isinstance(row.get(k), bool)]:
        raise BenchError(f"{os.path.join(run_dir, METRICS)}: the evaluation at step {step} lacks "
                         f"{', '.join(k for k in needed if not isinstance(row.get(k), (int, float)))}; the card needs the metric's keys")
    if row is None:
        raise BenchError(f"{os.path.join(run_dir, METRICS)}: no evaluation at step {step}, which best/dev_predictions.json "
                         "says best/ is from; the metrics log does not belong to this best/")
    threshold = qa.get("null_threshold") if isinstance(qa, dict) else None
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        raise BenchError(f"{os.path.join(best, 'qa_config.json')}: no numeric null_threshold; pass " + _WHAT)
    threshold = float(threshold)
    tuned, why_not = _tuned_from_dev(info, preds, threshold, row)

    dev_name, dev_sha = _name(info.get("dev_file")), info.get("dev_sha256")
    hub_dataset = str(dev_sha or "").startswith("datasets:")  # trained with --dataset NAME[:CONFIG]: dev_file is the spec
    if hub_dataset:
        name, *rest = str(info.get("dev_file") or "").split(":")
        if name.startswith(("/", ".", "~")) or name.count("/") > 1:  # a local folder: its name only, the card is for others
            name = _name(name)
        dev_name = ":".join([name, *rest])
    official = dev_name == "dev-v2.0.json" or (hub_dataset and dev_name.split(":")[0] in ("squad_v2", "rajpurkar/squad_v2"))
    dataset = {"dataset_type": dev_name.split(":")[0] if hub_dataset else "squad_v2" if official else "json",
               "dataset_name": dev_name if hub_dataset else f"SQuAD 2.0 dev ({dev_name})" if official else f"{dev_name} (SQuAD 2.0 format)",
               "dataset_split": (dev_name.split(":") + ["", ""])[2] or "validation" if hub_dataset else "validation", "dataset_revision": dev_sha}
    model = str(cfg.get("model") or info.get("model") or "")
    # A hub name (not a local directory) the weights started from is the base model; a random init has none.
    hub_base = (cfg.get("init") == "pretrained" and model and not os.path.exists(model) and not model.startswith(("/", ".", "~"))
                and model.count("/") <= 1)
    sessions = info.get("sessions") or []
    data = ModelCardData(
        model_name=f"{_name(model)}-extractive-qa", eval_results=_results(row, tuned, threshold, dataset),
        pipeline_tag="question-answering", library_name="transformers", base_model=model if hub_base else None,
        datasets=["squad_v2"] if official else None, tags=["albert-bench", "extractive-qa"] + (["squad_v2"] if official else []),
        albert_bench={"step": row["step"], "epoch": row.get("epoch"), "null_threshold": threshold,
                      "best_f1_thresh": row.get("best_f1_thresh"), "train_sha256": info.get("train_sha256"),
                      "dev_sha256": dev_sha, "hardware": info.get("hardware")},
    )

    t0 = [row.get(k) for k in ("exact", "f1", "HasAns_exact", "HasAns_f1", "NoAns_exact", "NoAns_f1")]
    results = [("no-answer threshold", "EM", "F1", "HasAns EM", "HasAns F1", "NoAns EM", "NoAns F1")]
    if tuned is not None:
        results.append((f"tuned: {threshold:.4f}", *(_fmt(tuned.get(k)) for k in ("exact", "f1", "HasAns_exact", "HasAns_f1", "NoAns_exact", "NoAns_f1"))))
    else:
        em_tuned = row["best_exact_thresh"] == row["best_f1_thresh"]
        results.append((f"tuned: {threshold:.4f}", _fmt(row["best_exact"]) if em_tuned else "-", _fmt(row["best_f1"]), "-", "-", "-", "-"))
    results.append(("0", *(_fmt(v) for v in t0)))
    notes = []
    if tuned is None:
        notes.append(f"HasAns/NoAns at the tuned threshold are not given: {why_not}.")
        if row["best_exact_thresh"] != row["best_f1_thresh"]:
            notes.append(f"The best EM over all thresholds was {row['best_exact']:.2f}, at {row['best_exact_thresh']:.4f}.")
    calibration = _calibration_text(qa.get("calibration")) + _precision_text(qa.get("bf16_check"))
    settings = [("setting", "value")] + [(k, f"`{_name(v) if k in _PATHS else v}`") for k, v in cfg.items() if k not in _NOT_SETTINGS]
    seconds = sum(s.get("seconds", 0) for s in sessions if isinstance(s, dict))
    body = f"""
# {data.model_name}

A question-answering model (`{info.get('model_type', '?')}`) fine-tuned with albert-bench for extractive question
answering, SQuAD 2.0 style (a span of the passage, or no answer), from `{_name(model)}` ({cfg.get('init')} weights).

## Dev results

Evaluated at step {row['step']} (epoch {row.get('epoch')}) on {row.get('total')} questions of `{dev_name}`
(sha256 `{dev_sha}`); the official SQuAD 2.0 metric.

The model answers "" (no answer) when the null score minus the best span's score exceeds the no-answer threshold.
It ships with the threshold tuned on dev, **{threshold:.4f}** (`null_threshold` in `qa_config.json`), chosen from
the official threshold search (best F1 {row['best_f1']:.2f} at null odds {row['best_f1_thresh']:.4f}).
Threshold 0 answers whenever the best span outscores the null answer.

{_table(results)}
{"".join(chr(10) + n for n in notes)}
{calibration}
## Training

{_table(settings)}

- training data: `{_name(info.get('train_file'))}`, sha256 `{info.get('train_sha256')}`
- dev data: `{dev_name}`, sha256 `{dev_sha}`
- hardware (last session): {info.get('hardware')}; {info.get('num_processes')} process(es), mixed precision `{info.get('mixed_precision')}`
- training time: {seconds / 60:.1f} min in {len(sessions)} session(s)

## Use

```
albert-bench ask --model DIR --question "..." --context "..."
```
"""
    card = ModelCard(f"---\n{data.to_yaml()}\n---\n{body}")
    path = os.path.join(best, CARD)
    with atomic_write(path, what="the model card") as fh:
        fh.write(str(card))
    return path


def _calibration_text(cal) -> str:
    """The card's calibration section: the held-out ECE before and after, or that the model is not calibrated."""
    try:
        h = cal["held_out"]
        return (f"""
## Calibration

Every answer carries `p_correct`, the probability that it (a span, or no answer) is an exact match, fitted on
{cal['fitted_on']:,} dev questions. On {h['questions']:,} other dev questions: expected calibration error
{h['ece_before']:.3f} for the n-best probability, **{h['ece_after']:.3f}** for p_correct; mean p_correct
{h['mean_p_correct']:.3f} against an exact-match rate of {h['exact_rate']:.3f}.
""")
    except (TypeError, KeyError, ValueError):
        return "\n## Calibration\n\nNot calibrated: answers say `p_correct: null` (`albert-bench calibrate` fits it).\n"


def _precision_text(check) -> str:
    """The card's answering-precision section: the bf16 check `--precision auto` reads, or that there is none."""
    try:
        return (f"""
## Answering precision

bf16 against fp32 on the first {check['questions']:,} dev questions ({check.get('device', '?')}): {check['same_answers']:.1%} of the
answers unchanged, F1 {check['f1_bf16']:.2f} against {check['f1_fp32']:.2f}. **{'Passed' if check['passed'] else 'Failed'}**:
`--precision auto` (the default) answers in {'bf16 where the CPU or GPU computes it natively, else fp32' if check['passed'] else 'fp32'}.
""")
    except (TypeError, KeyError, ValueError):
        return ("\n## Answering precision\n\nNo bf16 check (`train` makes it only where the hardware computes bf16 natively): "
                "`--precision auto` answers in fp32; `albert-bench check-precision` makes the check.\n")


# ---------------------------------------------------------------- push


def check_model_dir(model_dir: str) -> None:
    """A directory `push` can publish: config.json, weights and a model card that parses; else one line naming
    every missing piece."""
    from huggingface_hub import ModelCard, constants

    if not os.path.isdir(model_dir):
        raise BenchError(f"{model_dir}: no such model directory; pass the best/ folder of a training run")
    # The weight files model.has_weights knows, named by the hub's constants (model.py would import torch).
    weights = (constants.SAFETENSORS_SINGLE_FILE, constants.SAFETENSORS_INDEX_FILE, constants.PYTORCH_WEIGHTS_NAME,
               constants.PYTORCH_WEIGHTS_NAME + ".index.json")
    config = os.path.join(model_dir, constants.CONFIG_NAME)
    missing = []
    if not os.path.isfile(config):
        missing.append(constants.CONFIG_NAME)
    elif not isinstance(cfg := _json_or_none(config), dict) or "model_type" not in cfg:
        missing.append(f"model {constants.CONFIG_NAME} (the one there has no model_type)")
    if not any(os.path.isfile(os.path.join(model_dir, w)) for w in weights):
        missing.append(f"weights ({weights[0]} or {weights[2]})")
    card = os.path.join(model_dir, constants.REPOCARD_NAME)
    if not os.path.isfile(card):
        missing.append(f"model card {constants.REPOCARD_NAME} (`albert-bench train` writes it into RUN/best; "
                       "for an older run write it with `albert-bench card RUN`)")
    if missing:
        hint = f"; pass {os.path.join(model_dir, 'best')}" if os.path.isdir(os.path.join(model_dir, "best")) else ""
        raise BenchError(f"{model_dir}: not a model directory to push, it lacks: {', '.join(missing)}{hint}")
    try:
        ModelCard.load(card)
    except Exception as e:  # noqa: BLE001 - yaml and huggingface_hub raise their own types for bad metadata
        raise BenchError(f"{card}: its metadata does not parse ({str(e).splitlines()[0][:160]}); rewrite it with `albert-bench card RUN`") from None


def _line(e: BaseException) -> str:
    """An exception's message on one line (the hub client's span several: a heading, then one line per problem)."""
    return " ".join(str(e).split())[:300]


def _json_or_none(path: str):
    try:
        return read_json(path, "a model config")
    except BenchError:
        return None


def _check_repo_id(repo_id: str) -> None:
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as e:
        raise BenchError(f"--repo-id {repo_id!r}: not a hub repository name ({str(e).splitlines()[0][:160]}); use NAME or USER/NAME") from None


def hub_login(token: str | None) -> str:
    """The token to push with, after one request (5 s at most, no retries) to the hub's whoami: one line when
    offline, without a token, with a token the hub refuses, or with the hub out of reach."""
    import json
    import urllib.error
    import urllib.request

    from huggingface_hub import constants, get_token

    if constants.HF_HUB_OFFLINE:
        raise BenchError("HF_HUB_OFFLINE is set: cannot push to the Hugging Face hub; unset it where the hub is reachable")
    token = token or get_token()
    if not token:
        raise BenchError("not logged in to the Hugging Face hub (no token): run `hf auth login`, or set HF_TOKEN to a token with write access")
    url = f"{constants.ENDPOINT}/api/whoami-v2"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"}), timeout=5) as r:
            me = json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        if e.code in (401, 403):
            raise BenchError(f"the Hugging Face hub refuses the token (HTTP {e.code} from {url}): run `hf auth login`, "
                             "or set HF_TOKEN to a valid token with write access") from None
        raise BenchError(f"the Hugging Face hub answered HTTP {e.code} for {url}; try again later") from None
    except (urllib.error.URLError, OSError, TimeoutError, ValueError) as e:
        reason = getattr(e, "reason", None) or e
        raise BenchError(f"cannot reach the Hugging Face hub ({constants.ENDPOINT}: {reason}); check the network or HF_ENDPOINT") from None
    role = ((me.get("auth") or {}).get("accessToken") or {}).get("role") if isinstance(me, dict) else None
    if role == "read":
        raise BenchError("the Hugging Face token is read-only: create one with write access, then `hf auth login` or set HF_TOKEN")
    return token


def push(model_dir: str, repo_id: str, private: bool = False, token: str | None = None) -> str:
    """Upload `model_dir` (RUN/best: weights, tokenizer, qa_config.json, README.md card) to the hub model repository
    `repo_id` (NAME or USER/NAME), creating it (private if asked) when it does not exist; return the repo's URL.

    Every problem found before any upload is one BenchError line, all at once: not a model directory (no config,
    weights or card), a bad repo id, HF_HUB_OFFLINE set, no token (run `hf auth login` or set HF_TOKEN), a token
    the hub refuses, the hub out of reach (one 5 s request). A failed upload is one line too.
    The CLI should print `pushed DIR to URL` (URL: the returned value). An existing repo keeps its visibility.
    """
    from .progress import quiet_libraries

    quiet_libraries()
    _, _, token = all_problems(lambda: check_model_dir(model_dir), lambda: _check_repo_id(repo_id), lambda: hub_login(token))

    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    # HfHubHTTPError derives from the HTTP library's own error type (httpx2 now, requests before): its failures
    # without a status (a dropped connection) are that base, or an OSError.
    network = tuple(b for b in HfHubHTTPError.__bases__ if b is not Exception) + (OSError,)
    api = HfApi(token=token)
    try:
        url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        api.upload_folder(repo_id=url.repo_id, folder_path=model_dir, repo_type="model",
                          commit_message=f"albert-bench push of {_name(os.path.abspath(model_dir))}",
                          ignore_patterns=[".*", "*.tmp*"],
                          # The repo becomes the folder: files an earlier push left (other weights, an old
                          # model.onnx) would otherwise load beside the new ones. The hub's .gitattributes stays.
                          delete_patterns=["*"])
    except HfHubHTTPError as e:
        status = getattr(e.response, "status_code", None)
        hint = "; check that the token may write to that namespace (`hf auth login`)" if status in (401, 403) else ""
        raise BenchError(f"push to {repo_id} failed (HTTP {status}: {_line(e)}){hint}") from None
    except (*network, RuntimeError, ValueError) as e:  # ValueError: the hub refused README.md's metadata, among others
        raise BenchError(f"push to {repo_id} failed ({type(e).__name__}: {_line(e)})") from None
    return str(url)
