"""The protocol-level class benchmark at its smallest, against a real `streamlit run`: two students without a
browser open the lesson and move the noise slider twice each; every change's run finishes and shows new images,
with no exception element and no failed request."""

import json
import subprocess
import sys

from tests.conftest import ROOT

FIELDS = {"page_ready_ms", "page_ready_server_ms", "change_ms", "change_server_ms", "interactions_per_s",
          "server_cpu_s_per_interaction", "server_cpu_s_per_change_with_opens", "tree_peak_mb", "driver_cpu_s"}  # fmt: skip


def test_two_protocol_students_change_the_noise_and_see_new_images():
    out = subprocess.run([sys.executable, "benchmarks/bench_protocol_class.py", "--students", "2", "--changes", "2",
                          "--pause", "0.2", "--no-flow", "--no-alone", "--assets", "html", "--timeout", "120"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    (result,) = json.loads(out.stdout.strip().splitlines()[-1])["classes"]
    assert result["errors"] == result["exception_elements"] == 0, result["error_messages"]
    assert result["opens"] == 2 and result["open_images_p50"] >= 32  # the gallery's 32 tiles arrived
    assert result["changes"] == result["changes_finished"] == 4
    assert result["images_changed"] == 4  # each change of the noise showed other images
    assert FIELDS <= result.keys() and {"p50", "p95"} == result["change_ms"].keys()
