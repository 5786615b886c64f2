"""Where a local run's output goes: the log file, the terminal, the known-harmless filter."""
import io
import logging
import os
import warnings

from pipeline import run_output

GOOGLE_PYTHON_WARNING = (
    "You are using a non-supported Python version (3.10.13). Google will not post any further "
    "updates to google.api_core supporting this Python version. Please upgrade to the latest "
    "Python version, or at least Python 3.11, and then update google.api_core.")


def test_known_harmless_messages_match_exactly_and_nothing_else():
    assert run_output.is_harmless(GOOGLE_PYTHON_WARNING)
    assert run_output.is_harmless("ArtifactQuery.property_predicate is not supported.")
    assert not run_output.is_harmless(GOOGLE_PYTHON_WARNING + " And something else.")
    assert not run_output.is_harmless("ContextQuery.property_predicate is not supported.")
    assert not run_output.is_harmless("You are using a non-supported Python version (3.9.1).")
    for known in run_output.KNOWN_HARMLESS:
        assert len(known.why) > 40  # each says why it is harmless


def test_quiet_output_sends_file_descriptor_2_to_the_log_and_unexpected_warnings_to_the_terminal(
        tmp_path):
    terminal = io.StringIO()
    output = run_output.RunOutput(str(tmp_path), verbose=False, terminal=terminal)
    with output.routed(), warnings.catch_warnings():
        warnings.simplefilter("always")  # pytest's settings ignore some categories
        os.write(2, b"from C++ straight to file descriptor 2\n")
        logging.getLogger("absl").warning("ArtifactQuery.property_predicate is not supported.")
        logging.getLogger("absl").warning("the disk is nearly full")
        warnings.warn(GOOGLE_PYTHON_WARNING, FutureWarning)
        warnings.warn("an unexpected deprecation", UserWarning)
        output.say("[ 1/10] FileBasedExampleGen started")
    shown = terminal.getvalue().splitlines()
    assert shown[0] == f"Log: {output.log_path}"
    assert os.path.dirname(output.log_path) == str(tmp_path / "logs")
    assert "warning: the disk is nearly full" in shown
    assert any(line.startswith("warning: UserWarning: an unexpected deprecation")
               for line in shown)
    assert shown[-1] == "[ 1/10] FileBasedExampleGen started"
    assert len(shown) == 4  # the known-harmless ones are not on the terminal
    with open(output.log_path) as log:
        logged = log.read()
    assert "from C++ straight to file descriptor 2" in logged
    assert GOOGLE_PYTHON_WARNING in logged  # kept in the log


def test_a_failure_is_one_message_naming_the_component_and_the_log(tmp_path):
    output = run_output.RunOutput(str(tmp_path), verbose=False, terminal=io.StringIO())

    class NonFiniteTrainingError(RuntimeError):
        pass

    with output.routed():
        try:
            try:
                raise NonFiniteTrainingError("training diverged at step 10: d_loss not finite")
            except NonFiniteTrainingError as cause:
                raise run_output.ComponentFailed("Trainer", cause) from cause
        except run_output.ComponentFailed as error:
            message = output.fail(error)
    assert message.splitlines() == [
        "error: Trainer failed: training diverged at step 10: d_loss not finite",
        f"Full log (with the traceback): {output.log_path}"]
    with open(output.log_path) as log:
        assert "Traceback (most recent call last)" in log.read()


def test_an_unexpected_error_shows_its_type_and_first_line_without_beams_annotation():
    error = KeyError("a\nsecond line [while running 'Run[Trainer]']")
    assert run_output.describe_error(ValueError("bad value\nmore")) == "ValueError: bad value"
    assert run_output.describe_error(RuntimeError("x [while running 'Run[Trainer]']")) == \
        "RuntimeError: x"
    assert run_output.describe_error(error).startswith("KeyError: ")
