"""What a local run shows: a few lines on the terminal, everything else in a log file.

TFX, Beam, absl and TensorFlow (whose C++ side writes straight to file
descriptor 2) log thousands of lines per run. By default file descriptor 2 is
pointed at `<output-dir>/logs/run-<UTC time>.log`, so all of that lands there,
and the terminal (standard output) gets the run's own lines, the progress bars
and any warning that is not on the known-harmless list below. `--verbose` (or
GAN_PIPELINE_VERBOSE=1) leaves every stream where it is, as without this module.

Free of TFX and TensorFlow, so flag errors are reported before anything heavy loads.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime
import logging
import os
import re
import sys
import traceback
import warnings
from typing import Iterator, TextIO

VERBOSE_ENV = "GAN_PIPELINE_VERBOSE"
LOGS_DIR = "logs"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@dataclasses.dataclass(frozen=True)
class HarmlessMessage:
    """A dependency's warning that is known not to matter: kept in the log, off the terminal."""

    pattern: str    # a regular expression the whole message must match
    why: str

    def matches(self, message: str) -> bool:
        return re.fullmatch(self.pattern, message, flags=re.DOTALL) is not None


KNOWN_HARMLESS = (
    HarmlessMessage(
        r"You are using a non-supported Python version \(3\.10\.\d+\)\. Google will not post "
        r"any further updates to [\w.]+ supporting this Python version\. Please upgrade to the "
        r"latest Python version, or at least Python 3\.11, and then update [\w.]+\.",
        "google-api-core's FutureWarning on Python 3.10, once per Google client library TFX "
        "imports. The compatible stack needs Python 3.10 (TFX 1.16 supports nothing newer); "
        "the pinned libraries work on it and the pipeline calls no Google Cloud service."),
    HarmlessMessage(
        r"Support for google-cloud-storage < 3\.0\.0 will be removed in a future version of "
        r"google-cloud-aiplatform\. Please upgrade to google-cloud-storage >= 3\.0\.0\.",
        "google-cloud-aiplatform's FutureWarning when TFX imports it (for its Vertex AI "
        "components). On the compatible stack kfp 2.5 requires google-cloud-storage < 3; "
        "local runs and Kubeflow never call Vertex AI."),
    HarmlessMessage(
        r"ArtifactQuery\.property_predicate is not supported\.",
        "TFX 1.16's input resolution (tfx/orchestration/portable/input_resolution/"
        "channel_resolver.py) tests `if artifact_query.property_predicate:`, and a protobuf "
        "sub-message is always true, so it warns for channels that set no predicate; none of "
        "this pipeline's channels sets one."),
    HarmlessMessage(
        r"Tables initialized inside a tf\.function  will be re-initialized on every invocation "
        r"of the function\. This  re-initialization can have significant impact on "
        r"performance\. Consider lifting  them out of the graph context using  "
        r"`tf\.init_scope`\.: compute_and_apply_vocabulary/apply_vocab/[\w/]+",
        "tf.Transform's own warning (tensorflow_transform/graph_tools.py) whenever a "
        "preprocessing_fn applies a vocabulary it computed: it traces preprocessing_fn as a "
        "tf.function, so the table of tft.compute_and_apply_vocabulary is always initialized "
        "inside one. Here that table is the label vocabulary (one entry per class), so "
        "re-initializing it per batch costs next to nothing."),
    HarmlessMessage(
        r"Examples artifact does not have payload_format custom property\. Falling back to "
        r"FORMAT_TF_EXAMPLE",
        "TFX's examples_utils.get_payload_format (tfx/components/util/examples_utils.py) "
        "when a component reads Transform's transformed examples, whose artifact carries no "
        "payload_format property on TFX 1.16; they are tf.Examples, the format it falls "
        "back to."),
)


def is_harmless(message: str) -> bool:
    return any(known.matches(message.strip()) for known in KNOWN_HARMLESS)


def verbose_from_environment() -> bool:
    return os.environ.get(VERBOSE_ENV, "").lower() in ("1", "true", "yes")


