"""A stand-in for the TF Serving binary (which cannot run here), built from its source.

Each rule below names the file of github.com/tensorflow/serving (paths under
`tensorflow_serving/`) that implements it on the real server; error texts are copied
from there. The model behind it is our SavedModel, loaded from a TF Serving model
directory `<base>/<version>/`, the highest version served unless a request names one.

REST (`model_servers/http_server.cc`, `http_rest_api_handler.cc`, `http_rest_api_util.cc`,
`util/json_tensor.cc`):
- `POST /v1/models/NAME[/versions/N]:predict`, `GET /v1/models/NAME[/versions/N]` (status)
  and `GET /v1/models/NAME[/versions/N]/metadata` (signature defs);
- errors answer `{"error": "<message>"}` with the HTTP status of the error's code.
gRPC (`model_servers/prediction_service_impl.cc`, `model_service_impl.cc`,
`servables/tensorflow/predict_util.cc`, `get_model_metadata_impl.cc`,
`model_servers/get_model_status_impl.cc`): Predict (with `output_filter`),
GetModelMetadata and GetModelStatus.

Where it still differs from the server:
- a failing TensorFlow op (such as our request checks) reports TensorFlow's eager
  message ("Graph execution error: ... assertion failed: [<our message>] ..."); the
  server reports the session's ("assertion failed: [<our message>] ..."): both carry
  our message and the INVALID_ARGUMENT code;
- JSON syntax errors carry Python's wording, not rapidjson's;
- version labels (`/labels/L`, `version_label`), classify, regress and MultiInference
  are not implemented (answer UNIMPLEMENTED): our model has no such signatures;
- a gRPC input whose dtype differs from the signature's fails with TensorFlow's eager
  message rather than the session's;
- the status of versions is AVAILABLE for every complete version on disk: the server
  also reports LOADING / UNLOADING / END while its version policy moves between them.
"""
from __future__ import annotations

import base64
import binascii
import dataclasses
import http.server
import inspect
import json
import os
import re
import threading
import urllib.parse
from concurrent import futures

import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow.core.protobuf import error_codes_pb2, saved_model_pb2

from tests.json_http import JsonHandler

DEFAULT_SIGNATURE = "serving_default"  # kDefaultServingSignatureDefKey

# model_servers/http_rest_api_util.cc: kPredictionApiGegex, kModelStatusApiRegex (RE2
# FullMatch); http_rest_api_util.h: kHTTPRestApiHandlerPathRegex
PREDICTION_PATH = re.compile(r"(?i)/v1/models/([^/:]+)(?:(?:/versions/(\d+))|(?:/labels/"
                             r"([^/:]+)))?:(classify|regress|predict)")
STATUS_PATH = re.compile(r"(?i)/v1/models(?:/([^/:]+))?(?:(?:/versions/(\d+))|(?:/labels/"
                         r"([^/:]+)))?(?:\/(metadata))?")
HANDLED_PATH = re.compile(r"(?i)/v1/.*")

# model_servers/http_server.cc: ToHTTPStatusCode
HTTP_STATUS = {"OK": 200, "CANCELLED": 499, "UNKNOWN": 500, "INVALID_ARGUMENT": 400,
               "DEADLINE_EXCEEDED": 504, "NOT_FOUND": 404, "ALREADY_EXISTS": 409,
               "PERMISSION_DENIED": 403, "RESOURCE_EXHAUSTED": 429,
               "FAILED_PRECONDITION": 400, "ABORTED": 409, "OUT_OF_RANGE": 400,
               "UNIMPLEMENTED": 501, "INTERNAL": 500, "UNAVAILABLE": 503, "DATA_LOSS": 500,
               "UNAUTHENTICATED": 401}


