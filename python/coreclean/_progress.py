"""Progress for long calls: a callable(done, total, what) the engine calls at most ten times a
second; by default a tqdm bar when tqdm is installed, nothing otherwise."""

from __future__ import annotations


def resolve(progress):
    """progress: None or True (a tqdm bar when tqdm is installed), False (nothing) or a
    callable(done, total, what)."""
    if progress is False:
        return None
    if callable(progress):
        return progress
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is optional
        return None
    return _TqdmProgress(tqdm)


class _TqdmProgress:
    """One tqdm bar per step ("what"): a new step closes the previous bar."""

    def __init__(self, tqdm):
        self._tqdm = tqdm
        self._bar = None
        self._what = None

    def __call__(self, done, total, what):
        if what != self._what or self._bar is None:
            self.close()
            # disable=None: no bar when stderr is not a terminal (logs, CI)
            self._bar = self._tqdm(total=total, desc=what, leave=False, mininterval=0.2, disable=None)
            self._what = what
        self._bar.total = total
        self._bar.n = done
        self._bar.refresh()
        if total and done >= total:
            self.close()

    def close(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
            self._what = None

    def __del__(self):
        self.close()
