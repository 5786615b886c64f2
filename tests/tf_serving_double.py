"""A stand-in for the TF Serving binary (which cannot run here), for client tests.

It follows TF Serving's published REST predict contract
(https://www.tensorflow.org/tfx/serving/api_rest) and its gRPC PredictionService,
and runs our SavedModel from a TF Serving model directory behind them:
- `POST /v1/models/NAME[/versions/N]:predict` with `signature_name` and either
  `instances` (row format: one entry per example, all inputs batched together)
  or `inputs` (columnar format: each named input as a whole tensor);
- a lone input or output is written without its name;
- `{"b64": ...}` carries binary strings in requests; string outputs whose alias
  ends in `_bytes` come back as `{"b64": ...}`;
- failures answer `{"error": "<message>"}` with an HTTP error status;
- the highest version is served unless the request names one.
"""
from __future__ import annotations

import base64
import http.server
import json
import os
import re
import threading
from concurrent import futures

import numpy as np
import tensorflow as tf

from tests.json_http import JsonHandler

PREDICT_PATH = re.compile(r"^/v1/models/([^/:]+)(?:/versions/(\d+))?:predict$")


class ModelRepository:
    """Loads versions of one model lazily from `<base>/<version>/`."""

    def __init__(self, name: str, base_path: str):
        self.name, self.base_path = name, base_path
        self._loaded = {}

    def signature(self, version: int | None, signature_name: str):
        found = sorted(int(v) for v in os.listdir(self.base_path) if v.isdigit())
        if not found:
            raise LookupError(f"Servable not found for request: Latest({self.name})")
        version = version or found[-1]
        if version not in found:
            raise LookupError(f"Servable not found for request: Specific({self.name}, {version})")
        if version not in self._loaded:
            self._loaded[version] = tf.saved_model.load(os.path.join(self.base_path, str(version)))
        signatures = self._loaded[version].signatures
        if signature_name not in signatures:
            raise KeyError(f"Serving signature name: \"{signature_name}\" not found in signature def")
        return signatures[signature_name]


def _decode(value):
    if isinstance(value, dict) and set(value) == {"b64"}:
        return base64.b64decode(value["b64"])
    if isinstance(value, list):
        return [_decode(item) for item in value]
    return value


def _encode(alias: str, value: np.ndarray):
    if value.dtype.kind in ("S", "O"):
        if alias.endswith("_bytes"):
            return np.vectorize(lambda b: {"b64": base64.b64encode(b).decode()},
                                otypes=[object])(value).tolist()
        return np.vectorize(lambda b: b.decode("utf-8"), otypes=[object])(value).tolist()
    return value.tolist()


def predict_json(repository: ModelRepository, version: int | None, body: dict) -> dict:
    signature = repository.signature(version, body.get("signature_name", "serving_default"))
    specs = signature.structured_input_signature[1]
    if "instances" in body:
        instances = [_decode(instance) for instance in body["instances"]]
        if len(specs) == 1 and not all(isinstance(i, dict) for i in instances):
            (name,) = specs
            columns = {name: instances}
        else:
            columns = {name: [instance[name] for instance in instances] for name in specs}
    elif "inputs" in body:
        inputs = _decode(body["inputs"])
        columns = inputs if isinstance(inputs, dict) else {next(iter(specs)): inputs}
    else:
        raise ValueError("Missing 'inputs' or 'instances' key")
    missing = set(specs) - set(columns)
    if missing:
        raise ValueError(f"Missing input(s): {sorted(missing)}")
    tensors = {name: tf.constant(columns[name], dtype=specs[name].dtype) for name in specs}
    outputs = {alias: np.asarray(tensor.numpy()) for alias, tensor in signature(**tensors).items()}
    if "instances" in body:
        count = len(next(iter(outputs.values())))
        rows = [{alias: _encode(alias, np.asarray(value[i])) for alias, value in outputs.items()}
                for i in range(count)]
        if len(outputs) == 1:
            (alias,) = outputs
            rows = [row[alias] for row in rows]
        return {"predictions": rows}
    encoded = {alias: _encode(alias, value) for alias, value in outputs.items()}
    return {"outputs": next(iter(encoded.values())) if len(encoded) == 1 else encoded}


class _RestHandler(JsonHandler):
    repository: ModelRepository
    requests: list

    def do_POST(self):  # noqa: N802 (http.server's naming)
        match = PREDICT_PATH.match(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.requests.append((self.path, body))
        if not match or match.group(1) != self.repository.name:
            return self._reply(404, {"error": f"Malformed request: POST {self.path}"})
        try:
            answer = predict_json(self.repository,
                                  int(match.group(2)) if match.group(2) else None,
                                  json.loads(body))
        except LookupError as error:
            return self._reply(404, {"error": str(error).strip("'\"")})
        except tf.errors.OpError as error:
            return self._reply(400, {"error": error.message})
        except (ValueError, KeyError, TypeError) as error:
            return self._reply(400, {"error": str(error).strip("'\"")})
        self._reply(200, answer)



class RestServer:
    """`with RestServer(name, base) as server:` serves on `server.url` (loopback)."""

    def __init__(self, name: str, base_path: str):
        handler = type("Handler", (_RestHandler,), {
            "repository": ModelRepository(name, base_path), "requests": []})
        self.requests = handler.requests
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()


class GrpcServer:
    """TF Serving's gRPC PredictionService.Predict over the same repository."""

    def __init__(self, name: str, base_path: str):
        import grpc
        from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

        repository = ModelRepository(name, base_path)

        class Servicer(prediction_service_pb2_grpc.PredictionServiceServicer):
            def Predict(self, request, context):  # noqa: N802 (gRPC's naming)
                try:
                    if request.model_spec.name != name:
                        raise LookupError(f"Servable not found for request: "
                                          f"Latest({request.model_spec.name})")
                    signature = repository.signature(
                        request.model_spec.version.value or None,
                        request.model_spec.signature_name or "serving_default")
                    inputs = {key: tf.constant(tf.make_ndarray(proto))
                              for key, proto in request.inputs.items()}
                    outputs = signature(**inputs)
                except LookupError as error:
                    context.abort(grpc.StatusCode.NOT_FOUND, str(error).strip("'\""))
                except tf.errors.OpError as error:
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, error.message)
                response = predict_pb2.PredictResponse()
                response.model_spec.CopyFrom(request.model_spec)
                for alias, tensor in outputs.items():
                    response.outputs[alias].CopyFrom(tf.make_tensor_proto(tensor.numpy()))
                return response

        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(Servicer(),
                                                                           self._server)
        port = self._server.add_insecure_port("127.0.0.1:0")
        self.address = f"127.0.0.1:{port}"

    def __enter__(self):
        self._server.start()
        return self

    def __exit__(self, *exc):
        self._server.stop(grace=None)