class ServingStatus(Exception):
    """An absl::Status the server returns: a canonical code name and its message."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def invalid(message: str) -> ServingStatus:
    return ServingStatus("INVALID_ARGUMENT", message)


@dataclasses.dataclass
class Servable:
    version: int
    signature_defs: dict  # name -> tensorflow.core.protobuf.meta_graph_pb2.SignatureDef
    loaded: object        # tf.saved_model.load(...) of the version


class ModelRepository:
    """One model's versions under TF Serving's default version policy, `latest 1`
    (core/aspired_versions_manager.cc, sources/storage_path/file_system_storage_path_source.cc):
    only the highest complete version is loaded; a version it replaced has ended."""

    def __init__(self, name: str, base_path: str):
        self.name, self.base_path = name, base_path
        self._loaded: dict[int, Servable] = {}
        self._lock = threading.Lock()

    def latest(self) -> int | None:
        found = [int(v) for v in os.listdir(self.base_path)
                 if v.isdigit() and os.path.isfile(
                     os.path.join(self.base_path, v, "saved_model.pb"))]
        return max(found, default=None)

    def states(self) -> dict[int, str]:
        """Version -> ModelVersionStatus state, as the ServableStateMonitor knows them."""
        latest = self.latest()
        states = {version: "END" for version in self._loaded if version != latest}
        if latest is not None:
            states[latest] = "AVAILABLE"
        return states

    def servable(self, name: str, version: int | None) -> Servable:
        """core/basic_manager.cc (GetUntypedServableHandle) and core/manager.h
        (ServableRequest::DebugString)."""
        request = f"Specific({name}, {version})" if version is not None else f"Latest({name})"
        latest = self.latest() if name == self.name else None
        if latest is None or version not in (None, latest):
            raise ServingStatus("NOT_FOUND", f"Servable not found for request: {request}")
        with self._lock:
            if latest not in self._loaded:
                path = os.path.join(self.base_path, str(latest))
                saved_model = saved_model_pb2.SavedModel()
                with open(os.path.join(path, "saved_model.pb"), "rb") as source:
                    saved_model.ParseFromString(source.read())
                self._loaded[latest] = Servable(
                    latest, dict(saved_model.meta_graphs[0].signature_def),
                    tf.saved_model.load(path))
            return self._loaded[latest]


def version_status(repository: ModelRepository, name: str, version: int | None) -> dict:
    """model_servers/get_model_status_impl.cc: GetModelStatusWithModelSpec; the JSON as
    http_rest_api_util.cc's ToJsonString prints it (versions newest first, as the state
    monitor's VersionMap orders them)."""
    states = repository.states() if name == repository.name else {}
    if version is not None:
        if version not in states:
            raise ServingStatus("NOT_FOUND", f"Could not find version {version} of model {name}")
        states = {version: states[version]}
    elif not states:
        raise ServingStatus("NOT_FOUND", f"Could not find any versions of model {name}")
    return {"model_version_status": [
        {"version": str(v), "state": state, "status": {"error_code": "OK", "error_message": ""}}
        for v, state in sorted(states.items(), reverse=True)]}


def signature_def_map(servable: Servable):
    """servables/tensorflow/get_model_metadata_impl.cc: SavedModelGetSignatureDef."""
    from tensorflow_serving.apis import get_model_metadata_pb2
    signatures = get_model_metadata_pb2.SignatureDefMap()
    for name, signature in servable.signature_defs.items():
        signatures.signature_def[name].CopyFrom(signature)
    return signatures


