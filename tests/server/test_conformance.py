"""WebSocket conformance: the Autobahn|Testsuite fuzzing client against /v1/echo on the server's own
uvicorn stack. autobahntestsuite runs on Python 2.7 (pyenv's); .ci/run installs it into
build/autobahn. The summary of the last run is kept in tests/autobahn/summary.json."""

from __future__ import annotations

import collections
import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, Server

PY27 = Path(os.environ.get("TRANSLATOR_PY27", Path.home() / ".pyenv" / "versions" / "2.7.18" / "bin" / "python"))
LIB = ROOT / "build" / "autobahn"
CASES = ["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "9.1.*", "10.*", "12.1.*", "13.1.*"]
REQUIRED = os.environ.get("TRANSLATOR_REQUIRE_AUTOBAHN") == "1"


@pytest.mark.skipif(
    not REQUIRED and not (PY27.exists() and (LIB / "autobahntestsuite").is_dir()),
    reason="needs Python 2.7 (pyenv) with autobahntestsuite in build/autobahn (.ci/run installs it)",
)
def test_autobahn_core_cases(tmp_path: Path) -> None:
    server = Server(env={"TRANSLATOR_ECHO": "1", "TRANSLATOR_MAX_MESSAGE_BYTES": str(16 * 1024 * 1024)})
    try:
        spec = {
            "outdir": str(tmp_path / "report"),
            "servers": [{"agent": "translator", "url": f"{server.ws}/v1/echo"}],
            "cases": CASES,
            "exclude-cases": [],
            "exclude-agent-cases": {},
        }
        (tmp_path / "spec.json").write_text(json.dumps(spec))
        code = (
            f"import site, sys; site.addsitedir({str(LIB)!r}); "
            "sys.argv = ['wstest', '-m', 'fuzzingclient', '-s', 'spec.json']; "
            "from autobahntestsuite import wstest; wstest.run()"
        )
        proc = subprocess.run([str(PY27), "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    finally:
        server.stop()
    results = json.loads((tmp_path / "report" / "index.json").read_text())["translator"]
    behaviour = collections.Counter(r["behavior"] for r in results.values())
    failed = sorted(case for case, r in results.items() if r["behavior"] == "FAILED")
    summary = {
        "cases": CASES,
        "ws": "wsproto",
        "total": len(results),
        "behavior": dict(sorted(behaviour.items())),
        "close_behavior": dict(sorted(collections.Counter(r["behaviorClose"] for r in results.values()).items())),
        "failed": failed,
        "note": "UNIMPLEMENTED = the permessage-deflate cases (12.x, 13.x): compression is off by design.",
    }
    if os.environ.get("TRANSLATOR_WRITE_AUTOBAHN_SUMMARY"):
        (ROOT / "tests" / "autobahn" / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    assert failed == []
    assert behaviour["OK"] > 200
