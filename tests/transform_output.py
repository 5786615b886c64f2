"""Real Transform output without TFX (whose import alone takes half a minute): the project's
`preprocessing_fn` run by tf.Transform's Beam implementation, which TFX's Transform
executor runs too, on bundled digits; written where TFX puts a TransformGraph and
transformed Examples (gzipped tf.Examples under `Split-train/`, `Split-eval/`)."""
from __future__ import annotations

import functools
import os

EVAL_EVERY = 5  # every fifth digit goes to the eval split


def write_transform_output(root: str, count: int, pixels=None, labels=None,
                           labeled: bool = True) -> tuple[str, str]:
    """Transforms the first `count` digits (without their labels when not `labeled`, as
    ingest writes a flat folder), or of `pixels` (uint8 [N, H, W, C]) with `labels` (None:
    unlabeled); returns (transformed examples URI, transform graph URI)."""
    import apache_beam as beam
    import tensorflow as tf
    import tensorflow_transform as tft
    import tensorflow_transform.beam as tft_beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

    from modules.images import IMAGE_KEY, ImageSpec, png_bytes
    from modules.preprocessing import preprocessing_fn
    from pipeline.bundled_data import digits_as_uint8

    if pixels is None:
        pixels, labels = digits_as_uint8()
        pixels, labels = pixels[..., None], labels if labeled else None
    image_config = {IMAGE_KEY: ImageSpec(pixels.shape[1], pixels.shape[3]).to_json()}
    raw = [{"image": png_bytes(image),
            "label": b"" if labels is None else str(labels[index]).encode()}
           for index, image in enumerate(pixels[:count])]
    raw_metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec({
        "image": tf.io.FixedLenFeature([], tf.string),
        "label": tf.io.FixedLenFeature([], tf.string)}))
    examples_uri = os.path.join(root, "transformed_examples")
    graph_uri = os.path.join(root, "transform_graph")
    splits = {"train": [row for i, row in enumerate(raw) if i % EVAL_EVERY],
              "eval": [row for i, row in enumerate(raw) if i % EVAL_EVERY == 0]}
    with beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner"])) as pipeline, \
            tft_beam.Context(temp_dir=os.path.join(root, "tmp")):
        # Analyzed on the training split, applied to both, as TFX's Transform does.
        transform_fn = (
            (pipeline | "CreateAnalyzed" >> beam.Create(splits["train"]), raw_metadata)
            | tft_beam.AnalyzeDataset(
                functools.partial(preprocessing_fn, custom_config=image_config)))
        _ = transform_fn | tft_beam.WriteTransformFn(graph_uri)
        for split, rows in splits.items():
            transformed, metadata = (
                ((pipeline | f"Create{split}" >> beam.Create(rows), raw_metadata), transform_fn)
                | f"Transform{split}" >> tft_beam.TransformDataset())
            coder = tft.coders.ExampleProtoCoder(metadata.schema)
            _ = (transformed
                 | f"Encode{split}" >> beam.Map(coder.encode)
                 | f"Write{split}" >> beam.io.WriteToTFRecord(
                     os.path.join(examples_uri, f"Split-{split}", "transformed_examples"),
                     # Two training files: the Trainer's stream varies their order.
                     file_name_suffix=".gz", num_shards=2 if split == "train" else 1))
    return examples_uri, graph_uri
