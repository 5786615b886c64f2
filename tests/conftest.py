"""Shared test setup: pin Keras 2 before anything imports TensorFlow, quiet TF's C++ logs."""
import os

import pytest

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def compiled(tmp_path_factory):
    """The Kubeflow package, compiled once for the compile and the schedule tests."""
    from tests.kubeflow_package import compile_package

    return compile_package(tmp_path_factory.mktemp("kubeflow"))
