"""coreclean: find and fix wrong labels in object-detection datasets with coresets.

Three ways in:
  * CoresetTreeServiceLG — the reference coreset service's API (build, get_cleaning_samples,
    update_targets, remove_samples, get_coreset, fit, save/load);
  * find_label_issues / label_quality_scores — one call over (features, labels);
  * Session (with read_coco, check_boxes, embed) — the detection review loop on a session folder that
    the `coreclean` command line reads and writes too.

Arrays: numpy in, numpy out. A C-contiguous float32 feature matrix is read in place; other
dtypes and orders are converted once. Long calls release the GIL and report progress to a
callback (a tqdm bar when tqdm is installed); Ctrl-C stops them (KeyboardInterrupt).
Errors: InvalidArgumentError and FormatError (ValueError), IoError (OSError), TypeError for
arguments of the wrong type; messages name the argument and its value.
"""

import warnings as _warnings

from ._coreclean import (CorecleanError, FormatError, InvalidArgumentError, IoError,
                         UndecidedBoxesError, blas_core_name as _blas_core_name,
                         recommended_blas_core as _recommended_blas_core)
from .models import LogisticRegression, cross_val_auc, select_class_to_clean, stratified_kfold
from .issues import find_label_issues, label_quality_scores, near_duplicates
from .service import CoresetTreeServiceLG
from .session import Features, Session, check_boxes, embed, read_coco

__version__ = "0.1.0"

# OpenBLAS chose its kernels when numpy loaded it, and only the environment can change that
# choice; the command line restarts itself, a Python process can only be told.
if _recommended_blas_core():
    _warnings.warn(
        f"OpenBLAS did not recognise this CPU and uses its {_blas_core_name()} kernels, about "
        f"half the speed this CPU allows; start Python with "
        f"OPENBLAS_CORETYPE={_recommended_blas_core()} in the environment",
        RuntimeWarning, stacklevel=2)

__all__ = [
    "CoresetTreeServiceLG", "find_label_issues", "label_quality_scores", "near_duplicates",
    "Session", "read_coco",
    "check_boxes", "embed", "Features", "select_class_to_clean", "cross_val_auc", "stratified_kfold",
    "LogisticRegression", "CorecleanError", "InvalidArgumentError", "FormatError", "IoError",
    "UndecidedBoxesError",
]
