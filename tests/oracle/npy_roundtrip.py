#!/usr/bin/python3
"""Oracle for coreclean's .npy/.npz code: numpy writes fixtures, and numpy checks coreclean's files.

  npy_roundtrip.py write DIR    numpy writes arrays of every supported dtype (and the special
                                cases below) into DIR
  npy_roundtrip.py verify DIR   loads every *.npy and *.npz in DIR (written by coreclean) with
                                numpy and compares them to the expected values, regenerated here

Both sides generate the expected values from the same formulas (see `values`; the C++ twin is
`expected_bytes` in tests/io/test_npy.cc), so no data has to be passed between them. A file
named `<code>_<shape>.npy` (code f4 f8 i4 i8 u1 b1; shape "scalar" or dims joined by "x", e.g.
"3x4") holds values(code, shape); an .npz holds members named the same way (without ".npy").

The values are exact in every dtype (eighths and 1024ths of small integers, wrapped integer
products), so comparisons are bit-exact and independent of rounding or FMA contraction.

Exit status 0 on success; otherwise 1 with the reason on stdout.
"""

import io
import json
import os
import sys
import zipfile

import numpy as np

CODES = {"f4": "<f4", "f8": "<f8", "i4": "<i4", "i8": "<i8", "u1": "|u1", "b1": "|b1"}
SHAPES = [(), (0,), (5,), (3, 4), (2, 3, 4), (0, 3)]


def shape_name(shape):
    return "scalar" if shape == () else "x".join(str(d) for d in shape)


def parse_shape(name):
    return () if name == "scalar" else tuple(int(d) for d in name.split("x"))


def values(code, shape):
    """Deterministic values of a dtype code, as an array of that shape (C order)."""
    n = int(np.prod(shape, dtype=np.int64))
    idx = range(n)
    if code == "f4":
        flat = np.array([((i * 7919) % 2001 - 1000) / 8.0 for i in idx], dtype="<f4")
    elif code == "f8":
        flat = np.array([((i * 7919) % 2001 - 1000) / 1024.0 for i in idx], dtype="<f8")
    elif code == "i4":
        flat = np.array([(i * 2654435761) % 2**32 - 2**31 for i in idx], dtype="<i4")
    elif code == "i8":
        wrapped = [(i * 11400714819323198485) % 2**64 for i in idx]
        flat = np.array([w - 2**64 if w >= 2**63 else w for w in wrapped], dtype="<i8")
    elif code == "u1":
        flat = np.array([(i * 37 + 11) % 256 for i in idx], dtype="|u1")
    elif code == "b1":
        flat = np.array([i % 3 == 0 for i in idx], dtype="|b1")
    else:
        raise ValueError("unknown dtype code " + code)
    return flat.reshape(shape)


# Bit patterns every float64 must keep through a round trip (C++: kSpecialDoubles).
SPECIAL = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, 1.7976931348623157e308, -1.5],
                   dtype="<f8")


