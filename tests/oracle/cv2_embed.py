"""Oracle: embeddings of box crops by Python's cv2.dnn, written independently of coreclean.

Usage: cv2_embed.py CROPS.json OUT.npy
CROPS.json: {"model": path, "output": layer, "size": [w, h], "mean": [m0, m1, m2],
             "scale": s, "swap_rb": bool, "batch": n,
             "crops": [{"image": path, "bbox": [x, y, w, h]}, ...]}
Crops follow the COCO pixel convention (floor of the left/top edge, ceil of the right/bottom
edge); images are decoded without applying EXIF orientation. Writes an n × d float32 array.
Runs with Debian's python3 (python3-opencv, python3-numpy).
"""
import json
import math
import sys

import cv2
import numpy as np

spec = json.load(open(sys.argv[1]))
net = cv2.dnn.readNet(spec["model"])
crops = []
for c in spec["crops"]:
    raw = np.fromfile(c["image"], dtype=np.uint8)
    image = cv2.imdecode(raw, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    x, y, w, h = c["bbox"]
    x0, y0 = max(0, math.floor(x)), max(0, math.floor(y))
    x1 = min(image.shape[1], math.ceil(x + w))
    y1 = min(image.shape[0], math.ceil(y + h))
    crops.append(image[y0:y1, x0:x1])
rows = []
batch = spec["batch"]
for begin in range(0, len(crops), batch):
    blob = cv2.dnn.blobFromImages(crops[begin:begin + batch], spec["scale"], tuple(spec["size"]),
                                  tuple(spec["mean"]), spec["swap_rb"], False)
    net.setInput(blob)
    rows.append(net.forward(spec["output"]))
np.save(sys.argv[2], np.ascontiguousarray(np.concatenate(rows).astype(np.float32)))
