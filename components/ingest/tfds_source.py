"""A prepared TensorFlow Datasets (TFDS) dataset as ingest input: its shard files and labels.

Ingest reads TFDS shard files directly, as a Beam source (`ingest_beam`), so
memory does not grow with the dataset; TFDS is used only here, in the process
that builds the Beam job, to find the prepared files from their metadata
(`dataset_info.json`, `features.json`). The dataset's own code is never run, so
nothing is downloaded: a dataset that is not prepared in `data_dir` stops the
run with one message that says how to prepare it.
"""
from __future__ import annotations

import dataclasses

from components.ingest.report import IngestionError

# The shard formats ingest reads; TFDS writes TFRecord unless told otherwise.
FILE_FORMATS = ("tfrecord", "array_record")
# TFDS's ClassLabel value for an example without a label (e.g. an unlabeled test split).
UNLABELED = -1


@dataclasses.dataclass(frozen=True)
class TfdsShard:
    """One shard file of a split: the records TFDS would read from it, and their first index."""

    dataset: str            # `<name>` or `<name>/<config>`, without the version
    split: str
    path: str
    file_format: str        # one of FILE_FORMATS
    first_index: int        # of the shard's first record within its split
    num_records: int

    def record_name(self, offset: int) -> str:
        """`tfds:<dataset>/<split>/<index>`: the record `<split>[index:index+1]` in TFDS."""
        return f"tfds:{self.dataset}/{self.split}/{self.first_index + offset}"


@dataclasses.dataclass(frozen=True)
class TfdsSource:
    """What the Beam job reads: every shard of the chosen splits, and the label names."""

    shards: tuple[TfdsShard, ...]
    class_names: tuple[str, ...]  # of a ClassLabel label feature; empty: labels kept as stored


def default_data_dir() -> str:
    """Where TFDS keeps prepared datasets unless told otherwise ($TFDS_DATA_DIR or its default)."""
    from tensorflow_datasets.core.constants import get_default_data_dir

    return get_default_data_dir()


def resolve(name: str, data_dir: str, splits: tuple[str, ...], image_feature: str,
            label_feature: str) -> TfdsSource:
    """The shards of `splits` (all splits when empty) of dataset `name` prepared in `data_dir`.

    `name` is what `tfds.builder` takes: `mnist`, `mnist:3.0.1`, `dataset/config`.
    Raises IngestionError when the dataset is not prepared there or does not have
    the named features or splits.
    """
    import tensorflow_datasets as tfds
    from tensorflow_datasets.core import read_only_builder

    try:
        builder = read_only_builder.builder_from_files(name, data_dir=data_dir)
    except tfds.core.DatasetNotFoundError as error:
        raise IngestionError(
            f"TFDS dataset {name!r} is not prepared in {data_dir}, and ingest never downloads. "
            f"Prepare it where it can be downloaded, with `tfds build {name} --data_dir DIR` "
            f"(or tfds.builder({name!r}, data_dir=DIR).download_and_prepare()), then copy "
            f"DIR's contents into {data_dir}. TFDS: {error}") from None
    info = builder.info
    file_format = info.file_format.value
    if file_format not in FILE_FORMATS:
        raise IngestionError(f"TFDS dataset {name!r} in {data_dir} is stored as {file_format}; "
                             f"ingest reads {' or '.join(FILE_FORMATS)} (tfds build "
                             f"--file_format=tfrecord)")
    _check_image_feature(info.features, image_feature, name)
    class_names = _class_names(info.features, label_feature, name)
    dataset = info.name + (f"/{info.config_name}" if info.config_name else "")
    unknown = sorted(set(splits) - set(info.splits))
    if unknown:
        raise IngestionError(f"TFDS dataset {name!r} has no split {', '.join(unknown)}; "
                             f"its splits: {', '.join(sorted(info.splits))}")
    shards = []
    for split in splits or sorted(info.splits):
        split_info = info.splits[split]
        first_index = 0
        for path, length in zip(split_info.filepaths, split_info.shard_lengths):
            shards.append(TfdsShard(dataset, split, str(path), file_format, first_index, length))
            first_index += length
    return TfdsSource(tuple(shards), class_names)


def _check_image_feature(features, image_feature: str, name: str) -> None:
    import tensorflow_datasets as tfds

    if image_feature not in features or not isinstance(features[image_feature],
                                                       tfds.features.Image):
        images = [key for key, feature in features.items()
                  if isinstance(feature, tfds.features.Image)]
        raise IngestionError(f"TFDS dataset {name!r} has no image feature {image_feature!r}; "
                             f"its image features: {', '.join(images) or 'none'}")


def _class_names(features, label_feature: str, name: str) -> tuple[str, ...]:
    """The ClassLabel names of the label feature; empty when there is none or it is not one."""
    import tensorflow_datasets as tfds

    if not label_feature:
        return ()
    if label_feature not in features:
        raise IngestionError(f"TFDS dataset {name!r} has no feature {label_feature!r} for "
                             f"labels (its features: {', '.join(sorted(features))}); "
                             f"name another, or none for unlabeled data")
    feature = features[label_feature]
    return tuple(feature.names) if isinstance(feature, tfds.features.ClassLabel) else ()