def write(folder):
    os.makedirs(folder, exist_ok=True)
    for code in CODES:
        for shape in SHAPES:
            np.save(os.path.join(folder, f"{code}_{shape_name(shape)}.npy"), values(code, shape))
    np.save(os.path.join(folder, "f4_100x7.npy"), values("f4", (100, 7)))
    np.save(os.path.join(folder, "f8_special.npy"), SPECIAL)

    # Format 2.0 and 3.0 headers, which np.save only picks for huge headers or unicode names.
    for code, shape, version in [("f8", (3, 4), (2, 0)), ("i4", (5,), (3, 0))]:
        with open(os.path.join(folder, f"{code}_{shape_name(shape)}_v{version[0]}.npy"), "wb") as f:
            np.lib.format.write_array(f, values(code, shape), version=version)

    # Layouts and dtypes coreclean refuses.
    np.save(os.path.join(folder, "f4_3x4_fortran.npy"), np.asfortranarray(values("f4", (3, 4))))
    np.save(os.path.join(folder, "f4_3x4_bigendian.npy"), values("f4", (3, 4)).astype(">f4"))
    np.save(os.path.join(folder, "f2_3.npy"), np.zeros(3, dtype="<f2"))

    # Archives: stored (savez) and deflated (savez_compressed) members.
    members = {"f4_3x4": values("f4", (3, 4)), "i8_5": values("i8", (5,)),
               "u1_scalar": values("u1", ()), "b1_2x3x4": values("b1", (2, 3, 4))}
    np.savez(os.path.join(folder, "savez.npz"), **members)
    np.savez_compressed(os.path.join(folder, "savez_compressed.npz"), **members)

    # An archive whose member is not a .npy image.
    with zipfile.ZipFile(os.path.join(folder, "bad_member.npz"), "w") as z:
        z.writestr("good.npy", _npy_bytes(values("i4", (5,))))
        z.writestr("junk.npy", b"this is not a numpy array")

    # A stored archive with one flipped data byte: the member's CRC no longer matches.
    path = os.path.join(folder, "crc_corrupt.npz")
    np.savez(path, f4_3x4=values("f4", (3, 4)))
    data = bytearray(open(path, "rb").read())
    start = data.find(b"\x93NUMPY")
    data[start + 130] ^= 0xFF  # inside the array data (the header is 128 bytes)
    open(path, "wb").write(bytes(data))

    # A features directory as a user would write it with numpy: float64 X, float labels.
    features = os.path.join(folder, "features")
    os.makedirs(features, exist_ok=True)
    np.save(os.path.join(features, "X_train.npy"), values("f8", (6, 3)))
    np.save(os.path.join(features, "y_train.npy"), np.array([1, 2, 1, 2, 7, 7], dtype=np.float64))
    np.save(os.path.join(features, "X_test.npy"), values("f4", (2, 3)))
    np.save(os.path.join(features, "y_test.npy"), np.array([7, 1], dtype=np.int32))
    np.save(os.path.join(features, "ids.npy"), np.array([10, 11, 12, 13, 14, 900100581904]))
    with open(os.path.join(features, "classes.json"), "w") as f:
        json.dump({"1": "person", "2": "bicycle", "7": "train"}, f)


def _npy_bytes(array):
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def _check_array(label, actual, code, shape):
    expected = values(code, shape)
    if actual.dtype.str != CODES[code]:
        return f"{label}: dtype {actual.dtype.str}, expected {CODES[code]}"
    if actual.shape != shape:
        return f"{label}: shape {actual.shape}, expected {shape}"
    if not np.array_equal(actual, expected):
        return f"{label}: values differ:\n{actual}\nexpected\n{expected}"
    return None


def verify(folder):
    problems = []
    checked = 0
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if name.endswith(".npy"):
            code, shape = name[:-4].split("_", 1)
            shape = parse_shape(shape)
            actual = np.load(path, allow_pickle=False)
            problem = _check_array(name, actual, code, shape)
            # coreclean promises np.save's exact bytes (header layout, padding, growth space).
            if problem is None and open(path, "rb").read() != _npy_bytes(values(code, shape)):
                problem = f"{name}: bytes differ from np.save's"
            if problem:
                problems.append(problem)
            checked += 1
        elif name.endswith(".npz"):
            with zipfile.ZipFile(path) as z:
                bad = z.testzip()
                if bad is not None:
                    problems.append(f"{name}: member {bad} fails its CRC check")
                for info in z.infolist():
                    if info.compress_type != zipfile.ZIP_DEFLATED:
                        problems.append(f"{name}: member {info.filename} is not deflated")
            with np.load(path, allow_pickle=False) as archive:
                for key in archive.files:
                    code, shape = key.split("_", 1)
                    problem = _check_array(f"{name}[{key}]", archive[key], code,
                                           parse_shape(shape))
                    if problem:
                        problems.append(problem)
            checked += 1
    if problems:
        print("\n".join(problems))
        return 1
    print(f"ok: {checked} files")
    return 0


def main(argv):
    if len(argv) != 3 or argv[1] not in ("write", "verify"):
        print(__doc__)
        return 2
    if argv[1] == "write":
        write(argv[2])
        return 0
    return verify(argv[2])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
