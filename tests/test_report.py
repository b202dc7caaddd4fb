"""`albert-bench report` on the tiny model's real training run."""

import base64
import io
import json
import shutil
from html.parser import HTMLParser

import pytest
from PIL import Image

from albert_bench.cli import main
from albert_bench.report import PUBLISHED, load_run


class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.imgs, self.cells, self.tables = [], [], 0
        self._cell = None

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.imgs.append(dict(attrs)["src"])
        elif tag == "table":
            self.tables += 1
        elif tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.cells.append(self._cell)
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


@pytest.fixture(scope="module")
def report(trained, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "report.html"
    assert main(["report", str(trained[0]), "--out", str(out)]) == 0
    page = Page()
    page.feed(out.read_text())
    return out, page


def test_html_is_self_contained_and_images_are_png(report):
    out, page = report
    text = out.read_text()
    assert "http://" not in text and "https://" not in text and "<script" not in text
    assert len(page.imgs) == 6  # loss, scores, threshold, no-answer PR, answer length, reliability (calibration)
    for src in page.imgs:
        assert src.startswith("data:image/png;base64,")
        png = base64.b64decode(src.split(",", 1)[1])
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert Image.open(io.BytesIO(png)).size[0] > 100


def test_tables_hold_metrics_jsonl_values(report, trained):
    _, page = report
    rows = [json.loads(line) for line in open(trained[0] / "metrics.jsonl")]
    for r in rows:
        for k in ("exact", "f1", "HasAns_exact", "NoAns_exact", "best_f1", "eval_loss", "train_loss"):
            assert f"{r[k]:.2f}" in page.cells, k
    assert str(rows[-1]["step"]) in page.cells


def test_error_kinds_add_up_and_match_the_metric(trained):
    run = load_run(str(trained[0]))
    a = run.analysis
    assert sum(a["counts"].values()) == a["total"] == 400
    best = max(run.metrics, key=lambda r: r["best_f1"])
    # "correct" at the saved threshold is exactly the best EM the metric reported for that evaluation
    assert 100 * a["counts"]["correct"] / a["total"] == pytest.approx(best["best_exact"], abs=0.3)
    assert max(a["f1"]) == pytest.approx(best["best_f1"], abs=1e-6)  # the threshold curve peaks at the tuned F1
    assert a["em"][0] <= max(a["em"])


def test_markdown_twin_and_leaderboard(trained, tmp_path):
    second = tmp_path / "second"
    shutil.copytree(trained[0] / "best", second / "best")
    for f in ("metrics.jsonl", "config.json", "run_info.json"):
        shutil.copy(trained[0] / f, second / f)
    rows = [json.loads(line) for line in open(second / "metrics.jsonl")][:2]  # a shorter run, without TensorBoard
    (second / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["report", str(trained[0]), str(second), "--out", str(tmp_path / "r") + "/"]) == 0  # a directory: both inside
    out = tmp_path / "r" / "report.html"
    md = (tmp_path / "r" / "report.md").read_text()
    assert md.count("## Run ") == 2 and "## Leaderboard" in md
    for line in md.splitlines():
        if line.startswith("![") :
            assert (tmp_path / "r" / line.split("(")[1].rstrip(")")).exists()
    page = Page()
    page.feed(out.read_text())
    assert len(page.imgs) == 12  # 6 a run: both runs share best/, and its calibration


def test_published_comparison_for_albert_base(trained):
    run = load_run(str(trained[0]))
    run.config["model"] = "albert-base-v2"
    from albert_bench.report import published_rows

    rows = published_rows(run)
    assert [r[2:] for r in rows[2:]] == [[f"{em:.2f}", f"{f1:.2f}"] for _, _, em, f1 in PUBLISHED["albert-base-v2"]]
    assert "tuned" in rows[2][1] and rows[3][1] == "threshold 0"


def test_bad_run_dir(tmp_path, capsys):
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "x.html")]) == 2
    assert "no metrics.jsonl" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "nope")]) == 2


