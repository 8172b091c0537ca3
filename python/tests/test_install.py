"""The package installs with pip from the clone, offline, against Debian's setuptools, into a
venv that sees Debian's numpy — the command docs/python.md gives. The extension comes from this
build's folder (CORECLEAN_CMAKE_BUILD_DIR), so the test does not compile the library again."""

import os
import pathlib
import subprocess
import sys

import pytest

SOURCE = pathlib.Path(os.environ.get("CORECLEAN_SOURCE_DIR", pathlib.Path(__file__).parents[2]))


def test_pip_install_offline_into_a_venv(tmp_path):
    build_dir = os.environ.get("CORECLEAN_CMAKE_BUILD_DIR")
    if not build_dir:
        pytest.skip("CORECLEAN_CMAKE_BUILD_DIR is not set (run through ctest)")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "--no-build-isolation",
                          "--no-index", "--quiet", str(SOURCE)], capture_output=True, text=True,
                         env={**os.environ, "PIP_NO_INPUT": "1", "PYTHONPATH": ""})
    assert pip.returncode == 0, pip.stdout + pip.stderr
    code = ("import coreclean, numpy as np; "
            "x = np.random.default_rng(0).standard_normal((200, 4)).astype(np.float32); "
            "y = (x[:, 0] > 0).astype(int); "
            "print(coreclean.__file__); print(int(coreclean.find_label_issues(x, y).sum()))")
    run = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True,
                         text=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": ""})
    assert run.returncode == 0, run.stderr
    where, issues = run.stdout.split()
    assert where.startswith(str(venv)), where  # the installed copy, not the build tree
    assert 0 <= int(issues) < 200
