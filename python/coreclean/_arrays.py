"""Argument checks and conversions shared by the package.

Every array goes through these functions before it reaches the engine, which accepts exactly
one type per role: float32 C-order matrices (features), int64 vectors (labels, indices) and
float64 vectors (weights). A C-contiguous float32 matrix is passed on as it is (the engine reads
numpy's buffer, no copy); any other numeric dtype or order is converted once (a copy). Errors
name the argument and the offending value.
"""

from __future__ import annotations

import numbers

import numpy as np

from ._coreclean import InvalidArgumentError


def features(value, name="X"):
    """A 2-d float32 C-order array of finite values; copies only when it is not one already."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be a 2-d numeric array, got {type(value).__name__}")
    array = np.asarray(value)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"{name} must be numeric, got dtype {array.dtype}")
    if array.ndim != 2:
        raise InvalidArgumentError(f"{name} must be 2-d (samples × features), got shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise InvalidArgumentError(f"{name} is empty (shape {array.shape})")
    array = np.ascontiguousarray(array, dtype=np.float32)
    # min and max propagate NaN and show ±inf without allocating an n × d mask.
    if not (np.isfinite(array.min()) and np.isfinite(array.max())):
        row, col = np.argwhere(~np.isfinite(array))[0]
        raise InvalidArgumentError(f"{name}[{row}, {col}] = {array[row, col]} (features must be finite)")
    return array


def is_copy(array, original):
    """True when `array` (what features() returned for `original`) holds its own data: the
    caller may then edit it without touching the user's object. A view of the user's buffer
    (a numpy array, a memmap, a DataFrame's values) is not a copy."""
    try:
        source = np.asarray(original)
    except Exception:  # not array-like at all: features() copied it
        return True
    return not np.may_share_memory(array, source)


def int_vector(value, name, length=None):
    """A 1-d int64 array; integral floats are accepted (7.0 → 7), anything else is refused."""
    if value is None or isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a 1-d integer array, got {type(value).__name__}")
    array = np.asarray(value)
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim != 1:
        raise InvalidArgumentError(f"{name} must be 1-d, got shape {array.shape}")
    if array.size and not (np.issubdtype(array.dtype, np.integer) or array.dtype == bool):
        if not np.issubdtype(array.dtype, np.floating):
            raise TypeError(f"{name} must hold integers, got dtype {array.dtype}")
        bad = ~np.isfinite(array) | (array != np.round(array))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InvalidArgumentError(f"{name}[{i}] = {array[i]} is not an integer")
        big = np.abs(array) >= 2.0 ** 63
        if big.any():
            i = int(np.flatnonzero(big)[0])
            raise InvalidArgumentError(f"{name}[{i}] = {array[i]} does not fit in int64")
    if array.size and np.issubdtype(array.dtype, np.unsignedinteger) and array.max() > np.iinfo(np.int64).max:
        i = int(np.argmax(array))
        raise InvalidArgumentError(f"{name}[{i}] = {array[i]} does not fit in int64")
    array = np.ascontiguousarray(array, dtype=np.int64)
    if length is not None and array.shape[0] != length:
        raise InvalidArgumentError(f"{name} has {array.shape[0]} entries, expected {length}")
    return array


def weights(value, name, length):
    """None, or a 1-d float64 array of `length` finite non-negative values."""
    if value is None:
        return None
    array = np.ascontiguousarray(np.asarray(value, dtype=np.float64))
    if array.ndim != 1 or array.shape[0] != length:
        raise InvalidArgumentError(f"{name} must be 1-d with {length} entries, got shape {array.shape}")
    bad = ~np.isfinite(array) | (array < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InvalidArgumentError(f"{name}[{i}] = {array[i]} (weights must be finite and >= 0)")
    return array


def positive_int(value, name, allow_none=False):
    """An int >= 1 (bools are refused: True is not a size)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < 1:
        raise InvalidArgumentError(f"{name} = {value} (must be >= 1)")
    return int(value)


class LabelCodec:
    """Maps the user's labels to int64 class ids for the engine and back.

    Integer labels (COCO category ids, say) are used as they are. Any other labels (strings,
    say) are coded as 0..K-1 in sorted order and decoded on the way out.
    """

    def __init__(self, y, name="y"):
        array = np.asarray(y)
        if array.ndim != 1:
            raise InvalidArgumentError(f"{name} must be 1-d, got shape {array.shape}")
        self.integral = array.dtype != object and (
            np.issubdtype(array.dtype, np.integer)
            or (np.issubdtype(array.dtype, np.floating) and np.all(np.isfinite(array))
                and np.all(array == np.round(array))))
        self.classes = None if self.integral else np.unique(array)

    def encode(self, y, name="y", length=None):
        if self.integral:
            return int_vector(y, name, length)
        array = np.asarray(y)
        if array.ndim == 0:
            array = array.reshape(1)
        codes = np.searchsorted(self.classes, array)
        codes = np.minimum(codes, len(self.classes) - 1)
        unknown = self.classes[codes] != array
        if unknown.any():
            i = int(np.flatnonzero(unknown)[0])
            raise InvalidArgumentError(f"{name}[{i}] = {array[i]!r} is not a class of the data")
        return int_vector(codes, name, length)

    def decode(self, codes):
        codes = np.asarray(codes)
        return codes if self.integral else self.classes[codes]

    def encode_one(self, label, name):
        return int(self.encode(np.asarray([label]), name)[0])