def run_predict(servable: Servable, signature_name: str, inputs: dict[str, np.ndarray],
                output_filter: list[str]) -> dict[str, np.ndarray]:
    """servables/tensorflow/predict_util.cc: RunPredict and PreProcessPrediction."""
    name = signature_name or DEFAULT_SIGNATURE
    if name not in servable.signature_defs:
        raise ServingStatus("FAILED_PRECONDITION",
                            f"Serving signature key \"{name}\" not found.")
    signature = servable.signature_defs[name]
    expected, sent = set(signature.inputs), set(inputs)
    # predict_util.cc: VerifyRequestInputsSize (our signatures have no defaults)
    if len(sent) != len(expected):
        raise invalid(
            f"input size does not match signature: {len(sent)}!={len(expected)} "
            f"len({{{','.join(sorted(sent))}}}) != len({{{','.join(sorted(expected))}}}). "
            f"Sent extra: {{{','.join(sorted(sent - expected))}}}. "
            f"Missing but required: {{{','.join(sorted(expected - sent))}}}.")
    # tensorflow/cc/saved_model/util.cc (TensorFlow's repository): GetInputValues
    for alias in sorted(expected - sent):
        raise invalid(
            f"Signature input alias: {alias}(feed name: {signature.inputs[alias].name}) "
            f"not found in request and no default value provided. Inputs expected to be "
            f"in the request {{{','.join(sorted(sent))}}}, or default input alias set: ")
    aliases = []
    for alias in output_filter:
        if alias not in signature.outputs:
            raise invalid(f"output tensor alias not found in signature: {alias} Outputs "
                          f"expected to be in the set {{{','.join(sorted(signature.outputs))}}}.")
        if alias in aliases:
            raise invalid(f"duplicate output tensor alias: {alias}")
        aliases.append(alias)
    try:
        outputs = servable.loaded.signatures[name](
            **{alias: tf.constant(value) for alias, value in inputs.items()})
    except tf.errors.OpError as error:
        raise ServingStatus(error_codes_pb2.Code.Name(error.error_code), error.message) from None
    return {alias: np.asarray(outputs[alias].numpy())
            for alias in aliases or sorted(signature.outputs)}


# ---- REST: util/json_tensor.cc ----

def _debug_string(value) -> str:
    """JsonValueToDebugString: compact JSON cut after 256 bytes (the server stops at the
    first token that starts past 256 bytes; this cuts at 256 exactly)."""
    return json.dumps(value, separators=(",", ":"))[:256]


def _json_type(value) -> str:
    """JsonTypeString."""
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "True" if value else "False"
    return {dict: "Object", list: "Array", str: "String"}.get(type(value), "Number")


def _is_int(value, bits: int) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)
            and -2 ** (bits - 1) <= value < 2 ** (bits - 1))


def _dtype_string(dtype: tf.DType) -> str:
    """DataTypeString."""
    return {"float32": "float", "float64": "double"}.get(dtype.name, dtype.name)


def _type_error(value, dtype: tf.DType) -> ServingStatus:
    return invalid(f"JSON Value: {_debug_string(value)} Type: {_json_type(value)} is not of "
                   f"expected type: {_dtype_string(dtype)}")


def _is_base64_object(value) -> bool:
    """IsValBase64Object."""
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("b64"), str)


def _scalar(value, dtype: tf.DType):
    """AddValueToTensor and, for objects, JsonDecodeBase64Object."""
    if isinstance(value, dict):
        if dtype != tf.string:
            raise _type_error(value, dtype)
        if not _is_base64_object(value):
            raise invalid(f"JSON Value: {_debug_string(value)} not formatted correctly for "
                          f"base64 data")
        try:
            return base64.b64decode(value["b64"], validate=True)
        except binascii.Error:
            raise invalid("Unable to base64 decode") from None
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    valid = {tf.float32: number, tf.float64: number, tf.int32: _is_int(value, 32),
             tf.int16: _is_int(value, 32), tf.int8: _is_int(value, 32),
             tf.uint8: _is_int(value, 32), tf.int64: _is_int(value, 64),
             tf.string: isinstance(value, str), tf.bool: isinstance(value, bool)}
    if dtype not in valid:
        raise ServingStatus("UNIMPLEMENTED", f"Conversion of JSON Value: "
                                             f"{_debug_string(value)} to type: "
                                             f"{_dtype_string(dtype)}")
    if not valid[dtype]:
        raise _type_error(value, dtype)
    return value.encode() if dtype == tf.string else value


def _dense_shape(value) -> list[int]:
    """GetDenseTensorShape: the sizes of the first elements, level by level."""
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return shape


