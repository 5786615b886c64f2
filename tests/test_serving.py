"""The serving SavedModel, safe pushes, and the client against TF Serving's contract."""
import base64
import io
import json
import os
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from components.push import serving_folder as push
from modules.export import export_compressed, export_generator, metadata_asset_path
from modules.images import ImageSpec
from modules.training.config import NetworkConfig
from modules.training.networks import build_generator
from serving import client
from tests.tf_serving_double import GrpcServer, RestServer
from tests.serving_scripts import BOUNDS, CONCURRENT_PUSH, USE_ALL_SIGNATURES

LATENT_DIM = 16
METADATA = {"latent_dim": LATENT_DIM, "image_size": 16, "channels": 3,
            "training_data_fingerprint": "abc", "fid": None}


def export(path, seed=0, size=16, max_samples=32):
    tf.keras.utils.set_random_seed(seed)
    generator = build_generator(ImageSpec(size, 3), NetworkConfig(latent_dim=LATENT_DIM,
                                                                  generator_filters=8))
    export_generator(generator, str(path), {**METADATA, "image_size": size},
                     max_samples=max_samples)
    return str(path)


def run_tensorflow_only(script, *args, timeout=600):
    """Runs `script` in a fresh interpreter that imports nothing but TensorFlow; its last
    stdout line is JSON."""
    completed = subprocess.run([sys.executable, "-c", script, *args], capture_output=True,
                               text=True, timeout=timeout, cwd="/",
                               env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return export(tmp_path_factory.mktemp("export") / "model")


@pytest.fixture(scope="module")
def serving_dir(tmp_path_factory, model_dir):
    base = tmp_path_factory.mktemp("serving") / "generator"
    result = push.push(model_dir, str(base), {"fid": 1.5, "blessed": True})
    assert result.pushed
    return str(base)


@pytest.fixture(scope="module")
def large_serving_dir(tmp_path_factory):
    """A 64x64x3 generator with the default bound of 256 samples a request."""
    model = export(tmp_path_factory.mktemp("export64") / "model", size=64, max_samples=256)
    base = tmp_path_factory.mktemp("serving64") / "generator"
    assert push.push(model, str(base), {"fid": 2.5}).pushed
    return str(base)


def served_path(serving_dir):
    return os.path.join(serving_dir, str(push.served_version(serving_dir)))


def visible(directory):
    return sorted(name for name in os.listdir(directory) if not name.startswith("."))


def test_signatures_as_saved_model_cli_shows_them(model_dir):
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    shown = subprocess.run([cli, "show", "--dir", model_dir, "--all"], capture_output=True,
                           text=True, check=True).stdout
    signatures = dict(part.split("\n", 1) for part in shown.split("signature_def[")[1:])
    assert "inputs['noise']" in signatures["'serving_default']:"]
    assert "shape: (-1, 16)" in signatures["'serving_default']:"]
    assert "shape: (-1, 16, 16, 3)" in signatures["'serving_default']:"]
    generate = signatures["'generate']:"]
    for expected in ("inputs['num_samples']", "DT_INT32", "inputs['seed']", "DT_INT64",
                     "outputs['images_png_bytes']", "DT_STRING"):
        assert expected in generate, expected
    assert generate.count("outputs[") == 1  # PNG only: no float tensor travels with it
    assert "inputs['dummy']" in signatures["'metadata']:"]
    assert "outputs['metadata']" in signatures["'metadata']:"]


def test_every_signature_works_in_a_process_that_imports_only_tensorflow(serving_dir):
    result = run_tensorflow_only(USE_ALL_SIGNATURES, served_path(serving_dir))
    assert result["shape"] == [4, 16, 16, 3]
    assert result["same_seed_equal"] and result["other_seed_differs"]
    assert result["png_matches_serving_default"]
    assert result["generate_outputs"] == ["images_png_bytes"]
    assert result["metadata"] == {**METADATA, "fid": 1.5, "max_samples": 32}
    assert result["project_modules"] == []


def test_requests_out_of_bounds_are_refused_before_any_work(large_serving_dir):
    """Each refusal in a fresh TensorFlow-only process: quick, with the documented message,
    and without the memory a batch of that size would need (10**6 64x64x3 images: 49 GB)."""
    result = run_tensorflow_only(BOUNDS, served_path(large_serving_dir))
    assert [r["num_samples"] for r in result["generate"]] == [0, -1, 257, 10**6, 2**31 - 1]
    for refusal in result["generate"] + result["serving_default"]:
        assert refusal["seconds"] < 1.0, refusal
        assert refusal["peak_growth_mb"] < 100, refusal
    assert all("num_samples must be between 1 and 256" in r["message"]
               for r in result["generate"])
    assert [r["noise_rows"] for r in result["serving_default"]] == [0, 257, 10**5]
    assert all("noise must have between 1 and 256 rows" in r["message"]
               for r in result["serving_default"])


def test_compressed_copies_keep_the_signatures_and_shrink_the_weights(tmp_path):
    original = export(tmp_path / "float32", size=64)
    sizes = {"float32": directory_bytes(original)}
    for precision in ("float16", "int8"):
        export_compressed(original, str(tmp_path / precision), precision)
        sizes[precision] = directory_bytes(str(tmp_path / precision))
    result = run_tensorflow_only(COMPARE_PRECISIONS, str(tmp_path))
    assert result["float32"]["metadata"] == {**METADATA, "image_size": 64, "max_samples": 32}
    for precision, largest_error in (("float16", 0.01), ("int8", 0.05)):
        assert result[precision]["metadata"] == {**result["float32"]["metadata"],
                                                 "weights": precision}
        assert result[precision]["generate_outputs"] == ["images_png_bytes"]
        assert 0 < result[precision]["max_abs_difference"] < largest_error
        assert result[precision]["refusal"] and "between 1 and 32" in result[precision]["refusal"]
    assert sizes["int8"] < sizes["float16"] < 0.6 * sizes["float32"]


def directory_bytes(path):
    return sum(os.path.getsize(os.path.join(root, name))
               for root, _, names in os.walk(path) for name in names)


COMPARE_PRECISIONS = textwrap.dedent(r"""
    import json, os, sys
    import tensorflow as tf
    noise = tf.random.stateless_normal([8, 16], seed=[1, 2])
    result, reference = {}, None
    for precision in ("float32", "float16", "int8"):
        model = tf.saved_model.load(os.path.join(sys.argv[1], precision))
        images = model.signatures["serving_default"](noise=noise)["images"]
        reference = images if reference is None else reference
        try:
            model.signatures["generate"](num_samples=tf.constant(33),
                                         seed=tf.constant(0, tf.int64))
            refusal = None
        except tf.errors.InvalidArgumentError as error:
            refusal = error.message
        result[precision] = {
            "metadata": json.loads(model.signatures["metadata"](
                dummy=tf.constant(0))["metadata"].numpy()),
            "generate_outputs": sorted(model.signatures["generate"].structured_outputs),
            "max_abs_difference": float(tf.reduce_max(tf.abs(images - reference))),
            "refusal": refusal}
    print(json.dumps(result))
""")


def test_a_compressed_copy_is_pushed_only_within_the_fid_tolerance():
    candidates = {"float16": 2.05, "int8": 2.3, "other": float("nan")}
    decisions = {d.precision: d for d in push.compressed_decisions(2.0, candidates,
                                                                   tolerance=0.05)}
    assert decisions["float16"].push and "2.0500 is within 2.1000" in decisions["float16"].reason
    assert not decisions["int8"].push and "beyond" in decisions["int8"].reason
    assert not decisions["other"].push and "no finite FID" in decisions["other"].reason
    assert push.compressed_decisions(2.0, {}, 0.05) == []


def test_push_is_complete_deduplicated_and_carries_its_evaluation(tmp_path, model_dir):
    base = str(tmp_path / "serving")
    first = push.push(model_dir, base, {"fid": 2.0}, clock=lambda: 1000)
    again = push.push(model_dir, base, {"fid": 2.0}, clock=lambda: 2000)
    assert (first.pushed, first.version) == (True, 1000)
    assert (again.pushed, again.version) == (False, 1000)
    assert push.versions(base) == [1000]
    assert push.read_version_file(base, 1000, push.EVALUATION_FILE) == {"fid": 2.0}
    assert visible(base) == ["1000"]
    with open(metadata_asset_path(os.path.join(base, "1000"))) as source:
        assert json.load(source)["fid"] == 2.0


def test_a_push_that_fails_midway_leaves_no_version_behind(tmp_path, model_dir, monkeypatch):
    base = str(tmp_path / "serving")

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(push, "_complete_metadata", fail)  # after the copy, before the rename
    with pytest.raises(OSError, match="disk full"):
        push.push(model_dir, base, {"fid": 2.0})
    assert os.listdir(base) == [push.LOCK_FILE] and push.served_version(base) is None


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


def test_two_pushes_at_once_get_distinct_complete_versions(tmp_path):
    """Two processes push different models into one folder in the same second, while this
    process watches the folder as TF Serving would: every version it sees is complete."""
    base, go = str(tmp_path / "serving"), str(tmp_path / "go")
    models = [export(tmp_path / f"model{seed}", seed=seed) for seed in range(2)]
    pushers = [subprocess.Popen([sys.executable, "-c", CONCURRENT_PUSH, model, base, go],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=os.path.dirname(os.path.dirname(__file__)))
               for model in models]
    for pusher in pushers:  # both wait at the start line once their imports are done
        while not os.path.exists(f"{go}.ready.{pusher.pid}"):
            assert pusher.poll() is None, pusher.communicate()[1][-2000:]
            time.sleep(0.1)
    open(go, "w").close()
    incomplete = []
    while any(pusher.poll() is None for pusher in pushers):
        for name in visible(base) if os.path.isdir(base) else []:
            if not os.path.isfile(os.path.join(base, name, "saved_model.pb")):
                incomplete.append(name)
        time.sleep(0.001)
    results = []
    for pusher in pushers:
        stdout, stderr = pusher.communicate()
        assert pusher.returncode == 0, stderr[-2000:]
        results.append(json.loads(stdout.strip().splitlines()[-1]))
    assert all(result["pushed"] for result in results)
    assert results[0]["version"] != results[1]["version"]
    assert {results[0]["version"], results[1]["version"]} == set(push.versions(base))
    assert visible(base) == sorted(str(result["version"]) for result in results)
    assert incomplete == []


def post(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode())
    with urllib.request.urlopen(request) as response:
        return json.load(response)


def http_error(url, body=None, method=None):
    """(status, JSON answer) of a request the server refuses."""
    data = None if body is None else (body if isinstance(body, bytes)
                                      else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request)
    return refused.value.code, json.loads(refused.value.read() or b"{}")


def test_rest_predict_follows_the_servers_formats(serving_dir):
    noise = np.random.default_rng(0).standard_normal((2, LATENT_DIM)).tolist()
    with RestServer("generator", serving_dir) as server:
        url = server.url + "/v1/models/generator:predict"
        rows = post(url, {"instances": noise})["predictions"]
        columns = post(url, {"inputs": {"noise": noise}})["outputs"]
        generated = post(url, {"signature_name": "generate",
                               "inputs": {"num_samples": 3, "seed": 5}})["outputs"]
        metadata = post(url, {"signature_name": "metadata", "inputs": {"dummy": 0}})["outputs"]
    assert json.loads(metadata) == {**METADATA, "fid": 1.5, "max_samples": 32}
    assert np.array(rows).shape == (2, 16, 16, 3)
    np.testing.assert_allclose(rows, columns, atol=1e-6)
    assert len(generated) == 3  # the lone output comes unnamed
    png = base64.b64decode(generated[0]["b64"])
    assert np.asarray(Image.open(io.BytesIO(png))).shape == (16, 16, 3)


def test_rest_status_and_metadata_endpoints(serving_dir):
    version = push.served_version(serving_dir)
    with RestServer("generator", serving_dir) as server:
        with urllib.request.urlopen(server.url + "/v1/models/generator") as response:
            status = json.load(response)
        with urllib.request.urlopen(f"{server.url}/v1/models/generator/versions/{version}"
                                    "/metadata") as response:
            metadata = json.load(response)
        missing = http_error(server.url + "/v1/models/generator/versions/7")
        unknown = http_error(server.url + "/v1/models/other")
    assert status == {"model_version_status": [{
        "version": str(version), "state": "AVAILABLE",
        "status": {"error_code": "OK", "error_message": ""}}]}
    assert metadata["model_spec"] == {"name": "generator", "signature_name": "",
                                      "version": str(version)}
    signatures = metadata["metadata"]["signature_def"]["signature_def"]
    assert set(signatures) >= {"serving_default", "generate", "metadata"}
    assert set(signatures["generate"]["outputs"]) == {"images_png_bytes"}
    assert missing == (404, {"error": "Could not find version 7 of model generator"})
    assert unknown == (404, {"error": "Could not find any versions of model other"})


def no_input_model(path):
    """A SavedModel whose one signature has no inputs, as earlier `metadata` signatures had."""
    module = tf.Module()
    module.answer = tf.function(lambda: {"answer": tf.constant("42")}, input_signature=[])
    tf.saved_model.save(module, str(path / "1"), signatures={"no_inputs": module.answer})
    return str(path)


def test_the_double_answers_as_tf_servings_source_does(serving_dir, tmp_path):
    """Each rule is the server's (see tests/tf_serving_double.py for the source files)."""
    import grpc
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    no_inputs = no_input_model(tmp_path / "no_inputs")
    with RestServer("generator", serving_dir) as rest, RestServer("old", no_inputs) as old, \
            GrpcServer("generator", serving_dir) as grpc_server, \
            GrpcServer("old", no_inputs) as old_grpc:
        url = rest.url + "/v1/models/generator:predict"
        refusals = {
            "no inputs over REST": http_error(old.url + "/v1/models/old:predict",
                                              {"signature_name": "no_inputs", "inputs": {}}),
            "unknown signature": http_error(url, {"signature_name": "nope", "inputs": 1}),
            "malformed path": http_error(rest.url + "/v1/models/generator:guess", {}),
            "wrong method": http_error(rest.url + "/v1/models/generator", {}, method="PUT"),
            "row with an extra key": http_error(url, {"signature_name": "generate", "instances": [
                {"num_samples": 1, "seed": 1, "extra": 1}]}),
            "row of scalars for a scalar output": http_error(url, {
                "signature_name": "metadata", "instances": [0]}),
            "float for an int32": http_error(url, {"signature_name": "generate",
                                                   "inputs": {"num_samples": 1.5, "seed": 1}}),
            "both formats": http_error(url, {"instances": [1], "inputs": [1]}),
            "old version": http_error(rest.url + "/v1/models/generator/versions/1:predict",
                                      {"inputs": [[0.0] * LATENT_DIM]}),
            "empty body": http_error(url, b""),
        }
        ignored_key = post(url, {"signature_name": "metadata",
                                 "inputs": {"dummy": 0, "extra": 1}})["outputs"]
        stub = prediction_service_pb2_grpc.PredictionServiceStub(
            grpc.insecure_channel(grpc_server.address))
        old_stub = prediction_service_pb2_grpc.PredictionServiceStub(
            grpc.insecure_channel(old_grpc.address))

        def grpc_call(stub, signature, output_filter=(), **inputs):
            request = predict_pb2.PredictRequest(output_filter=list(output_filter))
            request.model_spec.name = "old" if stub is old_stub else "generator"
            request.model_spec.signature_name = signature
            for name, (value, dtype) in inputs.items():
                request.inputs[name].CopyFrom(tf.make_tensor_proto(value, dtype))
            try:
                return stub.Predict(request)
            except grpc.RpcError as error:
                return error.code().name, error.details()

        extra_input = grpc_call(stub, "generate", num_samples=(1, tf.int32),
                                seed=(1, tf.int64), extra=(1, tf.int32))
        unknown_over_grpc = grpc_call(stub, "nope")
        unknown_output = grpc_call(stub, "generate", ["images"], num_samples=(1, tf.int32),
                                   seed=(1, tf.int64))
        no_inputs_over_grpc = grpc_call(old_stub, "no_inputs")
        refused_count = grpc_call(stub, "generate", num_samples=(0, tf.int32),
                                  seed=(1, tf.int64))
    assert refusals == {
        "no inputs over REST": (400, {"error": "Failed to get input map for signature: "
                                               "no_inputs"}),
        "unknown signature": (400, {"error": 'Serving signature name: "nope" not found in '
                                             'signature def'}),
        "malformed path": (400, {"error": "Malformed request: POST /v1/models/generator:guess"}),
        "wrong method": (400, {"error": "Malformed request: PUT /v1/models/generator"}),
        "row with an extra key": (400, {"error": "Failed to process element: 0 key: extra of "
                                                 "'instances' list. Error: INVALID_ARGUMENT: "
                                                 "JSON object: does not have named input: "
                                                 "extra"}),
        "row of scalars for a scalar output": (400, {"error": "Tensor name: metadata has no "
                                                              "shape information "}),
        "float for an int32": (400, {"error": "JSON Value: 1.5 Type: Number is not of "
                                              "expected type: int32"}),
        "both formats": (400, {"error": 'JSON Value: {"instances":[1],"inputs":[1]} Not '
                                        "formatted correctly expecting only one of 'inputs' "
                                        "or 'instances' keys to exist "}),
        "old version": (404, {"error": "Servable not found for request: "
                                       "Specific(generator, 1)"}),
        "empty body": (400, {"error": "JSON Parse error: The document is empty"}),
    }
    assert json.loads(ignored_key)["max_samples"] == 32  # columnar: extra keys are ignored
    assert extra_input == ("INVALID_ARGUMENT", "input size does not match signature: 3!=2 "
                           "len({extra,num_samples,seed}) != len({num_samples,seed}). "
                           "Sent extra: {extra}. Missing but required: {}.")
    assert unknown_over_grpc == ("FAILED_PRECONDITION", 'Serving signature key "nope" not '
                                                        "found.")
    assert unknown_output == ("INVALID_ARGUMENT", "output tensor alias not found in signature: "
                              "images Outputs expected to be in the set {images_png_bytes}.")
    assert no_inputs_over_grpc.outputs["answer"].string_val == [b"42"]
    assert refused_count[0] == "INVALID_ARGUMENT"
    assert "num_samples must be between 1 and 32" in refused_count[1]


def test_client_writes_a_grid_over_rest_and_grpc_with_the_same_images(serving_dir, tmp_path,
                                                                      capsys):
    with RestServer("generator", serving_dir) as rest, GrpcServer("generator",
                                                                  serving_dir) as grpc_server:
        over_rest = client.rest_generate(rest.url, "generator", num_samples=6, seed=3)
        over_grpc = client.grpc_generate(grpc_server.address, "generator", num_samples=6, seed=3)
        assert client.main(["--server", rest.url, "--num-samples", "9", "--seed", "1",
                            "--output", str(tmp_path / "grid.png")]) == 0
        _, request_path, request_body = rest.requests[-1]
        capsys.readouterr()
        assert client.main(["--server", rest.url, "--metadata"]) == 0
        printed_over_rest = json.loads(capsys.readouterr().out)
        assert client.main(["--protocol", "grpc", "--server", grpc_server.address,
                            "--metadata"]) == 0
        printed_over_grpc = json.loads(capsys.readouterr().out)
    assert over_rest == over_grpc and len(over_rest) == 6
    assert request_path == "/v1/models/generator:predict"
    assert json.loads(request_body) == {"signature_name": "generate",
                                        "inputs": {"num_samples": 9, "seed": 1}}
    grid = np.asarray(Image.open(tmp_path / "grid.png"))
    assert grid.shape[0] == grid.shape[1] and grid.shape[0] > 3 * 16
    assert printed_over_rest == printed_over_grpc == {**METADATA, "fid": 1.5, "max_samples": 32}


def test_256_images_of_64x64x3_travel_as_pngs_only(large_serving_dir):
    with RestServer("generator", large_serving_dir) as rest, \
            GrpcServer("generator", large_serving_dir) as grpc_server:
        over_rest = client.rest_generate(rest.url, "generator", num_samples=256, seed=1)
        over_grpc = client.grpc_generate(grpc_server.address, "generator", num_samples=256,
                                         seed=1)
        metadata = client.rest_metadata(rest.url, "generator")
    assert over_rest == over_grpc and len(over_rest) == 256
    assert np.asarray(Image.open(io.BytesIO(over_rest[0]))).shape == (64, 64, 3)
    png_bytes = sum(len(png) for png in over_rest)
    assert png_bytes <= client.png_response_bound(256, metadata) - client.RESPONSE_OVERHEAD_BYTES
    # 256 float 64x64x3 images would be 12.6 MB in a gRPC response, beyond gRPC's
    # default 4 MiB receive limit; the PNGs alone are what is sent.
    assert png_bytes < 256 * 64 * 64 * 3 * 1.1


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
