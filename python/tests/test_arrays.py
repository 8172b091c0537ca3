"""numpy in, numpy out: no copy of a float32 C-order matrix, one conversion otherwise, clear
errors, the GIL released during long calls, Ctrl-C-style cancellation."""

import threading
import time
import tracemalloc

import numpy as np
import pytest

import coreclean


def two_classes(n, d, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d), dtype=np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    return x, y


def peak_numpy_bytes(call):
    """Peak bytes allocated through Python's allocators (numpy's arrays among them) during call."""
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_float32_c_order_is_not_copied():
    x, y = two_classes(60_000, 256)  # 61 MB
    service = coreclean.CoresetTreeServiceLG(progress=False, cross_fit_folds=0)
    in_place = peak_numpy_bytes(lambda: service.build(x, y))
    assert in_place < x.nbytes / 10, f"build allocated {in_place} bytes of numpy memory"
    assert service._blocks[0] is x
    # Control: float64 input is converted once (a float32 copy), which the same probe sees.
    converted = peak_numpy_bytes(lambda: service.build(x.astype(np.float64), y))
    assert converted >= x.nbytes
    fortran = peak_numpy_bytes(lambda: service.build(np.asfortranarray(x), y))
    assert fortran >= x.nbytes


def test_bad_input_names_the_argument_and_value():
    x, y = two_classes(200, 8)
    s = coreclean.CoresetTreeServiceLG(progress=False)
    with pytest.raises(TypeError, match="X must be numeric"):
        s.build(np.array([["a"] * 8] * 200), y)
    with pytest.raises(ValueError, match=r"X must be 2-d .* shape \(200,\)"):
        s.build(x[:, 0], y)
    bad = x.copy()
    bad[3, 5] = np.nan
    with pytest.raises(coreclean.InvalidArgumentError, match=r"X\[3, 5\] = nan"):
        s.build(bad, y)
    with pytest.raises(coreclean.InvalidArgumentError, match="y has 199 entries, expected 200"):
        s.build(x, y[:-1])
    with pytest.raises(coreclean.InvalidArgumentError, match=r"sample_weight\[2\] = -1"):
        w = np.ones(200)
        w[2] = -1
        s.build(x, y, sample_weight=w)
    with pytest.raises(coreclean.InvalidArgumentError, match=r"indices\[1\] = 1.5"):
        s.build(x, y, indices=np.r_[0.0, 1.5, np.arange(2, 200)])
    with pytest.raises(coreclean.InvalidArgumentError, match="id 0 appears twice"):
        s.build(x, y, indices=np.zeros(200))
    with pytest.raises(coreclean.InvalidArgumentError, match="call build"):
        s.get_cleaning_samples(size=3)
    with pytest.raises(coreclean.InvalidArgumentError, match="optimized_for = 'speed'"):
        coreclean.CoresetTreeServiceLG(optimized_for="speed")
    s.build(x, y)
    with pytest.raises(TypeError, match="size must be an int"):
        s.get_cleaning_samples(size="10")
    with pytest.raises(coreclean.InvalidArgumentError, match=r"indices\[0\] = 5000 is not a sample"):
        s.update_targets([5000], [1])
    assert issubclass(coreclean.InvalidArgumentError, ValueError)
    assert issubclass(coreclean.IoError, OSError)
    with pytest.raises(OSError):
        coreclean._coreclean.CoresetTree.load("/nonexistent/tree.bin")


def test_the_gil_is_released_during_a_build():
    x, y = two_classes(30_000, 512, seed=1)
    done = threading.Event()

    def work():
        coreclean.CoresetTreeServiceLG(progress=False).build(x, y)
        done.set()

    thread = threading.Thread(target=work)
    ticks = 0
    start = time.perf_counter()
    thread.start()
    while not done.is_set():
        ticks += 1  # pure-Python work: runs only while the build does not hold the GIL
        time.sleep(0.001)
    thread.join()
    elapsed = time.perf_counter() - start
    assert elapsed > 0.3, "the build was too short to tell"
    # With the GIL held, the loop would run a handful of times; released, ~1 per millisecond.
    assert ticks > 0.2 * elapsed * 1000, f"{ticks} ticks in {elapsed:.2f} s"


def test_progress_callback_and_cancellation():
    x, y = two_classes(5_000, 64)
    calls = []
    coreclean.CoresetTreeServiceLG(progress=lambda d, t, w: calls.append((d, t, w))).build(x, y)
    assert calls and calls[-1][0] == calls[-1][1]
    assert any("held-out" in w for _, _, w in calls)

    class Stop(Exception):
        pass

    def stop_at_once(done, total, what):
        raise Stop("stop here")

    # The callback's own exception stops the call and reaches the caller, as it is.
    with pytest.raises(Stop, match="stop here"):
        coreclean.CoresetTreeServiceLG(progress=stop_at_once).build(x, y)

    def stop_at_the_end(done, total, what):
        if done == total and "importance" in what:
            raise Stop("last report")

    # Also from the very last report, after which the library has nothing left to cancel.
    with pytest.raises(Stop, match="last report"):
        coreclean.CoresetTreeServiceLG(progress=stop_at_the_end).build(x, y)


def test_ctrl_c_stops_a_long_call():
    import _thread
    x, y = two_classes(40_000, 512, seed=2)
    timer = threading.Timer(0.3, _thread.interrupt_main)  # what Ctrl-C does
    timer.start()
    start = time.perf_counter()
    try:
        with pytest.raises(KeyboardInterrupt):
            coreclean.CoresetTreeServiceLG(progress=False).build(x, y)
    finally:
        timer.cancel()
    full = time.perf_counter() - start
    assert full < 60


def test_functions_check_their_arguments():
    x, y = two_classes(60, 4)
    with pytest.raises(coreclean.InvalidArgumentError, match="y has 20 entries, expected 60"):
        coreclean.cross_val_auc(x, y[:20], folds=3)
    with pytest.raises(coreclean.InvalidArgumentError, match="sample_weight must be 1-d with 60"):
        coreclean.cross_val_auc(x, y, np.ones(3), folds=3)
    assert 0.5 < coreclean.cross_val_auc(x.astype(np.float64), list(y), folds=3) <= 1.0
    assert sorted(set(coreclean.stratified_kfold(list(y), 3))) == [0, 1, 2]
    model = coreclean.LogisticRegression(C=10.0).fit(x.astype(np.float64), list(y))
    assert (model.predict(x) == y).mean() > 0.9
