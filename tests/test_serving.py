"""The serving SavedModel, safe pushes, and the client against TF Serving's contract."""
import base64
import io
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from components import push
from modules.export import export_generator, metadata_asset_path
from modules.images import ImageSpec
from modules.networks import build_generator
from modules.training_config import NetworkConfig
from serving import client
from tests.tf_serving_double import GrpcServer, RestServer

LATENT_DIM = 16
METADATA = {"latent_dim": LATENT_DIM, "image_size": 16, "channels": 3,
            "training_data_fingerprint": "abc", "fid": None}


def export(path, seed=0):
    tf.keras.utils.set_random_seed(seed)
    generator = build_generator(ImageSpec(16, 3), NetworkConfig(latent_dim=LATENT_DIM,
                                                                generator_filters=8))
    export_generator(generator, str(path), METADATA, max_samples=32)
    return str(path)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return export(tmp_path_factory.mktemp("export") / "model")


@pytest.fixture(scope="module")
def serving_dir(tmp_path_factory, model_dir):
    base = tmp_path_factory.mktemp("serving") / "generator"
    result = push.push(model_dir, str(base), {"fid": 1.5, "blessed": True})
    assert result.pushed
    return str(base)


def test_signatures_as_saved_model_cli_shows_them(model_dir):
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    shown = subprocess.run([cli, "show", "--dir", model_dir, "--all"], capture_output=True,
                           text=True, check=True).stdout
    for expected in ("signature_def['serving_default']", "inputs['noise']",
                     "shape: (-1, 16)", "shape: (-1, 16, 16, 3)",
                     "signature_def['generate']", "inputs['num_samples']", "DT_INT32",
                     "inputs['seed']", "DT_INT64", "outputs['images_png_bytes']", "DT_STRING",
                     "signature_def['metadata']", "outputs['metadata']"):
        assert expected in shown, expected


# Runs in a fresh interpreter that imports nothing but TensorFlow.
USE_ALL_SIGNATURES = r"""
import json, sys
import tensorflow as tf
model = tf.saved_model.load(sys.argv[1])
first = model.signatures["generate"](num_samples=tf.constant(4), seed=tf.constant(7, tf.int64))
again = model.signatures["generate"](num_samples=tf.constant(4), seed=tf.constant(7, tf.int64))
other = model.signatures["generate"](num_samples=tf.constant(4), seed=tf.constant(8, tf.int64))
decoded = tf.io.decode_png(first["images_png_bytes"][0]).numpy()
errors = []
for count in (0, 33):
    try:
        model.signatures["generate"](num_samples=tf.constant(count), seed=tf.constant(1, tf.int64))
    except tf.errors.InvalidArgumentError as error:
        errors.append(error.message)
print(json.dumps({
    "shape": first["images"].shape.as_list(),
    "same_seed_equal": bool(tf.reduce_all(first["images"] == again["images"])),
    "other_seed_differs": not bool(tf.reduce_all(first["images"] == other["images"])),
    "png_matches": bool((decoded == tf.round(first["images"][0] * 255).numpy()).all()),
    "errors": errors,
    "metadata": json.loads(model.signatures["metadata"]()["metadata"].numpy()),
    "project_modules": sorted(m for m in sys.modules
                              if m.split(".")[0] in ("modules", "components", "pipeline", "serving")),
}))
"""