def _tensor(value, dtype: tf.DType) -> np.ndarray:
    """FillTensorProto over the shape `_dense_shape` found."""
    shape, flat = _dense_shape(value), []

    def fill(item, level):
        if not isinstance(item, list):
            if level != len(shape):
                raise invalid(f"JSON Value: {_debug_string(item)} found at incorrect level: "
                              f"{level + 1} in the JSON DOM. Expected at level: {len(shape)}")
            flat.append(_scalar(item, dtype))
            return
        if level >= len(shape):
            raise invalid(f"Encountered list at unexpected level: {level} expected < "
                          f"{len(shape)}")
        if len(item) != shape[level]:
            raise invalid(f"Encountered list at unexpected size: {len(item)} at level: "
                          f"{level} expected size: {shape[level]}")
        for element in item:
            fill(element, level + 1)

    fill(value, 0)
    return np.array(flat, dtype=object if dtype == tf.string else dtype.as_numpy_dtype
                    ).reshape(shape)


def _rows_to_columns(instances: list, infos: dict) -> dict[str, np.ndarray]:
    """FillTensorMapFromInstancesList."""
    if not isinstance(instances[0], dict) and len(infos) > 1:
        raise invalid("instances is a plain list, but expecting list of objects as multiple "
                      "input tensors required as per tensorinfo_map")

    def is_object(value):
        return isinstance(value, dict) and not _is_base64_object(value)

    objects, columns = is_object(instances[0]), {}
    for index, element in enumerate(instances):
        if objects and not is_object(element):
            raise invalid(f"Expecting object but got list at item {index} of input list")
        if not objects and is_object(element):
            raise invalid(f"Expecting value/list but got object at item {index} of input list")
        items = element.items() if objects else [(sorted(infos)[0], element)]
        for name, value in items:
            try:
                if name not in infos:
                    raise invalid(f"JSON object: does not have named input: {name}")
                tensor = _tensor(value, infos[name])
                first = columns.setdefault(name, [tensor])[0]
                if first.size != tensor.size:
                    raise invalid(f"Expecting tensor size: {first.size} but got: "
                                  f"{tensor.size}")
                if first.shape != tensor.shape:
                    raise invalid(f"Expecting shape [{','.join(map(str, first.shape))}] but "
                                  f"got: [{','.join(map(str, tensor.shape))}]")
                if tensor is not first:
                    columns[name].append(tensor)
            except ServingStatus as status:
                key = f" key: {name}" if objects else ""
                raise invalid(f"Failed to process element: {index}{key} of 'instances' list. "
                              f"Error: {status.code}: {status.message}") from None
        if objects and set(element) != set(infos):
            raise invalid(f"Failed to process element: {index} of 'instances' list. JSON "
                          f"object: {_debug_string(element)} keys must be equal to: "
                          f"{','.join(sorted(infos))}")
    return {name: np.stack(tensors) for name, tensors in columns.items()}


def _inputs_to_columns(inputs, infos: dict) -> dict[str, np.ndarray]:
    """FillTensorMapFromInputsMap: keys the signature does not have are ignored."""
    if not isinstance(inputs, dict) or _is_base64_object(inputs):
        if len(infos) > 1:
            raise invalid("inputs is a plain value/list, but expecting an object as multiple "
                          "input tensors required as per tensorinfo_map")
        (name,) = infos
        return {name: _tensor(inputs, infos[name])}
    columns = {}
    for name in sorted(infos):
        if name not in inputs:
            raise invalid(f"Missing named input: {name} in 'inputs' object.")
        columns[name] = _tensor(inputs[name], infos[name])
    return columns


