"""coreclean.dask.build on a LocalCluster of 2 worker processes equals the one-process build."""

import numpy as np
import pytest

import coreclean
from coreclean import CoresetTreeServiceLG

da = pytest.importorskip("dask.array", reason="Debian's python3-dask is not installed")
distributed = pytest.importorskip("distributed", reason="Debian's python3-distributed is not installed")
import coreclean.dask  # noqa: E402  (needs dask)


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=40)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def blobs(n, d, k, seed, flip=0.06):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d)) * 0.8
    y = rng.integers(0, k, n)
    x = (centres[y] + rng.normal(size=(n, d)) + 5.0).astype(np.float32)
    flipped = rng.random(n) < flip
    return x, np.where(flipped, (y + 1) % k, y).astype(np.int64) + 10


def assert_same(one, many):
    a, b = one._tree.scores(), many._tree.scores()
    np.testing.assert_array_equal(a["idx"], b["idx"])
    np.testing.assert_array_equal(a["suggested_label"], b["suggested_label"])
    # Features and held-out models are the same bits; the class Gram matrices sum in another
    # order.
    assert np.array_equal(one._tree.features(), many._tree.features())
    assert np.max(np.abs(a["importance"] - b["importance"])) < 1e-12
    for label in np.unique(a["label"]):
        top_a = one.get_cleaning_samples(class_size={int(label): 40}, ignore_seen_samples=False)
        top_b = many.get_cleaning_samples(class_size={int(label): 40}, ignore_seen_samples=False)
        np.testing.assert_array_equal(top_a["idx"], top_b["idx"])


@pytest.mark.parametrize("processes", [1, 2])
def test_equals_one_process(client, processes):
    x, y = blobs(3000, 40, 4, seed=1)
    ids = np.arange(3000, dtype=np.int64) * 7 + 3
    w = np.random.default_rng(2).uniform(0.5, 2.0, 3000)
    params = dict(chunk_size=250, sketch_dim=16, random_state=3)
    one = CoresetTreeServiceLG(**params).build(x, y, sample_weight=w, indices=ids)
    many = coreclean.dask.build(da.from_array(x, chunks=(700, 40)), y, sample_weight=w,
                                indices=ids, client=client, processes=processes, **params)
    assert_same(one, many)
    # The same array built again at once (its computations must not reuse the last build's
    # keys while the scheduler forgets them).
    again = coreclean.dask.build(da.from_array(x, chunks=(700, 40)), y, sample_weight=w,
                                 indices=ids, client=client, processes=processes, **params)
    assert_same(one, again)
    # The service works on: a relabel, as after a one-process build.
    sample = int(ids[5])
    one.update_targets([sample], [11])
    many.update_targets([sample], [11])
    assert_same(one, many)


def test_sampled_feature_map(client):
    # More rows than the feature map is fitted on: the first worker computes the drawn rows.
    x, y = blobs(70000, 24, 3, seed=4)
    params = dict(sketch_dim=8, cross_fit_folds=2, random_state=5)
    one = CoresetTreeServiceLG(**params).build(x, y)
    many = coreclean.dask.build(da.from_array(x, chunks=(9000, 24)), y, client=client, **params)
    assert_same(one, many)


def test_a_failing_worker_stops_the_build_and_names_the_row(client):
    # A NaN in the second worker's rows: that worker's error, naming the row, reaches the
    # caller; the other worker stops instead of waiting for ever, and the cluster builds again.
    x, y = blobs(3000, 40, 4, seed=7)
    x[2900, 5] = np.nan
    with pytest.raises(coreclean.InvalidArgumentError, match="non-finite value nan at row 2900, column 5"):
        coreclean.dask.build(da.from_array(x, chunks=(700, 40)), y, client=client, chunk_size=250,
                             sketch_dim=16)
    x[2900, 5] = 0.0
    service = coreclean.dask.build(da.from_array(x, chunks=(700, 40)), y, client=client,
                                   chunk_size=250, sketch_dim=16)
    assert service._tree.size == 3000


def test_refuses_more_processes_than_workers(client):
    x, y = blobs(500, 8, 2, seed=6)
    with pytest.raises(coreclean.InvalidArgumentError, match="workers"):
        coreclean.dask.build(da.from_array(x), y, client=client, processes=3)
