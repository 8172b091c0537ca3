"""examples/seed_workflow.py — the article's loop in Python — runs on a small demo dataset and
finds more errors than random review of the same budget."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

from conftest import run_cli

SOURCE = pathlib.Path(os.environ.get("CORECLEAN_SOURCE_DIR", pathlib.Path(__file__).parents[2]))


def test_seed_workflow(cli, tmp_path):
    run_cli(cli, "make-demo", "--out", tmp_path / "data", "--images", 400)
    run_cli(cli, "embed", "--coco", tmp_path / "data" / "annotations.json", "--images",
            tmp_path / "data" / "images", "--out", tmp_path / "features")
    done = subprocess.run(
        [sys.executable, str(SOURCE / "examples" / "seed_workflow.py"), "--data", tmp_path / "data",
         "--features", tmp_path / "features", "--out", tmp_path / "out", "--iterations", "3",
         "--export-n", "10"], capture_output=True, text=True, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "out" / "iterations.json").read_text())
    assert len(summary["iterations"]) == 3 and len(summary["auc"]) == 4
    assert summary["reviewed"] == 30
    assert summary["fixed"] >= 2 * summary["random_expected"], summary
    pytest.importorskip("matplotlib")
    for png in ("importance_histogram.png", "auc.png"):
        assert (tmp_path / "out" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
