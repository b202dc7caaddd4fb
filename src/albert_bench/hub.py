"""The Hugging Face hub, asked once: reachable or not, in 5 s at most, never through a client's retry loop
(huggingface_hub and datasets retry for ~25 s before they admit the network is down)."""

from __future__ import annotations

import os
import urllib.error
import urllib.request

PROBE_TIMEOUT_S = 5


def endpoint() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT


def offline_mode() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE) or os.environ.get("HF_DATASETS_OFFLINE", "").upper() in ("1", "ON", "YES", "TRUE")


def probe(api_path: str) -> tuple[int | None, str | None]:
    """(HTTP status, None) when the hub answered `api_path` (an error status included), (None, reason) when it
    could not be reached."""
    url = f"{endpoint()}{api_path}"
    try:
        with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT_S) as r:
            return r.status, None
    except urllib.error.HTTPError as e:
        return e.code, None
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        return None, f"{endpoint()}: {getattr(e, 'reason', None) or e}"


def offline_unless_reachable(api_path: str) -> str | None:
    """Ask the hub once; when it cannot be reached, switch the hub clients to offline mode for this process (so
    that cached copies are used at once) and return why. None when the hub answered."""
    if offline_mode():
        return "HF_HUB_OFFLINE is set"
    _, reason = probe(api_path)
    if reason is None:
        return None
    from huggingface_hub import constants

    constants.HF_HUB_OFFLINE = True
    try:
        import datasets.config

        datasets.config.HF_HUB_OFFLINE = True
    except ImportError:
        pass
    return reason
