"""Fixtures of the Python package's tests: data with known label errors, the CLI, and the
shared real data when present."""

import os
import pathlib
import subprocess

import numpy as np
import pytest

CLI = os.environ.get("CORECLEAN_CLI", "")
SHARED = pathlib.Path(os.environ.get("CORECLEAN_SHARED_DIR", "../shared"))


def blobs_with_flips(n_per_class=400, d=24, classes=3, flips=30, seed=0):
    """Gaussian classes (means 1.6 apart along separate axes) with `flips` labels changed to
    another class. Returns X (float32), y_given, y_true, flipped row indices."""
    rng = np.random.default_rng(seed)
    x = []
    for c in range(classes):
        centre = np.zeros(d)
        centre[c] = 3.0
        x.append(rng.normal(0.0, 1.0, (n_per_class, d)) + centre)
    x = np.vstack(x).astype(np.float32)
    y_true = np.repeat(np.arange(classes), n_per_class).astype(np.int64)
    flipped = np.sort(rng.choice(len(y_true), flips, replace=False))
    y = y_true.copy()
    y[flipped] = (y[flipped] + rng.integers(1, classes, flips)) % classes
    return x, y, y_true, flipped


@pytest.fixture
def blobs():
    return blobs_with_flips()


@pytest.fixture
def cli():
    if not CLI or not os.path.exists(CLI):
        pytest.skip("the coreclean CLI is not built (CORECLEAN_CLI unset)")
    return CLI


def run_cli(cli, *args):
    return subprocess.run([cli, "--quiet", *map(str, args)], check=True, capture_output=True,
                          text=True).stdout


@pytest.fixture
def digits():
    folder = SHARED / "data" / "digits"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent: the shared real data (scikit-learn's digits) is needed")
    files = {p.stem: p for p in folder.glob("*.npy")}
    x = np.load(files.get("X", folder / "X.npy")).astype(np.float32)
    y = np.load(files.get("y", folder / "y.npy")).astype(np.int64)
    return x, y
