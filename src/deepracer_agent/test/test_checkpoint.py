"""Checkpoints load without unpickling: a pickle payload in a checkpoint never runs (evaluate, --watch,
export, --resume, convert), the format round-trips a PPO model, legacy SB3 zips convert weights-only."""
import base64
import hashlib
import io
import json
import os
import pickle
import zipfile

import numpy as np
import pytest
import torch
from stable_baselines3 import PPO

from deepracer_agent import checkpoint
from deepracer_agent.config import TrainConfig, load_config, save_yaml
from deepracer_agent.networks import policy_kwargs_for
from deepracer_inference.metadata import ModelMetadata
from test_networks import TinyCameraEnv

SMALL = {"model_metadata": {"neural_network": "DEEP_CONVOLUTIONAL_NETWORK_DEEP"}}


class Payload:
    """Unpickling this runs ``touch <marker>``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def evil_sb3_zip(path, marker):
    """An SB3-shaped zip whose cloudpickled ``data`` entry and torch ``policy.pth`` both carry the payload."""
    blob = base64.b64encode(pickle.dumps(Payload(marker))).decode()
    data = {"observation_space": {":type:": "<class 'gymnasium.spaces.box.Box'>", ":serialized:": blob},
            "num_timesteps": 64}
    buf = io.BytesIO()
    torch.save({"weight": Payload(marker)}, buf)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("data", json.dumps(data))
        zf.writestr("policy.pth", buf.getvalue())
        zf.writestr("pytorch_variables.pth", buf.getvalue())
        zf.writestr("_stable_baselines3_version", "2.9.2")
    return path


def evil_npz_checkpoint(path, marker, config):
    """Our format, but policy.npz holds a pickled object array."""
    buf = io.BytesIO()
    np.savez(buf, **{"evil": np.array([Payload(marker)], dtype=object)})
    header = {"format": checkpoint.FORMAT, "format_version": 1, "policy_class": checkpoint.POLICY_CLASS,
              "state": {"num_timesteps": 0, "n_updates": 0}}
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(checkpoint.HEADER, json.dumps(header))
        zf.writestr(checkpoint.CONFIG, json.dumps(config))
        zf.writestr(checkpoint.POLICY, buf.getvalue())
    return path


def test_the_payloads_are_live(tmp_path):
    """Control: the usual loaders DO run these payloads (so the tests below can fail)."""
    from stable_baselines3.common.save_util import load_from_zip_file

    m1, m2 = tmp_path / "m1", tmp_path / "m2"
    try:
        load_from_zip_file(evil_sb3_zip(tmp_path / "e.zip", m1))
    except Exception:  # noqa: BLE001 - it fails after running the payload
        pass
    assert m1.exists()
    evil_npz_checkpoint(tmp_path / "n.zip", m2, {})
    with zipfile.ZipFile(tmp_path / "n.zip") as zf, np.load(io.BytesIO(zf.read("policy.npz")), allow_pickle=True) as z:
        z["evil"]
    assert m2.exists()


def _run_folder(tmp_path, ckpt_bytes):
    """A run folder whose only (checksummed, sidecar-valid) checkpoint is ``ckpt_bytes``."""
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    cfg = load_config(None, ["n_envs=1", "model_metadata.neural_network=DEEP_CONVOLUTIONAL_NETWORK_DEEP"])
    save_yaml(cfg.to_dict(), run / "config.resolved.yaml")
    zpath = run / "checkpoints" / "iter_000001.zip"
    zpath.write_bytes(ckpt_bytes)
    (run / "checkpoints" / "iter_000001.json").write_text(json.dumps(
        {"iteration": 1, "steps": 64, "wall_time_s": 1.0, "bytes": len(ckpt_bytes),
         "sha256": hashlib.sha256(ckpt_bytes).hexdigest()}))
    (run / "status.json").write_text('{"state": "finished"}')
    return run, zpath, cfg


@pytest.mark.parametrize("kind", ["sb3", "npz"])
def test_no_entry_point_runs_a_payload(tmp_path, kind, capsys):
    from deepracer_agent.evaluate import evaluate, watch
    from deepracer_agent.export import main as export_main
    from deepracer_agent.train import TrainError, train

    marker = tmp_path / "PWNED"
    evil = tmp_path / "evil.zip"
    if kind == "sb3":
        evil_sb3_zip(evil, marker)
    else:
        evil_npz_checkpoint(evil, marker, TrainConfig.from_dict(SMALL).to_dict())
    with pytest.raises(checkpoint.CheckpointError, match="stable-baselines3 zip|not a plain numpy"):
        checkpoint.read(evil)
    run, zpath, cfg = _run_folder(tmp_path, evil.read_bytes())
    before = (run / "config.resolved.yaml").read_bytes()

    # export
    assert export_main([str(zpath), "--out", str(tmp_path / "art")]) == 1
    err = capsys.readouterr().err
    assert "deepracer export: cannot load the checkpoint" in err and "Traceback" not in err
    # evaluate (in-process worker) and --watch
    res = evaluate([str(zpath)], trials=1, workers=1, out_dir=tmp_path / "ev", log=None)
    assert res["errors"] and "iter_000001.zip" in res["errors"][0] and not res["rows"]
    res = watch(run, idle_timeout_s=0.0, trials=1, workers=1, log=None)
    assert res["errors"] and not res["rows"]
    # --resume: refused before anything in the run folder changes
    with pytest.raises(TrainError, match="cannot resume"):
        train(cfg, run, resume=True, progress_bar=False, log=None)
    assert (run / "config.resolved.yaml").read_bytes() == before
    assert not (run / "model_metadata.json").exists()
    # convert (the legacy path reads policy.pth with torch's weights-only loader)
    if kind == "sb3":
        with pytest.raises(checkpoint.CheckpointError, match="cannot be read safely"):
            checkpoint.convert_legacy(evil, TrainConfig.from_dict(SMALL), tmp_path / "conv.zip")
    assert not marker.exists()


def _tiny_model(meta, seed=0):
    model = PPO("CnnPolicy", TinyCameraEnv(), policy_kwargs=policy_kwargs_for(meta), n_steps=16, batch_size=16,
                n_epochs=1, device="cpu", seed=seed)
    model.learn(16)
    return model


def test_round_trip_restores_weights_optimizer_and_counters(tmp_path):
    meta = ModelMetadata.default()
    meta.neural_network = "DEEP_CONVOLUTIONAL_NETWORK_DEEP"
    cfg = TrainConfig.from_dict({"model_metadata": meta.to_dict()})
    model = _tiny_model(meta)
    path = checkpoint.save(model, tmp_path / "c.zip", cfg, training={"iteration": 1})
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == sorted(checkpoint.MEMBERS)
    fresh = _tiny_model(meta, seed=5)
    checkpoint.restore(fresh, path)
    assert fresh.num_timesteps == model.num_timesteps == 16 and fresh._n_updates == model._n_updates
    for k, v in model.policy.state_dict().items():
        assert torch.equal(v, fresh.policy.state_dict()[k]), k
    a, b = model.policy.optimizer.state_dict()["state"], fresh.policy.optimizer.state_dict()["state"]
    assert a.keys() == b.keys() and all(torch.equal(a[i]["exp_avg_sq"], b[i]["exp_avg_sq"]) for i in a)
    obs = np.random.default_rng(0).integers(0, 256, (4, 120, 160, 1), dtype=np.uint8)
    policy = checkpoint.make_policy(path)
    assert np.array_equal(policy.predict(obs, deterministic=True)[0], model.policy.predict(obs, deterministic=True)[0])

    # a model with another action space is refused with the reason
    with pytest.raises(checkpoint.CheckpointError, match="action_space"):
        checkpoint.restore(PPO("CnnPolicy", _Three(), policy_kwargs=policy_kwargs_for(meta), device="cpu"), path)


class _Three(TinyCameraEnv):
    action_space = __import__("gymnasium").spaces.Discrete(3)


def test_damaged_or_foreign_checkpoints_get_one_clear_error(tmp_path, monkeypatch):
    meta = ModelMetadata.default()
    meta.neural_network = "DEEP_CONVOLUTIONAL_NETWORK_DEEP"
    cfg = TrainConfig.from_dict({"model_metadata": meta.to_dict()})
    good = checkpoint.save(_tiny_model(meta), tmp_path / "good.zip", cfg)

    def variant(name, edit):
        with zipfile.ZipFile(good) as zf:
            members = {n: zf.read(n) for n in zf.namelist()}
        edit(members)
        with zipfile.ZipFile(tmp_path / name, "w") as zf:
            for n, d in members.items():
                zf.writestr(n, d)
        return tmp_path / name

    def nan(m):
        arrays = checkpoint.load_npz(m["policy.npz"])
        k = next(iter(arrays))
        arrays[k] = np.full_like(arrays[k], np.nan)
        m["policy.npz"] = checkpoint.dump_npz(arrays)

    cases = {
        "extra member": (lambda m: m.update({"data": b"{}"}), "unexpected member"),
        "wrong format": (lambda m: m.update({"checkpoint.json": b'{"format": "x"}'}), "format 'x'"),
        "not json": (lambda m: m.update({"config.json": b"\xff\xfe"}), "not valid JSON"),
        "nan weights": (nan, "NaN"),
        "bad config": (lambda m: m.update({"config.json": b'{"n_envs": -1}'}), "n_envs"),
        "missing weight": (lambda m: m.update({"policy.npz": checkpoint.dump_npz({"x": np.zeros(1)})}), "do not match"),
    }
    for name, (edit, message) in cases.items():
        with pytest.raises(checkpoint.CheckpointError, match=message) as info:
            checkpoint.make_policy(variant(name.replace(" ", "_") + ".zip", edit))
        assert str(info.value).startswith(str(tmp_path)), name
    (tmp_path / "junk.zip").write_bytes(b"PK\x03\x04 torn")
    with pytest.raises(checkpoint.CheckpointError, match="not a checkpoint zip"):
        checkpoint.read(tmp_path / "junk.zip")
    monkeypatch.setattr(checkpoint, "MAX_MEMBER_BYTES", 1000)
    with pytest.raises(checkpoint.CheckpointError, match="more than the 1000 allowed"):
        checkpoint.read(good)


def test_legacy_sb3_zip_converts_weights_only(tmp_path, capsys):
    meta = ModelMetadata.default()
    meta.neural_network = "DEEP_CONVOLUTIONAL_NETWORK_DEEP"
    cfg = TrainConfig.from_dict({"model_metadata": meta.to_dict()})
    model = _tiny_model(meta)
    model.save(tmp_path / "old.zip")
    with pytest.raises(checkpoint.LegacyCheckpointError, match="convert it once|Convert it once"):
        checkpoint.read(tmp_path / "old.zip")
    save_yaml(cfg.to_dict(), tmp_path / "config.resolved.yaml")
    assert checkpoint.main(["convert", str(tmp_path / "old.zip"), "--config",
                            str(tmp_path / "config.resolved.yaml")]) == 0
    new = tmp_path / "old.converted.zip"
    ckpt = checkpoint.read(new)
    assert ckpt.num_timesteps == 16 and ckpt.optimizer
    obs = np.random.default_rng(1).integers(0, 256, (4, 120, 160, 1), dtype=np.uint8)
    assert np.array_equal(checkpoint.make_policy(ckpt).predict(obs, deterministic=True)[0],
                          model.policy.predict(obs, deterministic=True)[0])
    assert checkpoint.main(["info", str(new)]) == 0 and '"deepracer-checkpoint"' in capsys.readouterr().out
