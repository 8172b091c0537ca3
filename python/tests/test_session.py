"""The detection loop from Python: the same session folder as the CLI, the same batches, and the
loop's safety rules (undecided boxes, outputs)."""

import json

import numpy as np
import pytest

import coreclean
from conftest import run_cli


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    import os
    cli = os.environ.get("CORECLEAN_CLI", "")
    if not cli or not os.path.exists(cli):
        pytest.skip("the coreclean CLI is not built (CORECLEAN_CLI unset)")
    root = tmp_path_factory.mktemp("scenes")
    run_cli(cli, "make-demo", "--out", root / "data", "--images", 80)
    run_cli(cli, "embed", "--coco", root / "data" / "annotations.json", "--images",
            root / "data" / "images", "--out", root / "features")
    return cli, root


def test_same_batches_as_the_cli(dataset, tmp_path):
    cli, root = dataset
    coco, images, features = root / "data" / "annotations.json", root / "data" / "images", root / "features"
    run_cli(cli, "init", tmp_path / "cli-session", "--features", features, "--coco", coco,
            "--images", images)
    run_cli(cli, "next", tmp_path / "cli-session", "-n", 8)
    with open(tmp_path / "cli-session" / "batches" / "001" / "review.csv") as f:
        cli_ids = [int(line.split(",")[0]) for line in f.read().splitlines()[1:]]

    session = coreclean.Session.create(tmp_path / "py-session", features, coco=coco,
                                       images=images, progress=False)
    batch = session.next(8)
    assert batch["idx"].tolist() == cli_ids
    assert (batch["folder"] / "review.csv").is_file()
    assert np.all(np.diff(batch["importance"]) <= 0)
    status = session.status()
    assert status["open_batch"] == 1 and status["exported"] == 8
    # The CLI reads the folder Python wrote.
    cli_status = json.loads(run_cli(cli, "status", tmp_path / "py-session", "--json"))
    assert cli_status["class_of_interest"]["id"] == session.class_of_interest


def test_the_loop(dataset, tmp_path):
    cli, root = dataset
    truth = json.loads((root / "data" / "truth.json").read_text())["errors"]
    session = coreclean.Session.create(tmp_path / "s", root / "features",
                                       coco=root / "data" / "annotations.json",
                                       images=root / "data" / "images", progress=False)
    batch = session.next(6)
    first, rest = batch["idx"][0], batch["idx"][1:]
    session.decide(first, "delete")
    with pytest.raises(coreclean.UndecidedBoxesError) as refused:
        session.apply()
    assert sorted(refused.value.ids) == sorted(rest.tolist()) and refused.value.batch == 1
    assert session.status()["reviewed"] == 0  # nothing applied
    with pytest.raises(coreclean.InvalidArgumentError, match="'maybe'"):
        session.decide(first, "maybe")
    other = next(int(c) for c in session.classes if c != session.class_of_interest)
    session.decide(rest[0], "relabel", other)
    result = session.apply(undecided="keep")
    assert result["metrics"]["deleted"] == 1 and result["metrics"]["relabelled"] == 1
    assert result["kept_undecided"] == 4
    labels = session.corrected_labels()
    ids = np.load(root / "features" / "ids.npy")
    assert labels[ids == first][0] == -1 and labels[ids == rest[0]][0] == other
    out = tmp_path / "corrected.json"
    session.export_coco(out)
    corrected = {a["id"]: a for a in json.loads(out.read_text())["annotations"]}
    assert first not in corrected and corrected[int(rest[0])]["category_id"] == other
    with pytest.raises(coreclean.InvalidArgumentError):
        session.export_coco(root / "data" / "annotations.json")  # an input is never overwritten
    report = session.report(tmp_path / "report.html")
    assert report.is_file() and "<html" in report.read_text()[:500].lower()
    assert len(truth) > 0
    reopened = coreclean.Session(tmp_path / "s")
    assert reopened.status()["reviewed"] == 6


def test_coco_and_box_checks(dataset):
    _, root = dataset
    coco = coreclean.read_coco(root / "data" / "annotations.json")
    ann = coco.annotations
    assert ann["bbox"].shape == (len(coco), 4) and len(coco.images) == 80
    findings = coreclean.check_boxes(coco, root / "data" / "images")
    assert {f["check"] for f in findings} <= {"degenerate", "tiny", "outside", "aspect",
                                               "duplicate", "missing_image", "unknown_category"}
    assert all(f["annotation_id"] in set(ann["id"].tolist()) for f in findings)
    with pytest.raises(coreclean.FormatError):
        bad = root / "bad.json"
        bad.write_text('{"images": [}')
        coreclean.read_coco(bad)
    with pytest.raises(OSError):
        coreclean.read_coco(root / "missing.json")


def test_create_from_arrays_is_self_contained(dataset, tmp_path):
    _, root = dataset
    features = root / "features"
    x = np.load(features / "X_train.npy")
    y = np.load(features / "y_train.npy")
    ids = np.load(features / "ids.npy")
    from_folder = coreclean.Session.create(tmp_path / "a", features, progress=False)
    from_arrays = coreclean.Session.create(tmp_path / "b", (x, y, ids), progress=False,
                                           class_names={0: "zero"})
    assert from_arrays.class_of_interest == from_folder.class_of_interest
    a, b = from_folder.next(10), from_arrays.next(10)
    assert a["idx"].tolist() == b["idx"].tolist()
    np.testing.assert_allclose(a["importance"], b["importance"], rtol=1e-9)
    assert (tmp_path / "b" / "features" / "X_train.npy").is_file()
    (tmp_path / "b").rename(tmp_path / "moved")
    assert coreclean.Session(tmp_path / "moved").status()["open_batch"] == 1
    with pytest.raises(coreclean.InvalidArgumentError, match="y has 3 entries"):
        coreclean.Session.create(tmp_path / "c", (x, y[:3]), progress=False)


def test_embed_writes_what_the_cli_writes(dataset, tmp_path):
    _, root = dataset
    progress = []
    features = coreclean.embed(root / "data" / "annotations.json", root / "data" / "images",
                               out=tmp_path / "features", progress=lambda d, t, w: progress.append(d))
    cli_features = root / "features"
    for name in ("X_train.npy", "y_train.npy", "ids.npy", "boxes.npy"):
        np.testing.assert_array_equal(np.load(tmp_path / "features" / name),
                                      np.load(cli_features / name), err_msg=name)
    assert features.X.dtype == np.float32 and len(features) == features.info["train_rows"]
    assert features.class_names and progress and progress[-1] == features.info["boxes"]
    # Session.create takes the Features object.
    session = coreclean.Session.create(tmp_path / "s", features,
                                       coco=root / "data" / "annotations.json", progress=False)
    assert session.status()["samples"] > 0
    with pytest.raises(coreclean.InvalidArgumentError):
        (tmp_path / "mine").mkdir()
        (tmp_path / "mine" / "notes.txt").write_text("mine")
        coreclean.embed(root / "data" / "annotations.json", root / "data" / "images",
                        out=tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "mine"
