"""Oracle: coreclean's built-in crop features recomputed with numpy and cv2.

Usage: cv2_builtin.py IMAGES.npz OUT.npy
IMAGES.npz holds uint8 BGR crops as members c0, c1, ... (any sizes). For each crop:
  colour: joint HSV histogram, 8 hue × 4 saturation × 4 value bins, bin (h*8//180)*16 +
          (s*4//256)*4 + (v*4//256), L2-normalised, times 1/sqrt(2);
  shape:  HOG (64×64 window, 16×16 blocks, stride 8, 8×8 cells, 9 bins) of the grey crop
          resized to 64×64 (INTER_AREA when both sides ≥ 64, else INTER_LINEAR), L2-normalised,
          times 1/sqrt(2).
Writes an n × 1892 float32 array. Runs with Debian's python3 (python3-opencv, python3-numpy).
"""
import sys

import cv2
import numpy as np


def part(v):
    v = v.astype(np.float64)
    n = np.linalg.norm(v)
    return v if n == 0 else v / (n * np.sqrt(2.0))


archive = np.load(sys.argv[1])
hog = cv2.HOGDescriptor((64, 64), (16, 16), (8, 8), (8, 8), 9)
rows = []
for k in range(len(archive.files)):
    crop = archive[f"c{k}"]
    hsv = cv2.cvtColor(crop, cv2.COLOR_BGR2HSV).reshape(-1, 3).astype(np.int64)
    index = np.minimum(hsv[:, 0] * 8 // 180, 7) * 16 + (hsv[:, 1] * 4 // 256) * 4 + hsv[:, 2] * 4 // 256
    colour = np.bincount(index, minlength=128)
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    shrink = grey.shape[0] >= 64 and grey.shape[1] >= 64
    small = cv2.resize(grey, (64, 64), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    shape = hog.compute(small).reshape(-1)
    rows.append(np.concatenate([part(colour), part(shape)]))
np.save(sys.argv[2], np.asarray(rows, dtype=np.float32))
