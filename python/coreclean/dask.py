"""Building a coreset tree with the workers of a Dask cluster.

    import dask.array as da
    from distributed import Client
    import coreclean.dask

    client = Client(...)                                  # any Dask cluster
    X = da.from_zarr(...)                                 # n × d, row chunks anywhere
    service = coreclean.dask.build(X, y, client=client)   # a CoresetTreeServiceLG
    service.get_cleaning_samples(class_size={3: 100})

Every worker taking part computes only its own rows of X — a contiguous run of whole leaves
of the tree — and the first also the rows the feature map is fitted on (at most 65,536). The
workers then build the tree together as one process group (coreclean's build_distributed):
leaf summaries are exchanged exactly, the held-out logistic regressions run as distributed
Newton steps, each worker scores its rows, and the first sends the finished tree back. The
result equals CoresetTreeServiceLG(...).build(X, y) in one process with the same random_state
(the same features, summaries and held-out models bit for bit; scores up to the round-off of
summing the class Gram matrices in another order, ~1e-15).

The group's messages travel through dask.distributed queues (large ones as scattered data), so
nothing but a Dask cluster is needed. All taking workers must run at once: one task each, pinned.
When one worker's part fails (a NaN in its rows, say), it raises an abort event that the others
see within half a second while they wait for a message; they stop, and build() raises the
failing worker's error. Every worker checks its own rows for NaN/Inf first, and the workers
agree on the result before any of them builds.
"""

from __future__ import annotations

import uuid

import numpy as np

from . import _arrays
from ._coreclean import Collective, InvalidArgumentError, build_distributed, build_share
from ._coreclean import feature_map_fit_rows
from .service import CoresetTreeServiceLG

# Messages larger than this go as scattered data (the queue carries a reference); smaller ones
# ride in the queue itself.
_SCATTER_BYTES = 1 << 20
# How often a waiting worker looks whether another has failed.
_POLL_SECONDS = 0.5


class _PeerFailed(RuntimeError):
    """Another worker of the build failed; its own error says why."""


class _QueueGroup(Collective):
    """The tasks of one build as a process group (coreclean/core/collective.h). Messages from
    one member to another go through a queue of their own, named after the build and the pair:
    every member makes the same collective calls in the same order, so each pair's messages
    arrive in the order they were sent."""

    def __init__(self, name, rank, size):
        Collective.__init__(self)
        from distributed import Event, get_client
        self._client = get_client()
        self._name = name
        self._rank, self._size = rank, size
        self._queues = {}
        self._abort = Event(f"{name}-abort", client=self._client)

    def abort(self):
        """Tells the other members to stop waiting: this one failed."""
        self._abort.set()

    def close(self):
        """Releases this member's handles on the build's queues."""
        for queue in self._queues.values():
            queue.close()
        self._queues.clear()

    def rank(self):
        return self._rank

    def size(self):
        return self._size

    def _queue(self, source, target):
        from distributed import Queue
        key = (source, target)
        if key not in self._queues:
            self._queues[key] = Queue(f"{self._name}-{source}-{target}", client=self._client)
        return self._queues[key]

    def _send(self, to, payload):
        """Sends bytes: in the queue itself, or as scattered data whose future the queue holds."""
        if len(payload) > _SCATTER_BYTES:
            payload = self._client.scatter(payload, direct=True)
        self._queue(self._rank, to).put(payload)

    def _receive(self, sender):
        import asyncio
        from distributed import Future
        queue = self._queue(sender, self._rank)
        while True:
            try:
                payload = queue.get(timeout=_POLL_SECONDS)
                break
            except (TimeoutError, asyncio.TimeoutError):
                if self._abort.is_set():
                    raise _PeerFailed("another worker of the build failed") from None
        return payload.result() if isinstance(payload, Future) else payload

    def sum(self, values):
        # Process 0 adds the parts in rank order and sends the total back: the same bits
        # everywhere.
        if self._rank == 0:
            total = np.array(values, dtype=np.float64, copy=True)
            for q in range(1, self._size):
                total += np.frombuffer(self._receive(q), dtype=np.float64)
            for q in range(1, self._size):
                self._send(q, total.tobytes())
            values[...] = total
        else:
            self._send(0, np.asarray(values, dtype=np.float64).tobytes())
            values[...] = np.frombuffer(self._receive(0), dtype=np.float64)

    def broadcast(self, data, root):
        if self._rank == root:
            for q in range(self._size):
                if q != root:
                    self._send(q, bytes(data))
        else:
            data[...] = np.frombuffer(self._receive(root), dtype=np.uint8)

    def gather(self, part, root):
        if self._rank != root:
            self._send(root, part)
            return None
        return b"".join(part if q == root else self._receive(q) for q in range(self._size))


def _first_non_finite(x, row_of):
    """An error naming X's first NaN/Inf in x (row_of(i): the row of X that x's row i is), or
    None when every value is finite."""
    bad = ~np.isfinite(x)
    if not bad.any():
        return None
    i, j = (int(v) for v in np.argwhere(bad)[0])
    return InvalidArgumentError(f"X: non-finite value {x[i, j]} at row {row_of(i)}, column {j}; "
                                "features must be finite")


def _same_rows(block):
    return block


