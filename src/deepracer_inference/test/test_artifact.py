"""Artifact loading: checksums, missing files, shape checks, safe .tar.gz extraction, listing."""
import io
import json
import tarfile

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
    aws = tmp_path / "c_aws" / "agent"
    aws.mkdir(parents=True)
    (aws / "model.pb").write_bytes(b"pb")
    ModelMetadata.default().save(tmp_path / "c_aws" / "model_metadata.json")
    listed = list_artifacts(tmp_path)
    assert [(e["name"], e["kind"]) for e in listed] == [("a_model", "archive"), ("b_model", "folder"),
                                                        ("c_aws", "folder")]
    assert listed[2]["format"] == "aws" and "error" not in listed[2]
    assert list_artifacts(tmp_path / "missing") == []


def test_continuous_manifest_shapes(tmp_path):
    meta = ModelMetadata.continuous((-30, 30), (0.5, 2.0))
    folder, _, _ = make_artifact(tmp_path / "cont", meta)
    art = load_artifact(folder)
    assert (art.output_name, art.output_shape) == ("action_mean", (1, 2))
    write_manifest(folder, ModelMetadata.default())  # manifest for a discrete space, metadata continuous
    with pytest.raises(ArtifactError, match="model output 'action_probabilities'"):
        load_artifact(folder)


# --- archives are checked from their headers before anything is extracted (issue 21, item 2) -------------
def _packed(good, tmp_path, name, extra=(), replace=None):
    """The good artifact as <name>.tar.gz in a top folder, plus ``extra`` (arcname, bytes) entries;
    ``replace`` = {file name: bytes} swaps a file's content (the manifest is left as it was)."""
    path = tmp_path / name
    with tarfile.open(path, "w:gz") as tar:
        for file in sorted(good.iterdir()):
            data = (replace or {}).get(file.name, file.read_bytes())
            info = tarfile.TarInfo(f"packed/{file.name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for arcname, data in extra:
            info = tarfile.TarInfo(arcname)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _bomb_header(tmp_path, name, size):
    """A .tar.gz whose first header declares ``size`` bytes, with no data behind it (a bomb's first
    member: the check must refuse it from the header alone, before decompressing any data)."""
    info = tarfile.TarInfo(name)
    info.size = size
    path = tmp_path / "bomb.tar.gz"
    import gzip
    with gzip.open(path, "wb") as fh:
        fh.write(info.tobuf(format=tarfile.GNU_FORMAT))
    return path


def test_archive_size_limits_refuse_before_extracting(good, tmp_path, monkeypatch):
    from deepracer_inference import artifact as art_mod

    dest = tmp_path / "dest"
    dest.mkdir()
    bomb = _bomb_header(tmp_path, "model.pb", 3_270_000_000)          # 3.27 GB declared
    with pytest.raises(ArtifactError, match="'model.pb' is 3270000000 bytes, more than the 256 MiB allowed per file"):
        art_mod.safe_extract(bomb, dest)
    assert list(dest.iterdir()) == []
    with pytest.raises(ArtifactError, match="more than the 256 MiB allowed per file"):
        load_artifact(bomb)

    zeros = b"\0" * (3 << 20)                                          # 3 MiB, compresses to a few KiB
    monkeypatch.setattr(art_mod, "MAX_MEMBER_BYTES", 2 << 20)
    big = _tar_with(tmp_path, "big.tar.gz", [(_info("model.pb", len(zeros)), zeros)])
    with pytest.raises(ArtifactError, match="'model.pb' is 3145728 bytes, more than the 2 MiB allowed per file"):
        art_mod.safe_extract(big, dest)
    monkeypatch.setattr(art_mod, "MAX_MEMBER_BYTES", 256 << 20)
    monkeypatch.setattr(art_mod, "MAX_ARCHIVE_BYTES", 5 << 20)
    many = _tar_with(tmp_path, "many.tar.gz", [(_info(n, len(zeros)), zeros) for n in ("model.pb", "model.bin")])
    with pytest.raises(ArtifactError, match="its files add up to more than 5 MiB"):
        art_mod.safe_extract(many, dest)
    monkeypatch.setattr(art_mod, "MAX_ARCHIVE_MEMBERS", 3)
    with pytest.raises(ArtifactError, match="more than 3 entries"):
        art_mod.safe_extract(_packed(good, tmp_path, "full.tar.gz"), dest)
    assert list(dest.iterdir()) == []


def _info(name, size):
    info = tarfile.TarInfo(name)
    info.size = size
    return info


def test_archive_members_must_be_in_the_manifest(good, tmp_path):
    from deepracer_inference.artifact import safe_extract

    dest = tmp_path / "dest"
    dest.mkdir()
    extra = _packed(good, tmp_path, "extra.tar.gz", extra=[("packed/run.sh", b"rm -rf ~\n")])
    with pytest.raises(ArtifactError, match="'packed/run.sh' is not listed in manifest.json"):
        safe_extract(extra, dest)
    outside = _packed(good, tmp_path, "outside.tar.gz", extra=[("other/model.onnx", b"x")])
    with pytest.raises(ArtifactError, match="'packed/manifest.json': a model artifact keeps manifest.json and every "
                                            "file it lists at the top of the archive or in one top folder"):
        safe_extract(outside, dest)
    size = (good / "model.bin").stat().st_size
    grown = _packed(good, tmp_path, "grown.tar.gz", replace={"model.bin": b"\0" * (size + 4096)})
    with pytest.raises(ArtifactError, match=f"'packed/model.bin' is {size + 4096} bytes but manifest.json says {size}"):
        safe_extract(grown, dest)
    twice = _packed(good, tmp_path, "twice.tar.gz", extra=[("packed/model.onnx", b"x")])
    with pytest.raises(ArtifactError, match="'packed/model.onnx' appears twice"):
        safe_extract(twice, dest)
    assert list(dest.iterdir()) == []
    art = load_artifact(_packed(good, tmp_path, "fine.tar.gz"))         # the unmodified archive still loads
    assert art.name == "fine"


def test_aws_archives_hold_only_known_names(tmp_path):
    from deepracer_inference.artifact import safe_extract

    meta = json.dumps(ModelMetadata.default().to_dict()).encode()
    dest = tmp_path / "dest"
    dest.mkdir()
    ok = _tar_with(tmp_path, "ok.tar.gz", [(_info("model_metadata.json", len(meta)), meta),
                                           (_info("agent/model.pb", 4), b"pb!!"), (_info("checksum.txt", 2), b"ab")])
    assert safe_extract(ok, dest) == dest and (dest / "agent" / "model.pb").read_bytes() == b"pb!!"
    dest2 = tmp_path / "dest2"
    dest2.mkdir()
    odd = _tar_with(tmp_path, "odd.tar.gz", [(_info("model_metadata.json", len(meta)), meta),
                                            (_info("model.pb", 4), b"pb!!"), (_info("payload.so", 1), b"x")])
    with pytest.raises(ArtifactError, match="unexpected file 'payload.so'; an archive without manifest.json"):
        safe_extract(odd, dest2)
    nothing = _tar_with(tmp_path, "nothing.tar.gz", [(_info("model_metadata.json", len(meta)), meta)])
    with pytest.raises(ArtifactError, match="no manifest.json \\(a model artifact\\) and no model.pb"):
        safe_extract(nothing, dest2)