def parse_predict_request(body: bytes, input_infos) -> tuple[str, str, dict]:
    """FillPredictRequestFromJson: (signature name, "row" | "columnar", inputs).
    `input_infos(signature_name)` is the handler's GetInfoMap: input alias -> dtype."""
    text = body.decode("utf-8", "replace").lstrip()
    if not text:
        raise invalid("JSON Parse error: The document is empty")
    try:  # kParseStopWhenDoneFlag: what follows the document is not read
        doc, _ = json.JSONDecoder().raw_decode(text)
    except json.JSONDecodeError as error:
        raise invalid(f"JSON Parse error: {error.msg} at offset: {error.pos}") from None
    if not isinstance(doc, dict):
        raise invalid(f"JSON Value: {_debug_string(doc)} Is not object")
    signature_name = doc.get("signature_name", "")
    if not isinstance(signature_name, str):
        raise invalid(f"JSON Value: {_debug_string(doc)} not formatted correctly. "
                      f"'signature_name' key must be a string value.")
    infos = input_infos(signature_name)
    if not infos:
        raise invalid(f"Failed to get input map for signature: {signature_name or 'DEFAULT'}")
    both = (f"JSON Value: {_debug_string(doc)} Not formatted correctly expecting only one of "
            f"'inputs' or 'instances' keys to exist ")
    if "instances" in doc:
        if "inputs" in doc:
            raise invalid(both)
        instances = doc["instances"]
        if not isinstance(instances, list):
            raise invalid(f"JSON Value: {_debug_string(doc)} Expecting 'instances' to be an "
                          f"list/array")
        if not instances:
            raise invalid(f"JSON Value: {_debug_string(doc)} No values in 'instances' array")
        return signature_name, "row", _rows_to_columns(instances, infos)
    if "inputs" in doc:
        return signature_name, "columnar", _inputs_to_columns(doc["inputs"], infos)
    raise invalid("Missing 'inputs' or 'instances' key")


def _json_values(alias: str, value: np.ndarray):
    """AddTensorValues: floats as their shortest decimal (WriteDecimal), strings whose
    alias ends in `_bytes` as {"b64": ...} (IsNamedTensorBytes), other strings as text."""
    if value.dtype.kind in ("S", "O"):
        if alias.endswith("_bytes"):
            return np.vectorize(lambda b: {"b64": base64.b64encode(b).decode()},
                                otypes=[object])(value).tolist()
        return np.vectorize(lambda b: b.decode("utf-8", "replace"), otypes=[object]
                            )(value).tolist()
    if value.dtype.kind == "f":
        return np.vectorize(lambda x: float(str(x)), otypes=[object])(value).tolist()
    return value.tolist()


def predict_json(outputs: dict[str, np.ndarray], request_format: str) -> dict:
    """MakeJsonFromTensors: a lone output is written without its alias."""
    if not outputs:
        raise invalid("Cannot convert empty tensor map to JSON")
    if request_format == "columnar":
        encoded = {alias: _json_values(alias, value) for alias, value in outputs.items()}
        return {"outputs": next(iter(encoded.values())) if len(encoded) == 1 else encoded}
    batch = None
    for alias, value in outputs.items():  # MakeRowFormatJsonFromTensors
        if value.ndim == 0:
            raise invalid(f"Tensor name: {alias} has no shape information ")
        if batch is not None and value.shape[0] != batch:
            raise invalid(f"Tensor name: {alias} has inconsistent batch size: "
                          f"{value.shape[0]} expecting: {batch}")
        batch = value.shape[0]
    columns = {alias: _json_values(alias, value) for alias, value in outputs.items()}
    if len(columns) == 1:
        return {"predictions": next(iter(columns.values()))}
    return {"predictions": [{alias: column[i] for alias, column in columns.items()}
                            for i in range(batch)]}


# protobuf 26 renamed MessageToDict's option that prints fields left at their defaults, and
# protobuf 30 dropped the old name: the compatible stack (protobuf 3.20) knows only the old
# name, the modern stack (protobuf 6) only the new one.
_PRINT_DEFAULTS = ("always_print_fields_with_no_presence"
                   if "always_print_fields_with_no_presence"
                   in inspect.signature(json_format.MessageToDict).parameters
                   else "including_default_value_fields")


