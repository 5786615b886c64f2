"""The pipeline compiled for Kubeflow once per test session, with settings the tests check for."""
import yaml

CPU_IMAGE = "registry.example/gan-pipeline:cpu"
GPU_IMAGE = "registry.example/gan-pipeline:gpu"
BEAM_ARGS = ["--runner=FlinkRunner", "--flink_master=flink-jobmanager:8081"]


def compile_package(root) -> dict:
    """Runs `python -m kubeflow.compile` in this process; returns the package and its documents."""
    from kubeflow import compile as kubeflow_compile

    package = root / "build" / "gan-pipeline.yaml"
    kubeflow_compile.main([
        "--output-dir", "gs://test-bucket/gan", "--data-dir", "gs://test-bucket/images",
        "--serving-volume", f"gan-serving:{root / 'serving'}",
        "--cpu-image", CPU_IMAGE, "--gpu-image", GPU_IMAGE, "--package", str(package),
        "--train-steps", "20000", "--image-size", "32", "--channels", "3",
        *[f"--beam-arg={arg}" for arg in BEAM_ARGS]])
    with open(package) as source:
        documents = list(yaml.safe_load_all(source))
    return {"root": root, "package": str(package), "spec": documents[0],
            "platform": documents[1] if len(documents) > 1 else None, "documents": documents}
