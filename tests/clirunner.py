"""Running ``crate-cli`` in a subprocess, as a shell would: for the command-line tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def crate_cli(
    *args: str, library: Path | None = None, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``crate-cli [--library LIBRARY] ARGS`` from the checkout; CRATE_LIBRARY is unset unless ``env``
    sets it."""
    command = [sys.executable, "-m", "crate_app.cli.main"]
    if library is not None:
        command += ["--library", str(library)]
    environment = {k: v for k, v in os.environ.items() if k != "CRATE_LIBRARY"} | (env or {})
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, cwd=ROOT, env=environment, timeout=timeout
    )


def json_lines(text: str) -> list[dict]:
    """The JSON objects printed one per line (``--json`` output)."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]