def _message_dict(message) -> dict:
    """ToJsonString's options: field names as in the .proto, defaults printed."""
    return json_format.MessageToDict(message, preserving_proto_field_name=True,
                                     **{_PRINT_DEFAULTS: True})


# ---- REST: model_servers/http_rest_api_handler.cc ----

class _RestHandler(JsonHandler):
    repository: ModelRepository
    requests: list

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self._process("GET", b"")

    def do_POST(self):  # noqa: N802
        self._process("POST", self.rfile.read(int(self.headers.get("Content-Length", 0))))

    def do_PUT(self):  # noqa: N802
        self._process("PUT", self.rfile.read(int(self.headers.get("Content-Length", 0))))

    def _process(self, method: str, body: bytes):
        path = urllib.parse.urlsplit(self.path).path
        self.requests.append((method, self.path, body))
        if not HANDLED_PATH.fullmatch(path):
            # http_server.cc: RestApiRequestDispatcher ignores it; the HTTP library answers
            # 404 (its body, not JSON here, is not modelled).
            return self._reply(404, {})
        try:
            answer = self._answer(method, path, body)
        except ServingStatus as status:  # MakeJsonFromStatus
            return self._reply(HTTP_STATUS[status.code], {"error": status.message})
        self._reply(200, answer)

    def _answer(self, method: str, path: str, body: bytes) -> dict:
        """ProcessRequest and ParseModelInfo (http_rest_api_util.cc)."""
        malformed = invalid(f"Malformed request: {method} {path}")
        pattern = {"POST": PREDICTION_PATH, "GET": STATUS_PATH}.get(method)
        match = pattern.fullmatch(path) if pattern else None
        if not match:
            raise malformed
        name = urllib.parse.unquote(match.group(1) or "")
        version = int(match.group(2)) if match.group(2) else None
        if version is not None and version >= 2 ** 63:
            raise invalid(f"Failed to convert version: {match.group(2)} to numeric.")
        if match.group(3):
            raise ServingStatus("UNIMPLEMENTED", "version labels: not in this double")
        if method == "POST":
            if match.group(4).lower() != "predict":
                raise ServingStatus("UNIMPLEMENTED", "classify/regress: not in this double")
            return self._predict(name, version, body)
        if not name:
            raise invalid("Missing model name in request.")
        if match.group(4):  # ProcessModelMetadataRequest
            servable = self.repository.servable(name, version)
            return {"model_spec": {"name": name, "signature_name": "",
                                   "version": str(servable.version)},
                    "metadata": {"signature_def": _message_dict(signature_def_map(servable))}}
        return version_status(self.repository, name, version)  # ProcessModelStatusRequest

    def _predict(self, name: str, version: int | None, body: bytes) -> dict:
        """ProcessPredictRequest, with GetInfoMap as the input map."""
        def input_infos(signature_name):
            servable = self.repository.servable(name, version)
            key = signature_name or DEFAULT_SIGNATURE
            if key not in servable.signature_defs:
                raise invalid(f"Serving signature name: \"{key}\" not found in signature def")
            return {alias: tf.as_dtype(info.dtype)
                    for alias, info in servable.signature_defs[key].inputs.items()}

        signature_name, request_format, inputs = parse_predict_request(body, input_infos)
        outputs = run_predict(self.repository.servable(name, version), signature_name,
                              inputs, [])
        return predict_json(outputs, request_format)


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


# ---- gRPC: model_servers/prediction_service_impl.cc, model_service_impl.cc ----

def as_proto_field(value: np.ndarray):
    """Tensor::AsProtoField, as predict_util.cc's PostProcessPredictionResult writes outputs:
    values in the typed repeated field, not in tensor_content."""
    proto = tf.make_tensor_proto(value)
    field = {tf.float32: "float_val", tf.float64: "double_val", tf.int32: "int_val",
             tf.int64: "int64_val", tf.bool: "bool_val"}.get(tf.as_dtype(proto.dtype))
    if field:
        proto.ClearField("tensor_content")
        getattr(proto, field).extend(value.ravel().tolist())
    return proto


