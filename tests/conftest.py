"""Shared test setup: pin Keras 2 before anything imports TensorFlow, quiet TF's C++ logs."""
import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