def _member(name, rank, size, share, first, fit_rows, fit_row_ids, labels, weights, ids, params,
            seed, threads):
    """One worker's task: its part of the build; the tree on rank 0, None elsewhere."""
    if threads is None:
        from distributed import get_worker
        worker = get_worker()
        threads = int(getattr(getattr(worker, "state", worker), "nthreads", 1) or 1)
    group = _QueueGroup(name, rank, size)
    try:
        share = np.ascontiguousarray(share, dtype=np.float32)
        error = _first_non_finite(share, lambda i: first + i)
        if fit_rows is not None:
            # The feature map's rows come from every share: checked here too, before the fit.
            fit_rows = np.ascontiguousarray(fit_rows, dtype=np.float32)
            error = error or _first_non_finite(fit_rows, lambda i: int(fit_row_ids[i]))
        # Every member learns whether every check passed before any of them builds.
        failed = np.array([0.0 if error is None else 1.0])
        group.sum(failed)
        if error is not None:
            raise error
        if failed[0] > 0:
            raise _PeerFailed("another worker found a non-finite value in its rows of X")
        return build_distributed(share, first, fit_rows, labels, weights, ids, group, seed=seed,
                                 threads=threads, **params)
    except BaseException:
        group.abort()
        raise
    finally:
        group.close()


def build(X, y, sample_weight=None, indices=None, *, client=None, processes=None,
          optimized_for="cleaning", chunk_size=None, coreset_size=None, random_state=None,
          sketch_dim=256, atypical_weight=0.01, cross_fit_folds=5, threads=None):
    """Builds a CoresetTreeServiceLG over X with the workers of a Dask cluster; returns it.

    X: an n × d dask array (or anything numpy reads, wrapped as one). y, sample_weight, indices:
    as CoresetTreeServiceLG.build (numpy or dask arrays; they are small and gathered). client: a
    distributed.Client (default: the current one). processes: how many workers take part
    (default: all; each runs one task, all at once). threads: engine threads per worker (default:
    the worker's thread count). The other parameters are CoresetTreeServiceLG's.

    The service keeps X as given: a call that reads rows of it (fit with a scikit-learn
    estimator) computes those rows; one that edits or writes X (update_features, save) turns it
    into one numpy array in this process's memory first.
    """
    import dask.array as da
    if client is None:
        from distributed import get_client
        try:
            client = get_client()
        except ValueError as e:
            raise InvalidArgumentError("coreclean.dask.build needs a Dask client: pass client= or "
                                       "create a distributed.Client first") from e
    x = X if isinstance(X, da.Array) else da.asarray(X)
    if x.ndim != 2:
        raise InvalidArgumentError(f"X has shape {x.shape}; expected n × d")
    x = x.astype(np.float32)
    n, d = (int(v) for v in x.shape)
    service = CoresetTreeServiceLG(optimized_for=optimized_for, chunk_size=chunk_size,
                                   coreset_size=coreset_size, random_state=random_state,
                                   sketch_dim=sketch_dim, atypical_weight=atypical_weight,
                                   cross_fit_folds=cross_fit_folds)
    y = np.asarray(y.compute() if isinstance(y, da.Array) else y)
    codec = _arrays.LabelCodec(y, "y")
    labels = codec.encode(y, "y", n)
    if isinstance(sample_weight, da.Array):
        sample_weight = sample_weight.compute()
    weights = _arrays.weights(sample_weight, "sample_weight", n)
    if isinstance(indices, da.Array):
        indices = indices.compute()
    ids = np.arange(n, dtype=np.int64) if indices is None else _arrays.int_vector(indices, "indices", n)

    workers = sorted(client.scheduler_info()["workers"])
    size = len(workers) if processes is None else _arrays.positive_int(processes, "processes")
    if not workers or size > len(workers):
        raise InvalidArgumentError(f"processes = {size}, but the cluster has {len(workers)} "
                                   "workers (every process needs its own)")
    workers = workers[:size]
    params = dict(service._params)
    seed = random_state or 0
    fit_rows = feature_map_fit_rows(n, d, sketch_dim, seed)
    name = f"coreclean-build-{uuid.uuid4().hex}"
    # Keys of this build's own: the same X computed again for another build would otherwise
    # reuse the keys of the last one's computations while the scheduler forgets them, and
    # Dask cancels the new ones.
    x = x.map_blocks(_same_rows, dtype=np.float32, name=f"{name}-x")
    labels_f, weights_f, ids_f = client.scatter([labels, weights, ids], broadcast=True)
    tasks = []
    for rank, worker in enumerate(workers):
        begin, end = build_share(n, params["chunk_size"], rank, size)
        share = client.compute(x[begin:end], workers=[worker])
        fit = client.compute(x[fit_rows], workers=[worker]) if rank == 0 and fit_rows.size else None
        tasks.append(client.submit(_member, name, rank, size, share, begin, fit,
                                   fit_rows if rank == 0 else None, labels_f, weights_f, ids_f,
                                   params, seed, threads, workers=[worker],
                                   allow_other_workers=False, pure=False))
    tree = _gather_or_raise(client, tasks, name)
    service._adopt(tree, x, codec, ids)
    return service


def _gather_or_raise(client, tasks, name):
    """Rank 0's result; on failure the error of the worker that failed first-hand (the others
    only report that another one failed), after telling every worker to stop."""
    from distributed import Event, wait
    try:
        wait(tasks)
    except BaseException:
        Event(f"{name}-abort", client=client).set()
        raise
    errors = [t.exception() for t in tasks if t.status == "error"]
    if errors:
        first_hand = [e for e in errors if not isinstance(e, _PeerFailed)]
        raise (first_hand or errors)[0]
    return tasks[0].result()
