"""Oracle: PCA by numpy's SVD of the centred data (float64).

Reads DIR/X.npy; writes DIR/svd_components.npy (k × d), DIR/svd_variance.npy (k) for the k
given on the command line. Runs with Debian's python3.
"""
import pathlib
import sys

import numpy as np

d = pathlib.Path(sys.argv[1])
k = int(sys.argv[2])
x = np.load(d / "X.npy").astype(np.float64)
xc = x - x.mean(axis=0)
_, s, vt = np.linalg.svd(xc, full_matrices=False)
np.save(d / "svd_components.npy", np.ascontiguousarray(vt[:k]))
np.save(d / "svd_variance.npy", s[:k] ** 2 / (x.shape[0] - 1))