def test_out_suffix_decides_what_is_written_and_is_checked_first(trained, tmp_path, capsys):
    run = str(trained[0])
    assert main(["report", run, "--out", str(tmp_path / "r.md")]) == 0
    md = (tmp_path / "r.md").read_text()
    assert md.startswith("# albert-bench report") and "<html" not in md and not (tmp_path / "r.html").exists()
    assert any(p.suffix == ".png" for p in tmp_path.iterdir())  # its plots beside it
    # a second Markdown report in the same folder keeps its own plots: each report links only images named for it
    import re
    import shutil

    other = tmp_path / "other" / trained[0].name  # another run with the same folder name
    shutil.copytree(trained[0], other, ignore=shutil.ignore_patterns("checkpoints", ".lock"))
    assert main(["report", str(other), run, "--out", str(tmp_path / "s.md")]) == 0
    for name, runs in (("r", 1), ("s", 2)):
        linked = re.findall(r"\]\(([^)]+\.png)\)", (tmp_path / f"{name}.md").read_text())
        assert linked and all(f.startswith(f"{name}-") and (tmp_path / f).exists() for f in linked)
        assert len(set(linked)) == len(linked) and len(linked) % runs == 0
    assert (tmp_path / "r.md").read_text() == md
    assert main(["report", run, "--out", str(tmp_path / "p.html")]) == 0
    assert (tmp_path / "p.html").read_text().startswith("<!doctype html>") and not (tmp_path / "p.md").exists()
    both = tmp_path / "both"
    both.mkdir()
    assert main(["report", run, "--out", str(both)]) == 0
    assert (both / "report.html").exists() and (both / "report.md").exists()
    capsys.readouterr()
    assert main(["report", run, "--out", str(tmp_path / "r.txt")]) == 2
    err = capsys.readouterr().err
    assert "ends neither in .html" in err and "Traceback" not in err


def test_markdown_report_escapes_html_in_dataset_text(trained):
    from albert_bench.report import build

    run = load_run(str(trained[0]))
    evil = '<img src=x onerror="alert(1)">'
    worst = run.analysis["worst_answerable"] or run.analysis["worst_unanswerable"]
    worst[0] = {**worst[0], "question": evil + " who?", "gold": [evil], "prediction": "<script>x()</script>"}
    page, md, _ = build([run])
    assert "<img src=x" not in md and "<script>" not in md and "&lt;img src=x onerror=\"alert(1)\"&gt; who?" in md
    assert "<img src=x" not in page  # as the HTML report always did


def test_report_polish_headers_and_whole_number_ticks(trained, monkeypatch):
    from albert_bench import report as R

    run = load_run(str(trained[0]))
    _, md, _ = R.build([run])
    assert "|  |  |" not in md and "| fact | value |" in md  # no empty header row
    figures = {}
    real_png = R._png

    def keep(fig):
        fig.canvas.draw()  # ticks are placed when the figure is drawn
        figures[len(figures)] = [(ax.get_title(), list(ax.get_xticks()), list(ax.get_yticks())) for ax in fig.axes]
        return real_png(fig)

    monkeypatch.setattr(R, "_png", keep)
    R.plots(run)
    by_title = {title: (x, y) for axes in figures.values() for title, x, y in axes}
    for title in ("training loss per step", "dev EM / F1 per evaluation"):
        assert all(float(t).is_integer() for t in by_title[title][0]), (title, by_title[title][0])
    x, y = by_title["answer length (words; 40 = 40 or more)"]
    assert all(float(t).is_integer() for t in x) and all(float(t).is_integer() for t in y)
    held = json.load(open(trained[0] / "best" / "qa_config.json"))["calibration"]["held_out"]
    assert f"reliability on {held['questions']:,} held-out dev questions" in by_title


