"""Asks a TF Serving generator endpoint for images and writes them as a PNG grid.

    python -m serving.client --server http://localhost:8501 --model generator \\
        --num-samples 16 --seed 7 --output samples.png
    python -m serving.client --protocol grpc --server localhost:8500 ...
    python -m serving.client --metadata

Uses the SavedModel's `generate` signature, whose only output is the PNG-encoded
images (`images_png_bytes`, base64 over REST), and its `metadata` signature. Errors
from the server are shown as the server wrote them.
"""
from __future__ import annotations

import argparse
import base64
import io
import json
import sys
import urllib.error
import urllib.request

import numpy as np
from PIL import Image

from modules.images import png_bytes, viewable_grid

GENERATE_SIGNATURE = "generate"
METADATA_SIGNATURE = "metadata"
PNG_OUTPUT = "images_png_bytes"
METADATA_INPUT = "dummy"
# Room for the PredictResponse around the PNG strings (model spec, map keys, framing).
RESPONSE_OVERHEAD_BYTES = 64 * 1024


class ServingError(RuntimeError):
    """The server refused or failed the request; the message is the server's own."""


def _rest_predict(server: str, model: str, version: int | None, body: dict,
                  timeout: float):
    path = f"/v1/models/{model}" + (f"/versions/{version}" if version else "") + ":predict"
    request = urllib.request.Request(server.rstrip("/") + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.load(response)["outputs"]
    except urllib.error.HTTPError as error:
        text = error.read().decode("utf-8", "replace")
        try:
            text = json.loads(text)["error"]
        except (ValueError, KeyError, TypeError):
            pass
        raise ServingError(f"HTTP {error.code}: {text}") from None


def rest_generate(server: str, model: str, num_samples: int, seed: int,
                  version: int | None = None, timeout: float = 60.0) -> list[bytes]:
    """PNG bytes of `num_samples` images, through TF Serving's REST predict API (columnar)."""
    outputs = _rest_predict(server, model, version, {
        "signature_name": GENERATE_SIGNATURE,
        "inputs": {"num_samples": num_samples, "seed": seed}}, timeout)
    # The lone output comes unnamed; generators exported with a float `images` output
    # beside the PNGs answer with both, by name.
    encoded = outputs[PNG_OUTPUT] if isinstance(outputs, dict) else outputs
    return [base64.b64decode(item["b64"]) for item in encoded]


def rest_metadata(server: str, model: str, version: int | None = None,
                  timeout: float = 60.0) -> dict:
    """What is served (image shape, latent size, max_samples, FID at push time)."""
    return json.loads(_rest_predict(server, model, version, {
        "signature_name": METADATA_SIGNATURE, "inputs": {METADATA_INPUT: 0}}, timeout))


def png_response_bound(num_samples: int, metadata: dict) -> int:
    """The largest PredictResponse `num_samples` PNGs of the served shape can make: raw
    rows plus a filter byte each, deflate's stored-block worst case (under 1 %), and the
    PNG chunks and proto framing (1 KiB an image)."""
    raw = metadata["image_size"] * (metadata["image_size"] * metadata["channels"] + 1)
    return num_samples * (raw + raw // 100 + 1024) + RESPONSE_OVERHEAD_BYTES


def _grpc_predict(server: str, request, timeout: float, receive_limit: int | None = None):
    import grpc
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    options = [("grpc.max_receive_message_length", receive_limit)] if receive_limit else []
    with grpc.insecure_channel(server, options=options) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        try:
            return stub.Predict(request, timeout=timeout)
        except grpc.RpcError as error:
            raise ServingError(f"{error.code().name}: {error.details()}") from None


def _grpc_request(model: str, signature: str, version: int | None, inputs: dict):
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    if version:
        request.model_spec.version.value = version
    for name, (value, dtype) in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value, dtype))
    return request


def grpc_metadata(server: str, model: str, version: int | None = None,
                  timeout: float = 60.0) -> dict:
    request = _grpc_request(model, METADATA_SIGNATURE, version, {METADATA_INPUT: (0, "int32")})
    response = _grpc_predict(server, request, timeout)
    return json.loads(response.outputs["metadata"].string_val[0])


def grpc_generate(server: str, model: str, num_samples: int, seed: int,
                  version: int | None = None, timeout: float = 60.0) -> list[bytes]:
    """The same request over gRPC (tensorflow-serving-api's PredictionService): only the
    PNG output is asked for, and the receive limit fits `num_samples` PNGs of the served
    image shape (read from the metadata signature first), not gRPC's 4 MiB default."""
    metadata = grpc_metadata(server, model, version, timeout)
    request = _grpc_request(model, GENERATE_SIGNATURE, version, {
        "num_samples": (num_samples, "int32"), "seed": (seed, "int64")})
    request.output_filter.append(PNG_OUTPUT)
    limit = png_response_bound(max(num_samples, 0), metadata)
    response = _grpc_predict(server, request, timeout, receive_limit=limit)
    return list(response.outputs[PNG_OUTPUT].string_val)


def write_grid(png_images: list[bytes], path: str, min_cell_pixels: int = 32) -> np.ndarray:
    """Tiles the decoded images into one PNG (upscaled so tiny images stay legible)."""
    pixels = []
    for png in png_images:
        image = np.asarray(Image.open(io.BytesIO(png)))
        pixels.append(image[..., None] if image.ndim == 2 else image)
    stacked = np.stack(pixels)
    with open(path, "wb") as out:
        out.write(png_bytes(viewable_grid(stacked, min_cell_pixels)))
    return stacked


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default=None,
                        help="REST: http://host:8501 (default); gRPC: host:8500")
    parser.add_argument("--protocol", choices=("rest", "grpc"), default="rest")
    parser.add_argument("--model", default="generator", help="TF Serving's MODEL_NAME")
    parser.add_argument("--version", type=int, default=None, help="default: the served one")
    parser.add_argument("--num-samples", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default="samples.png")
    parser.add_argument("--metadata", action="store_true",
                        help="print what is served (JSON) instead of generating images")
    args = parser.parse_args(argv)
    rest = args.protocol == "rest"
    server = args.server or ("http://localhost:8501" if rest else "localhost:8500")
    try:
        if args.metadata:
            metadata = (rest_metadata if rest else grpc_metadata)(server, args.model,
                                                                  args.version)
            print(json.dumps(metadata, indent=2, sort_keys=True))
            return 0
        images = (rest_generate if rest else grpc_generate)(
            server, args.model, args.num_samples, args.seed, args.version)
    except ServingError as error:
        print(f"server error: {error}", file=sys.stderr)
        return 1
    stacked = write_grid(images, args.output)
    print(f"wrote {len(images)} images of {stacked.shape[1]}x{stacked.shape[2]}x"
          f"{stacked.shape[3]} to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
