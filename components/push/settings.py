"""The push stage's settings, free of TensorFlow (`components.push.serving_folder` loads it) so that
`pipeline.configs` can validate them before anything heavy loads."""
from __future__ import annotations

import dataclasses

from modules.settings import Settings, setting


@dataclasses.dataclass(frozen=True)
class PushSettings(Settings):
    """How many versions the serving folder keeps, and which compressed copies go there."""

    keep_versions: int = setting(5, alias="--keep-versions",
                                 help="pushed versions to keep in the serving folder")
    compressed_fid_tolerance: float = setting(
        0.05, alias="--compressed-fid-tolerance",
        help="push a compressed copy only if its FID <= float32 FID * (1 + tolerance)")

    def __post_init__(self):
        if self.keep_versions < 1:
            raise ValueError(f"keep_versions must be at least 1, got {self.keep_versions}")
        if self.compressed_fid_tolerance < 0:
            raise ValueError(f"compressed_fid_tolerance must be >= 0, "
                             f"got {self.compressed_fid_tolerance}")