def test_one_tuned_threshold_named_an_empty_error_table_said_and_a_folder_without_slash(trained, tmp_path):
    from albert_bench.report import build, published_rows

    run = load_run(str(trained[0]))
    best = max(run.metrics, key=lambda r: r["best_f1"])
    saved = json.load(open(trained[0] / "best" / "qa_config.json"))["null_threshold"]
    row = published_rows(run)[1][1]
    # the saved threshold (what best/ answers with) is the one the report names as best/'s; the official search's
    # value, when it differs, is said to be that
    assert f"{saved:.2f}" in row and (abs(saved - best["best_f1_thresh"]) <= 5e-3 or f"official search reports {best['best_f1_thresh']:.2f}" in row)
    run.analysis["threshold"] = best["best_f1_thresh"] + 1.0  # as when the halfway rule moved it
    assert "best/ answers with" in published_rows(run)[1][1]
    run.analysis["worst_unanswerable"] = []
    page, md, _ = build([run])
    section = md.split("#### Unanswerable questions answered most confidently")[1].split("###")[0]
    assert "None at the saved threshold." in section and "| id |" not in section
    # --out NEW_DIR without a trailing slash is a folder to create, both reports inside
    assert main(["report", str(trained[0]), "--out", str(tmp_path / "new")]) == 0
    assert (tmp_path / "new" / "report.html").exists() and (tmp_path / "new" / "report.md").exists()


def test_em_is_drawn_visibly_over_an_equal_f1(trained, monkeypatch):
    from albert_bench import report as R

    figures = []
    monkeypatch.setattr(R, "_png", lambda fig: figures.append(fig) or b"")
    R.plots(load_run(str(trained[0])))
    for fig in figures[1:3]:  # EM/F1 per evaluation, EM/F1 against the threshold
        lines = {line.get_label().split(" ")[0]: line for line in fig.axes[0].get_lines()}
        em, f1 = lines["EM"], lines["F1"]
        drawn_later = fig.axes[0].get_lines().index(em) > fig.axes[0].get_lines().index(f1)
        # on top of F1 (later, or higher zorder) and dashed, so an equal F1 line shows through its gaps
        assert (em.get_zorder() > f1.get_zorder() or (em.get_zorder() == f1.get_zorder() and drawn_later)) and em.get_linestyle() == "--"


def test_a_report_that_cannot_be_written_leaves_the_earlier_one_whole(report, trained, tmp_path):
    """A real fault: the second `report` may write files of half the page's size (RLIMIT_FSIZE, as a full disk
    would). The earlier page stays byte for byte, no temporary file is left, and the error is one line."""
    import os
    import resource
    import signal
    import subprocess
    import sys

    out = tmp_path / "report.html"
    shutil.copy(report[0], out)
    before = out.read_bytes()
    limit = len(before) // 2

    def cap():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() then fails with EFBIG instead of killing the process
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    r = subprocess.run([sys.executable, "-m", "albert_bench", "report", str(trained[0]), "--out", str(out)],
                       capture_output=True, text=True, preexec_fn=cap, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert r.stderr.strip().splitlines()[-1].startswith("error: could not write the report ") and str(out) in r.stderr
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_a_report_is_never_written_into_a_model_s_folder(trained, tmp_path, capsys):
    """best/README.md is the model card `push` uploads: --out there (a file, or the folder) is one line."""
    run = tmp_path / "run"
    shutil.copytree(trained[0], run)
    card = (run / "best" / "README.md").read_bytes()
    for out in (run / "best" / "README.md", run / "best"):
        assert main(["report", str(run), "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [f"error: --out {out}: {run / 'best'} holds a model (config.json); write the report to another folder"]
    assert main(["report", str(run), "--out", str(run / "best" / "sub") + "/"]) == 2  # nor anywhere below it
    assert f"lies inside {run / 'best'}, which holds a model" in capsys.readouterr().err
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "report.md").write_text("# my hand-written report\n")
    assert main(["report", str(run), "--out", str(mine)]) == 2  # the folder form: a report.md of the user's stays
    assert "already holds report.md, which albert-bench did not write there" in capsys.readouterr().err
    assert main(["report", str(run), "--out", str(tmp_path / "ours")]) == 0 and main(["report", str(run), "--out", str(tmp_path / "ours")]) == 0
    assert (run / "best" / "README.md").read_bytes() == card and not list((run / "best").glob("*.png"))
    assert main(["report", str(run), "--out", str(run / "report.html")]) == 0  # beside the run's files is fine
