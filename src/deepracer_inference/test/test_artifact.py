"""Artifact loading: checksums, missing files, shape checks, safe .tar.gz extraction, listing."""
import io
import json
import tarfile

import numpy as np
import pytest

from deepracer_inference.artifact import ArtifactError, list_artifacts, load_artifact
from deepracer_inference.engine import EngineError, Policy
from deepracer_inference.metadata import ModelMetadata
from tiny_artifact import make_artifact, write_manifest


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    folder, _, _ = make_artifact(tmp_path_factory.mktemp("models") / "good")
    return folder


def copy_of(good, tmp_path, name="copy"):
    import shutil
    dest = tmp_path / name
    shutil.copytree(good, dest)
    return dest


def test_loads_and_reports_shapes(good):
    art = load_artifact(good)
    assert art.input_shape == (1, 1, 120, 160)
    assert (art.output_name, art.output_shape) == ("action_probabilities", (1, 10))
    assert art.metadata.n_actions == 10 and art.name == "good"


def test_checksum_mismatch_names_artifact_and_file(good, tmp_path):
    bad = copy_of(good, tmp_path)
    data = bytearray((bad / "model.bin").read_bytes())
    data[100] ^= 0xFF
    (bad / "model.bin").write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=r"model artifact .*copy: checksum mismatch for model.bin"):
        load_artifact(bad)


def test_missing_file_is_named(good, tmp_path):
    bad = copy_of(good, tmp_path)
    (bad / "model.onnx").unlink()
    with pytest.raises(ArtifactError, match=r"copy: missing file model.onnx"):
        load_artifact(bad)
    with pytest.raises(ArtifactError, match="not found"):
        load_artifact(tmp_path / "nope")


def test_metadata_frame_stack_disagreeing_with_manifest_is_rejected(good, tmp_path):
    bad = copy_of(good, tmp_path)
    meta = json.loads((bad / "model_metadata.json").read_text())
    meta["frame_stack"] = 2
    (bad / "model_metadata.json").write_text(json.dumps(meta))
    manifest = json.loads((bad / "manifest.json").read_text())
    from deepracer_inference.artifact import file_checksums
    manifest["files"] = file_checksums(bad)  # checksums fine, shapes not
    (bad / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match=r"model input 'observation' \[1, 1, 120, 160\] does not match "
                                            r"model_metadata.json, which implies 'observation' \[1, 2, 120, 160\]"):
        load_artifact(bad)


@pytest.mark.parametrize("engine", ["openvino", "onnxruntime"])
def test_graph_input_shape_not_matching_metadata_is_rejected(tmp_path, engine):
    folder, _, _ = make_artifact(tmp_path / "wrong_shape", graph_channels=3)  # manifest says C=1, graph C=3
    with pytest.raises(ArtifactError, match=r"wrong_shape: .*input 'observation' \[1, 3, 120, 160\] does not match"):
        Policy.from_path(folder, engine=engine)


def test_unknown_engine_and_precision(good):
    with pytest.raises(EngineError, match="unknown inference engine 'tensorrt'"):
        Policy.from_path(good, engine="tensorrt")
    with pytest.raises(EngineError, match="unknown precision 'int4'"):
        Policy.from_path(good, engine="openvino", precision="int4")
    with pytest.raises(EngineError, match="onnxruntime' runs f32 only"):
        Policy.from_path(good, engine="onnxruntime", precision="bf16")


def _tar_with(tmp_path, name, entries):
    path = tmp_path / name
    with tarfile.open(path, "w:gz") as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def test_tar_roundtrip_and_unsafe_archives(good, tmp_path):
    archive = tmp_path / "packed.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(good, arcname="packed")
    art = load_artifact(archive)
    assert art.name == "packed" and art.folder.exists()
    extracted = art.folder
    art.close()
    assert not extracted.exists()

    evil = tarfile.TarInfo("../evil.txt")
    evil.size = 3
    with pytest.raises(ArtifactError, match=r"unsafe path '../evil.txt'"):
        load_artifact(_tar_with(tmp_path, "evil.tar.gz", [(evil, b"bad")]))
    assert not (tmp_path / "evil.txt").exists()
    link = tarfile.TarInfo("x/manifest.json")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    with pytest.raises(ArtifactError, match="is a link or special file"):
        load_artifact(_tar_with(tmp_path, "link.tar.gz", [(link, None)]))
    (tmp_path / "junk.tar.gz").write_bytes(b"not a tar")
    with pytest.raises(ArtifactError, match="cannot read the archive"):
        load_artifact(tmp_path / "junk.tar.gz")


def test_list_artifacts(good, tmp_path):
    copy_of(good, tmp_path, "b_model")
    (tmp_path / "a_model.tar.gz").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "empty_dir").mkdir()
    listed = list_artifacts(tmp_path)
    assert [(e["name"], e["kind"]) for e in listed] == [("a_model", "archive"), ("b_model", "folder")]
    assert list_artifacts(tmp_path / "missing") == []


def test_continuous_manifest_shapes(tmp_path):
    meta = ModelMetadata.continuous((-30, 30), (0.5, 2.0))
    folder, _, _ = make_artifact(tmp_path / "cont", meta)
    art = load_artifact(folder)
    assert (art.output_name, art.output_shape) == ("action_mean", (1, 2))
    write_manifest(folder, ModelMetadata.default())  # manifest for a discrete space, metadata continuous
    with pytest.raises(ArtifactError, match="model output 'action_probabilities'"):
        load_artifact(folder)