def test_every_signature_works_in_a_process_that_imports_only_tensorflow(serving_dir):
    version = str(push.served_version(serving_dir))
    completed = subprocess.run([sys.executable, "-c", USE_ALL_SIGNATURES,
                                os.path.join(serving_dir, version)], capture_output=True,
                               text=True, timeout=300, cwd="/",
                               env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["shape"] == [4, 16, 16, 3]
    assert result["same_seed_equal"] and result["other_seed_differs"] and result["png_matches"]
    assert len(result["errors"]) == 2
    assert all("num_samples must be between 1 and 32" in error for error in result["errors"])
    assert result["metadata"] == {**METADATA, "fid": 1.5}
    assert result["project_modules"] == []


def test_push_is_complete_deduplicated_and_carries_its_evaluation(tmp_path, model_dir):
    base = str(tmp_path / "serving")
    first = push.push(model_dir, base, {"fid": 2.0}, clock=lambda: 1000)
    again = push.push(model_dir, base, {"fid": 2.0}, clock=lambda: 2000)
    assert (first.pushed, first.version) == (True, 1000)
    assert (again.pushed, again.version) == (False, 1000)
    assert push.versions(base) == [1000]
    assert push.read_version_file(base, 1000, push.EVALUATION_FILE) == {"fid": 2.0}
    assert os.listdir(base) == ["1000"]
    with open(metadata_asset_path(os.path.join(base, "1000"))) as source:
        assert json.load(source)["fid"] == 2.0


def test_a_push_that_fails_midway_leaves_no_version_behind(tmp_path, model_dir, monkeypatch):
    base = str(tmp_path / "serving")

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(push, "_complete_metadata", fail)  # after the copy, before the rename
    with pytest.raises(OSError, match="disk full"):
        push.push(model_dir, base, {"fid": 2.0})
    assert os.listdir(base) == [] and push.served_version(base) is None


def test_old_versions_are_pruned_but_never_the_served_one(tmp_path):
    base = str(tmp_path / "serving")
    models = [export(tmp_path / f"model{seed}", seed=seed) for seed in range(4)]
    for step, model in enumerate(models[:3]):
        push.push(model, base, {"fid": 1.0}, keep_versions=1, clock=lambda: 100 + step)
    # keep_versions=1 keeps the new version and the one served until it loads.
    assert push.versions(base) == [101, 102]
    # A clock that goes backwards still gives a higher version than the served one.
    result = push.push(models[3], base, {"fid": 1.0}, keep_versions=3, clock=lambda: 50)
    assert result.version == 103 and push.versions(base) == [101, 102, 103]


def test_rest_row_and_columnar_predict_follow_the_contract(serving_dir):
    noise = np.random.default_rng(0).standard_normal((2, LATENT_DIM)).tolist()
    with RestServer("generator", serving_dir) as server:
        def post(body):
            request = urllib.request.Request(server.url + "/v1/models/generator:predict",
                                             data=json.dumps(body).encode())
            with urllib.request.urlopen(request) as response:
                return json.load(response)

        rows = post({"instances": noise})["predictions"]
        columns = post({"inputs": {"noise": noise}})["outputs"]
        generated = post({"signature_name": "generate",
                          "inputs": {"num_samples": 3, "seed": 5}})["outputs"]
        metadata = post({"signature_name": "metadata", "inputs": {}})["outputs"]
    assert json.loads(metadata) == {**METADATA, "fid": 1.5}
    assert np.array(rows).shape == (2, 16, 16, 3)
    np.testing.assert_allclose(rows, columns, atol=1e-6)
    assert len(generated["images_png_bytes"]) == 3
    png = base64.b64decode(generated["images_png_bytes"][0]["b64"])
    assert np.asarray(Image.open(io.BytesIO(png))).shape == (16, 16, 3)


def test_client_writes_a_grid_over_rest_and_grpc_with_the_same_images(serving_dir, tmp_path):
    with RestServer("generator", serving_dir) as rest, GrpcServer("generator",
                                                                  serving_dir) as grpc_server:
        over_rest = client.rest_generate(rest.url, "generator", num_samples=6, seed=3)
        over_grpc = client.grpc_generate(grpc_server.address, "generator", num_samples=6, seed=3)
        assert client.main(["--server", rest.url, "--num-samples", "9", "--seed", "1",
                            "--output", str(tmp_path / "grid.png")]) == 0
        request_path, request_body = rest.requests[-1]
    assert over_rest == over_grpc and len(over_rest) == 6
    assert request_path == "/v1/models/generator:predict"
    assert json.loads(request_body) == {"signature_name": "generate",
                                        "inputs": {"num_samples": 9, "seed": 1}}
    grid = np.asarray(Image.open(tmp_path / "grid.png"))
    assert grid.shape[0] == grid.shape[1] and grid.shape[0] > 3 * 16


def test_client_shows_the_servers_error(serving_dir, tmp_path, capsys):
    with RestServer("generator", serving_dir) as rest, GrpcServer("generator",
                                                                  serving_dir) as grpc_server:
        code = client.main(["--server", rest.url, "--num-samples", "1000",
                            "--output", str(tmp_path / "x.png")])
        rest_error = capsys.readouterr().err
        with pytest.raises(client.ServingError, match="num_samples must be between 1 and 32"):
            client.grpc_generate(grpc_server.address, "generator", num_samples=1000, seed=0)
        with pytest.raises(client.ServingError, match="HTTP 404: Servable not found"):
            client.rest_generate(rest.url, "generator", 2, 0, version=12345)
    assert code == 1
    assert "HTTP 400" in rest_error and "num_samples must be between 1 and 32" in rest_error
    assert not (tmp_path / "x.png").exists()
