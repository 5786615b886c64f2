"""Asks a TF Serving generator endpoint for images and writes them as a PNG grid.

    python -m serving.client --server http://localhost:8501 --model generator \\
        --num-samples 16 --seed 7 --output samples.png
    python -m serving.client --protocol grpc --server localhost:8500 ...

Uses the SavedModel's `generate` signature, which returns PNG-encoded images
(`images_png_bytes`, base64 over REST). Errors from the server are shown as the
server wrote them.
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
PNG_OUTPUT = "images_png_bytes"


class ServingError(RuntimeError):
    """The server refused or failed the request; the message is the server's own."""


def rest_generate(server: str, model: str, num_samples: int, seed: int,
                  version: int | None = None, timeout: float = 60.0) -> list[bytes]:
    """PNG bytes of `num_samples` images, through TF Serving's REST predict API (columnar)."""
    path = f"/v1/models/{model}" + (f"/versions/{version}" if version else "") + ":predict"
    body = json.dumps({"signature_name": GENERATE_SIGNATURE,
                       "inputs": {"num_samples": num_samples, "seed": seed}}).encode()
    request = urllib.request.Request(server.rstrip("/") + path, data=body,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.load(response)
    except urllib.error.HTTPError as error:
        text = error.read().decode("utf-8", "replace")
        try:
            text = json.loads(text)["error"]
        except (ValueError, KeyError, TypeError):
            pass
        raise ServingError(f"HTTP {error.code}: {text}") from None
    outputs = answer["outputs"]
    encoded = outputs[PNG_OUTPUT] if isinstance(outputs, dict) else outputs
    return [base64.b64decode(item["b64"]) for item in encoded]


def grpc_generate(server: str, model: str, num_samples: int, seed: int,
                  version: int | None = None, timeout: float = 60.0) -> list[bytes]:
    """The same request over gRPC (tensorflow-serving-api's PredictionService)."""
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = GENERATE_SIGNATURE
    if version:
        request.model_spec.version.value = version
    request.inputs["num_samples"].CopyFrom(tf.make_tensor_proto(num_samples, tf.int32))
    request.inputs["seed"].CopyFrom(tf.make_tensor_proto(seed, tf.int64))
    with grpc.insecure_channel(server) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        try:
            response = stub.Predict(request, timeout=timeout)
        except grpc.RpcError as error:
            raise ServingError(f"{error.code().name}: {error.details()}") from None
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
    args = parser.parse_args(argv)
    generate = rest_generate if args.protocol == "rest" else grpc_generate
    server = args.server or ("http://localhost:8501" if args.protocol == "rest"
                             else "localhost:8500")
    try:
        images = generate(server, args.model, args.num_samples, args.seed, args.version)
    except ServingError as error:
        print(f"server error: {error}", file=sys.stderr)
        return 1
    stacked = write_grid(images, args.output)
    print(f"wrote {len(images)} images of {stacked.shape[1]}x{stacked.shape[2]}x"
          f"{stacked.shape[3]} to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
