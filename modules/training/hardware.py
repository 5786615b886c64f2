"""What the training plan needs to know about the machine training runs on (free of
TensorFlow: the Trainer counts the GPUs, `modules.training.trainer.this_machine`)."""
from __future__ import annotations

import dataclasses

CPUINFO = "/proc/cpuinfo"


def cpu_flags(path: str = CPUINFO) -> frozenset[str]:
    """The instruction-set flags the kernel reports for the first CPU (none when it does
    not say, e.g. off Linux)."""
    try:
        with open(path) as cpuinfo:
            return frozenset(next(line for line in cpuinfo
                                  if line.startswith("flags")).split(":", 1)[1].split())
    except (OSError, StopIteration, IndexError):
        return frozenset()


@dataclasses.dataclass(frozen=True)
class Hardware:
    gpus: int = 0
    cpu_flags: frozenset[str] = frozenset()

    @property
    def bfloat16_instructions(self) -> tuple[str, ...]:
        """oneDNN runs bfloat16 natively with these, and emulates it, several times slower
        than float32, without them."""
        return tuple(name for name in ("avx512_bf16", "amx_bf16") if name in self.cpu_flags)

    @property
    def bfloat16_matrix_units(self) -> bool:
        """AMX: bfloat16 matrix tiles, on which mixed bfloat16 beat float32 even at the
        plan's narrow widths (AVX512-BF16 alone did not)."""
        return "amx_bf16" in self.cpu_flags

    def describe(self) -> str:
        return (f"{self.gpus} GPU(s)" if self.gpus else "CPU only") + (
            f", bfloat16 instructions: {', '.join(self.bfloat16_instructions)}"
            if self.bfloat16_instructions else "")
