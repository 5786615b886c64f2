"""Kubeflow Pipelines 2.x: compile `create_pipeline()` (`compile.py`), upload and schedule it (`schedule.py`)."""