class _TerminalWarnings(logging.Handler):
    """Shows a warning or error record on the terminal unless it is known to be harmless."""

    def __init__(self, terminal: TextIO):
        super().__init__(logging.WARNING)
        self.terminal = terminal

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if not is_harmless(message):
            first_line = message.strip().splitlines()[0] if message.strip() else ""
            self.terminal.write(f"{record.levelname.lower()}: {first_line}\n")
            self.terminal.flush()


class RunOutput:
    """Routes a run's output (see the module docstring); `say` writes to the terminal."""

    def __init__(self, output_dir: str, verbose: bool, terminal: TextIO | None = None):
        self.verbose = verbose
        self.terminal = terminal or sys.stdout
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
        self.log_path = None if verbose else os.path.join(output_dir, LOGS_DIR,
                                                          f"run-{stamp}.log")
        self._log: TextIO | None = None

    def say(self, line: str = "") -> None:
        self.terminal.write(line + "\n")
        self.terminal.flush()

    @contextlib.contextmanager
    def routed(self) -> Iterator["RunOutput"]:
        """Points file descriptor 2 at the log file for the duration, then restores it."""
        if self.verbose:
            yield self
            return
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        self.say(f"Log: {self.log_path}")
        sys.stderr.flush()
        saved_stderr = os.dup(2)
        log = self._log = open(self.log_path, "a", buffering=1)
        os.dup2(log.fileno(), 2)
        # Our own handlers on the root logger: with one there, a library's
        # logging.basicConfig() (which would log to the terminal) does nothing.
        handlers = [_TerminalWarnings(self.terminal), logging.StreamHandler(log)]
        handlers[1].setFormatter(logging.Formatter(LOG_FORMAT))
        for handler in handlers:
            logging.getLogger().addHandler(handler)
        previous_showwarning = warnings.showwarning
        warnings.showwarning = self._show_warning
        try:
            yield self
        finally:
            warnings.showwarning = previous_showwarning
            for handler in handlers:
                logging.getLogger().removeHandler(handler)
            sys.stderr.flush()
            os.dup2(saved_stderr, 2)
            os.close(saved_stderr)
            self._log = None
            log.close()

    def _log_stream(self) -> TextIO:
        """The log file while routed (sys.stderr may be a wrapper that is not descriptor 2)."""
        return self._log or sys.stderr

    def _show_warning(self, message, category, filename, lineno, file=None, line=None):
        """Python warnings: all into the log, the unexpected ones on the terminal too."""
        self._log_stream().write(warnings.formatwarning(message, category, filename, lineno,
                                                        line))
        if not is_harmless(str(message)):
            self.say(f"warning: {category.__name__}: {str(message).strip()} "
                     f"({filename}:{lineno})")

    def fail(self, error: BaseException) -> str:
        """Logs the traceback; returns the one-screen message for the terminal."""
        traceback.print_exception(type(error), error, error.__traceback__,
                                  file=self._log_stream())
        lines = [f"error: {describe_error(error)}"]
        if self.log_path:
            lines.append(f"Full log (with the traceback): {self.log_path}")
        return "\n".join(lines)


class ComponentFailed(RuntimeError):
    """A pipeline component raised `error`."""

    def __init__(self, component: str, error: BaseException):
        super().__init__(f"{component} failed: {describe_error(error)}")
        self.component = component
        self.error = error


# Errors whose whole message is written for the user: what is wrong and what to do.
USER_FACING_ERRORS = ("IngestionError", "DataValidationError", "NonFiniteTrainingError",
                      "ExtractorError", "PreflightError", "UnevaluableRunError")


def describe_error(error: BaseException) -> str:
    """The user-facing message of a pipeline error, without Beam's stage annotations."""
    if isinstance(error, ComponentFailed):
        return str(error)
    message = str(error).strip()
    # Beam's runners re-raise a step's exception with " [while running '<step>']" appended.
    message = re.sub(r"\s*\[while running '[^']*'\]$", "", message)
    if type(error).__name__ in USER_FACING_ERRORS:
        return message
    return f"{type(error).__name__}: {message.splitlines()[0] if message else ''}"
