"""Checks, before any compute is spent, that the run's generator can be evaluated.

A run whose evaluation is bound to fail (a labeled-only extractor on unlabeled data,
an extractor model that is missing or cannot take the images, an eval split too small
for FID at the extractor's feature dimension) is refused here with one message naming
the flag, instead of after training. What cannot be known from the configuration and
the input folder (labels inside TFRecord files, say) is checked by the components that
read the data.
"""
from __future__ import annotations

import dataclasses
import os

from modules.quality.metrics import (AUTO_EXTRACTOR, FID_EXTRACTORS, LABELED_EXTRACTOR,
                                     PATH_EXTRACTORS, UNLABELED_EXTRACTOR, fid_sample_refusal,
                                     resolve_extractor)
from pipeline import configs

EXTRACTOR_FLAG = "--fid-extractor"
PATH_FLAG = "--fid-extractor-path"


class PreflightError(ValueError):
    """The configuration cannot be evaluated; the message names the flag to change."""


@dataclasses.dataclass(frozen=True)
class FolderFacts:
    """What an image folder holds, as ingest will split it (before decoding anything)."""

    classes: int          # class subfolders holding files (0: a flat, unlabeled folder)
    files: int
    eval_files: int       # files the hash split sends to the eval split (an upper bound
                          # on the eval images: ingest may reject some)


def folder_facts(data_dir: str, train_fraction: float) -> FolderFacts:
    """Counts files and class subfolders, and assigns each file to its split exactly as
    ingest does (`beam_job.split_of` on its relative path)."""
    import itertools

    import tensorflow as tf

    from components.ingest import beam_job
    from components.ingest.component import split_output_config
    from modules import features

    splits = split_output_config(train_fraction).split_config.splits
    bucket_ends = list(itertools.accumulate(split.hash_buckets for split in splits))
    eval_index = [split.name for split in splits].index("eval")
    files = eval_files = 0
    classes = set()
    for path in beam_job._list_files(data_dir):  # noqa: SLF001  (ingest's own listing)
        relative = beam_job._relative(path, data_dir)  # noqa: SLF001
        files += 1
        if "/" in relative:
            classes.add(relative.split("/", 1)[0])
        example = tf.train.Example()
        example.features.feature[features.PATH].bytes_list.value.append(relative.encode())
        if beam_job.split_of(example, len(splits), features.PATH, bucket_ends) \
                == eval_index:
            eval_files += 1
    return FolderFacts(len(classes), files, eval_files)


def probe_feature_dim(config: configs.PipelineConfig, extractor: str) -> int | None:
    """The feature dimension of `extractor` on this run's images, loading (and running on
    blank images) an extractor model read from a path, so a missing file or one that
    cannot take the images stops the run now. (Imported here: the runner routes
    TensorFlow's start-up messages to its log first.)"""
    if extractor in (LABELED_EXTRACTOR, UNLABELED_EXTRACTOR):
        from modules.quality.trained_extractors import fid_dim

        return fid_dim(extractor, config.image)
    if extractor not in PATH_EXTRACTORS:
        return None
    import numpy as np

    from components.evaluation.extractors import ExtractorError, build_extractor

    size, channels, path = config.image.size, config.image.channels, \
        config.evaluation.extractor_path
    blank = np.zeros((2, size, size, channels), np.uint8)
    cannot_take = (f"{PATH_FLAG}: the {extractor} extractor at {path!r} cannot take "
                   f"{size}x{size}x{channels} images (--image-size, --channels)")
    try:
        model = build_extractor(extractor, path, None, None, 0, None)
    except ExtractorError as error:
        raise PreflightError(f"{PATH_FLAG}: {error}") from None
    declared = getattr(model, "input_shape", None)
    if declared is not None and not declared.is_compatible_with(blank.shape):
        raise PreflightError(f"{cannot_take}: its input is declared {declared}")
    try:
        return int(model.features(blank).shape[1])
    except Exception as error:  # TensorFlow raises many types for a wrong input shape
        raise PreflightError(f"{cannot_take}: {type(error).__name__}: "
                             f"{(str(error).splitlines() or [''])[0]}") from None


def check(config: configs.PipelineConfig) -> str | None:
    """Raises PreflightError when the run cannot be evaluated; returns the extractor the
    run will use, when it is known now (an image folder, or an explicit extractor)."""
    facts = (folder_facts(config.data_dir, config.ingest.train_fraction)
             if config.ingest.input_format == "images" and os.path.isdir(config.data_dir) else None)
    known_labels = facts is not None or config.evaluation.extractor != AUTO_EXTRACTOR
    extractor = resolve_extractor(config.evaluation.extractor, facts.classes if facts else 0) \
        if known_labels else None
    if extractor == LABELED_EXTRACTOR and facts is not None and facts.classes < 2:
        raise PreflightError(
            f"{EXTRACTOR_FLAG} {LABELED_EXTRACTOR} needs labeled images of at least two "
            f"classes (one subfolder per class), but {config.data_dir} has "
            f"{facts.classes} class subfolders; use {EXTRACTOR_FLAG} auto, saved_model or "
            f"inception")
    if extractor is not None and extractor not in FID_EXTRACTORS:
        raise PreflightError(
            f"{EXTRACTOR_FLAG} {config.evaluation.extractor}: the images in {config.data_dir} "
            f"have no labels of two classes, and the {UNLABELED_EXTRACTOR} extractor for "
            f"unlabeled images is not available in this installation; use {EXTRACTOR_FLAG} "
            f"saved_model or inception with {PATH_FLAG}")
    dim = probe_feature_dim(config, extractor) if extractor else None
    if dim is None:
        return extractor
    refusal = fid_sample_refusal(config.evaluation.fid_num_samples, dim)
    if refusal:
        raise PreflightError(f"--fid-samples {config.evaluation.fid_num_samples}: {refusal} of the "
                             f"{extractor} extractor; raise --fid-samples")
    if facts is not None and fid_sample_refusal(facts.eval_files, dim):
        raise PreflightError(
            f"--train-fraction {config.ingest.train_fraction}: the eval split of {config.data_dir} "
            f"gets at most {facts.eval_files} of its {facts.files} images, and FID with the "
            f"{extractor} extractor ({dim}-d features) needs more than {dim}; add images, "
            f"lower --train-fraction, or use a {EXTRACTOR_FLAG} with fewer feature dimensions")
    return extractor

