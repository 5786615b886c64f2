"""Pushing a generator into a TF Serving model directory, safely.

TF Serving watches `<serving_dir>/<integer version>/` and loads the highest
version. So a version directory must appear only when complete (written under a
hidden staging name, then renamed), old versions are pruned without touching
the one being served, and re-pushing an identical model is a no-op. Pushes into one
folder take turns (an exclusive lock on a hidden file in it), so two pipeline runs
pushing in the same second get distinct versions.

Each version carries, in `assets.extra/` (which TF Serving ignores), the
evaluation that blessed it (`evaluation.json`) and a record of the push
(`push.json`); the next evaluation reads the served version's metrics from there.
"""
from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import math
import os
import shutil
import tempfile
import time

from modules.export import metadata_asset_path

EXTRA_DIR = "assets.extra"
EVALUATION_FILE = "evaluation.json"
PUSH_RECORD_FILE = "push.json"
STAGING_PREFIX = ".staging-"
LOCK_FILE = ".push.lock"


@dataclasses.dataclass(frozen=True)
class PushResult:
    pushed: bool
    version: int | None
    destination: str | None
    reason: str


def model_fingerprint(model_dir: str) -> str:
    """A hash of the graph and the weights (not of the metadata the pusher rewrites)."""
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(model_dir):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            relative = os.path.relpath(path, model_dir)
            if relative.split(os.sep)[0] in ("assets", EXTRA_DIR) or name == "fingerprint.pb":
                continue
            digest.update(relative.encode() + b"\0")
            with open(path, "rb") as source:
                for chunk in iter(lambda: source.read(1 << 20), b""):
                    digest.update(chunk)
    return digest.hexdigest()


def versions(serving_dir: str) -> list[int]:
    """Complete versions, oldest first (what TF Serving would consider)."""
    if not os.path.isdir(serving_dir):
        return []
    return sorted(int(name) for name in os.listdir(serving_dir)
                  if name.isdigit() and os.path.isfile(
                      os.path.join(serving_dir, name, "saved_model.pb")))


def served_version(serving_dir: str) -> int | None:
    """The version TF Serving serves under its default policy: the highest."""
    found = versions(serving_dir)
    return found[-1] if found else None


@dataclasses.dataclass(frozen=True)
class ServedVersion:
    """The version TF Serving serves, its folder, and the evaluation it was pushed with
    (the `evaluation` given to `push`; {} when it has none)."""

    version: int
    path: str
    evaluation: dict


def served(serving_dir: str) -> ServedVersion | None:
    version = served_version(serving_dir)
    if version is None:
        return None
    return ServedVersion(version, os.path.join(serving_dir, str(version)),
                         read_version_file(serving_dir, version, EVALUATION_FILE) or {})


def read_version_file(serving_dir: str, version: int, name: str) -> dict | None:
    path = os.path.join(serving_dir, str(version), EXTRA_DIR, name)
    if not os.path.isfile(path):
        return None
    with open(path) as source:
        return json.load(source)


def push(model_dir: str, serving_dir: str, evaluation: dict, keep_versions: int = 5,
         clock=time.time) -> PushResult:
    """Copies a blessed model into `serving_dir/<version>` atomically; prunes old versions."""
    if keep_versions < 1:
        raise ValueError(f"keep_versions must be at least 1, got {keep_versions}")
    if not os.path.isfile(os.path.join(model_dir, "saved_model.pb")):
        raise FileNotFoundError(f"no SavedModel in {model_dir}")
    fingerprint = model_fingerprint(model_dir)
    os.makedirs(serving_dir, exist_ok=True)
    with _exclusive(serving_dir):
        return _push_locked(model_dir, serving_dir, evaluation, keep_versions, clock,
                            fingerprint)


@contextlib.contextmanager
def _exclusive(serving_dir: str):
    """Holds the folder's push lock (flock: released by the kernel if the process dies)."""
    with open(os.path.join(serving_dir, LOCK_FILE), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _push_locked(model_dir: str, serving_dir: str, evaluation: dict, keep_versions: int,
                 clock, fingerprint: str) -> PushResult:
    existing = versions(serving_dir)
    for version in existing:
        record = read_version_file(serving_dir, version, PUSH_RECORD_FILE) or {}
        if record.get("model_fingerprint") == fingerprint:
            return PushResult(False, version, os.path.join(serving_dir, str(version)),
                              f"the same model is already version {version}")

    previously_served = existing[-1] if existing else None
    taken = [int(name) for name in os.listdir(serving_dir) if name.isdigit()]  # even partial
    version = max([int(clock())] + [number + 1 for number in taken])
    destination = os.path.join(serving_dir, str(version))
    staging = os.path.join(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=serving_dir), "model")
    try:
        shutil.copytree(model_dir, staging)
        _complete_metadata(staging, evaluation)
        extra = os.path.join(staging, EXTRA_DIR)
        os.makedirs(extra, exist_ok=True)
        _write_json(os.path.join(extra, EVALUATION_FILE), evaluation)
        _write_json(os.path.join(extra, PUSH_RECORD_FILE), {
            "model_fingerprint": fingerprint, "pushed_at": clock(), "source": model_dir})
        os.rename(staging, destination)  # atomic: TF Serving never sees a partial version
    finally:
        shutil.rmtree(os.path.dirname(staging), ignore_errors=True)

    present = versions(serving_dir)
    keep = set(present[-keep_versions:]) | {version}
    if previously_served is not None:
        keep.add(previously_served)  # may still be serving until the new one loads
    for old in present:
        if old not in keep:
            shutil.rmtree(os.path.join(serving_dir, str(old)))
    return PushResult(True, version, destination, f"pushed as version {version}")


def compressed_serving_dir(serving_dir: str, precision: str) -> str:
    """A compressed copy's own TF Serving model folder, inside the float32 one (whose
    server ignores it: the name is not an integer version)."""
    return os.path.join(serving_dir, precision)


@dataclasses.dataclass(frozen=True)
class CompressedDecision:
    precision: str
    push: bool
    reason: str


def compressed_decisions(fid: float | None, candidates: dict[str, float | None],
                         tolerance: float) -> list[CompressedDecision]:
    """Which scored compressed copies (`candidates`: precision -> FID) are good enough to
    serve: those whose FID is at most the float32 generator's `fid` * (1 + tolerance)."""
    decisions = []
    for precision, candidate in sorted(candidates.items()):
        if fid is None or candidate is None or not (math.isfinite(fid)
                                                    and math.isfinite(candidate)):
            decisions.append(CompressedDecision(precision, False, f"{precision}: no finite FID "
                                                f"to compare ({candidate} vs {fid})"))
            continue
        limit = fid * (1.0 + tolerance)
        verdict = "within" if candidate <= limit else "beyond"
        decisions.append(CompressedDecision(
            precision, candidate <= limit, f"{precision}: FID {candidate:.4f} is {verdict} "
            f"{limit:.4f} (float32 FID {fid:.4f}, tolerance {tolerance})"))
    return decisions


def _complete_metadata(model_dir: str, evaluation: dict) -> None:
    """Adds the push-time FID to the metadata that the `metadata` signature returns."""
    path = metadata_asset_path(model_dir)
    if not os.path.isfile(path):
        return
    with open(path) as source:
        metadata = json.load(source)
    metadata["fid"] = evaluation.get("fid")
    _write_json(path, metadata)


def _write_json(path: str, value: dict) -> None:
    with open(path, "w") as out:
        json.dump(value, out, indent=2, sort_keys=True, allow_nan=True)
