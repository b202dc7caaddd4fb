"""scripts/setup.sh as a newcomer runs it: a no-op when everything is there, patient with a busy apt."""

import fcntl
import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_setup_is_a_quiet_no_op_when_everything_is_present():
    r = subprocess.run(["bash", "scripts/setup.sh"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout == "" and r.stderr == "", (r.stdout, r.stderr)


def test_apt_waits_for_a_lock_another_installer_holds(tmp_path):
    """apt_retry around a real apt-get whose cache and lists live in a private folder (nothing of the host's apt is
    touched, no root needed): a held lock is waited for, any other failure is reported at once."""
    apt = ["apt-get", "-o", f"Dir::Cache={tmp_path}/cache", "-o", f"Dir::State::Lists={tmp_path}/lists"]
    for d in ("cache/archives/partial", "lists/partial"):
        (tmp_path / d).mkdir(parents=True)
    held = open(tmp_path / "cache" / "archives" / "lock", "w")
    fcntl.lockf(held, fcntl.LOCK_EX)  # what a running apt-get or unattended-upgrades holds
    env = {**os.environ, "APT_EVERY": "1"}
    first = subprocess.Popen(["bash", "-c", '. scripts/apt_retry.sh && apt_retry "$@"', "-", *apt, "clean"], cwd=REPO,
                             stderr=subprocess.PIPE, text=True, env=env)
    err = ""
    while "waiting for it" not in err:  # it found the lock held and said so ...
        line = first.stderr.readline()
        assert line, f"apt_retry ended without waiting: {err}"
        err += line
    assert first.poll() is None  # ... and is still waiting while the lock is held
    fcntl.lockf(held, fcntl.LOCK_UN)
    held.close()
    assert first.wait(timeout=60) == 0, first.stderr.read()
    # a failure that is not the lock is reported at once, not retried
    r = subprocess.run(["bash", "-c", '. scripts/apt_retry.sh && apt_retry "$@"', "-", *apt, "install", "-y", "no-such-package-xyz"],
                       cwd=REPO, capture_output=True, text=True, timeout=120, env={**env, "APT_EVERY": "100"})
    assert r.returncode != 0 and "no-such-package-xyz" in r.stderr and "waiting" not in r.stderr


def test_the_suite_runs_with_the_pinned_versions():
    """setup.sh installs constraints.txt: the libraries this suite imports are the versions pinned there (a release
    that moved behaviour shows up in scripts/check_latest.sh, named, not here)."""
    from importlib.metadata import version

    pins = dict(line.strip().split("==", 1) for line in (REPO / "constraints.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    core = ["transformers", "tokenizers", "accelerate", "datasets", "huggingface_hub", "fastapi", "uvicorn", "onnxruntime", "safetensors"]
    got = {name: version(name) for name in core}
    want = {name: pins.get(name, pins.get(name.replace("_", "-"))) for name in core}
    assert got == want