def grpc_status_message(status: ServingStatus) -> str:
    """model_servers/grpc_status_util.cc: ToGRPCStatus."""
    if len(status.message) > 1024:
        return status.message[:1024] + "...TRUNCATED"
    return status.message


class GrpcServer:
    """PredictionService (Predict, GetModelMetadata) and ModelService (GetModelStatus)."""

    def __init__(self, name: str, base_path: str):
        import grpc
        from tensorflow_serving.apis import (get_model_metadata_pb2, get_model_status_pb2,
                                             model_service_pb2_grpc, predict_pb2,
                                             prediction_service_pb2_grpc)

        repository = ModelRepository(name, base_path)

        def answering(method):
            def call(self, request, context):
                try:
                    if not request.HasField("model_spec"):
                        raise invalid("Missing ModelSpec")
                    spec = request.model_spec
                    if spec.WhichOneof("version_choice") == "version_label":
                        raise ServingStatus("UNIMPLEMENTED", "version labels: not in this double")
                    version = spec.version.value if spec.HasField("version") else None
                    return method(request, spec.name, version)
                except ServingStatus as status:
                    context.abort(getattr(grpc.StatusCode, status.code),
                                  grpc_status_message(status))
            return call

        def predict(request, model, version):
            """predict_impl.cc: PredictWithModelSpec."""
            servable = repository.servable(model, version)
            inputs = {}
            for alias, proto in request.inputs.items():
                try:
                    inputs[alias] = tf.make_ndarray(proto)
                except (TypeError, ValueError):
                    raise invalid(f"tensor parsing error: {alias}") from None
            outputs = run_predict(servable, request.model_spec.signature_name, inputs,
                                  list(request.output_filter))
            response = predict_pb2.PredictResponse()
            response.model_spec.name = model  # predict_util.cc: MakeModelSpec
            response.model_spec.signature_name = (request.model_spec.signature_name
                                                  or DEFAULT_SIGNATURE)
            response.model_spec.version.value = servable.version
            for alias, value in outputs.items():
                response.outputs[alias].CopyFrom(as_proto_field(value))
            return response

        def metadata(request, model, version):
            """get_model_metadata_impl.cc: GetModelMetadata."""
            if not request.metadata_field:
                raise invalid("GetModelMetadataRequest must specify at least one "
                              "metadata_field")
            for field in request.metadata_field:
                if field != "signature_def":
                    raise invalid(f"Metadata field {field} is not supported")
            servable = repository.servable(model, version)
            response = get_model_metadata_pb2.GetModelMetadataResponse()
            response.model_spec.name = model
            response.model_spec.version.value = servable.version
            response.metadata["signature_def"].Pack(signature_def_map(servable))
            return response

        def status(request, model, version):
            answer = version_status(repository, model, version)
            return json_format.ParseDict(answer, get_model_status_pb2.GetModelStatusResponse())

        prediction = type("Prediction", (prediction_service_pb2_grpc.PredictionServiceServicer,),
                          {"Predict": answering(predict),
                           "GetModelMetadata": answering(metadata)})
        models = type("Models", (model_service_pb2_grpc.ModelServiceServicer,),
                      {"GetModelStatus": answering(status)})
        # model_servers/server.cc: builder.SetMaxMessageSize(int32 max)
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), options=[
            ("grpc.max_send_message_length", 2 ** 31 - 1),
            ("grpc.max_receive_message_length", 2 ** 31 - 1)])
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(prediction(),
                                                                           self._server)
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(models(), self._server)
        port = self._server.add_insecure_port("127.0.0.1:0")
        self.address = f"127.0.0.1:{port}"

    def __enter__(self):
        self._server.start()
        return self

    def __exit__(self, *exc):
        self._server.stop(grace=None)
