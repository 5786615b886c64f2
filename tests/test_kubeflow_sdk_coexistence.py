"""This project beside Kubeflow's own Python SDK (PyPI `kubeflow`) in one environment.

The SDK installs a regular package `kubeflow` (`kubeflow/__init__.py` with `__version__`,
and subpackages such as `kubeflow.common` and `kubeflow.trainer`), the name of this
project's `kubeflow/` folder. The project installs nothing into site-packages, so the
SDK's files stay intact: processes started outside the project import the SDK, and our
runners import the project's folders from the checkout (as `make` runs them) or from the
image's PYTHONPATH (as KFP runs them). Each check runs in a fresh interpreter whose
site-packages hold a stand-in of the SDK with its real package layout; none imports TFX.
"""
import json
import os
import runpy
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "kubeflow" / "Dockerfile.cpu"
SDK_VERSION = "0.4.1"
# The SDK's layout (github.com/kubeflow/sdk: kubeflow/__init__.py sets __version__, and
# kubeflow/trainer/__init__.py imports from kubeflow.common), reduced to what the checks use.
SDK_FILES = {
    "kubeflow/__init__.py": f'"""Kubeflow SDK: Python clients for Kubeflow components."""\n'
                            f'\n__version__ = "{SDK_VERSION}"\n',
    "kubeflow/common/__init__.py": "",
    "kubeflow/common/types.py": "class KubernetesBackendConfig:\n    pass\n",
    "kubeflow/trainer/__init__.py": "import kubeflow\n"
                                    "from kubeflow.common.types import KubernetesBackendConfig\n"
                                    "\nCLIENT_SDK_VERSION = kubeflow.__version__\n",
}
# What our runners import by module path: `python -m` entry points, and the code TFX
# loads in each component's container.
RUNNER_MODULES = ("kubeflow.compile", "kubeflow.schedule", "pipeline.run_local",
                  "modules.training.trainer", "modules.preprocessing",
                  "components.ingest.component",
                  "components.validation.component", "components.evaluation.component",
                  "components.push.component")


@pytest.fixture(scope="module")
def sdk_site(tmp_path_factory) -> Path:
    """A site-packages folder with the stand-in SDK's wheel installed (a pure-Python wheel
    installs by unpacking it there)."""
    folder = tmp_path_factory.mktemp("sdk")
    wheel = folder / f"kubeflow-{SDK_VERSION}-py3-none-any.whl"
    info = f"kubeflow-{SDK_VERSION}.dist-info"
    files = {**SDK_FILES,
             f"{info}/METADATA": f"Metadata-Version: 2.1\nName: kubeflow\nVersion: {SDK_VERSION}\n",
             f"{info}/WHEEL": "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    files[f"{info}/RECORD"] = "".join(f"{name},,\n" for name in [*files, f"{info}/RECORD"])
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    site = folder / "site-packages"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    return site


def imports(site: Path, cwd, modules=RUNNER_MODULES, env=None) -> dict:
    """Where a fresh interpreter started in `cwd`, with `site` as a site-packages folder,
    finds `kubeflow` and each of `modules` (as `python -m` and TFX would find them)."""
    script = textwrap.dedent(f"""
        import importlib, importlib.util, json, site, sys
        site.addsitedir({str(site)!r})
        import kubeflow
        found = {{"kubeflow": kubeflow.__file__}}
        for name in {list(modules)!r}:
            found[name] = importlib.util.find_spec(name).origin
        print(json.dumps(found))
    """)
    completed = subprocess.run([sys.executable, "-c", script], cwd=cwd, capture_output=True,
                               text=True, timeout=120, env={**os.environ, **(env or {})})
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_the_sdk_imports_as_installed_outside_the_project(sdk_site, tmp_path):
    script = (f"import site; site.addsitedir({str(sdk_site)!r}); import kubeflow.trainer; "
              "print(kubeflow.trainer.CLIENT_SDK_VERSION, kubeflow.__file__)")
    completed = subprocess.run([sys.executable, "-c", script], cwd=tmp_path,
                               capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr[-3000:]
    version, location = completed.stdout.split()
    assert version == SDK_VERSION
    assert location == str(sdk_site / "kubeflow" / "__init__.py")


def test_make_runs_the_project_from_the_checkout_beside_the_sdk(sdk_site):
    found = imports(sdk_site, cwd=ROOT)
    assert found["kubeflow"] == str(ROOT / "kubeflow" / "__init__.py")
    for name in RUNNER_MODULES:
        assert found[name] == str(ROOT.joinpath(*name.split(".")).with_suffix(".py")), name
    # The settings every runner builds first load without TFX.
    completed = subprocess.run(
        [sys.executable, "-c", f"import site; site.addsitedir({str(sdk_site)!r}); "
                               "from pipeline import configs, flags; configs.PipelineConfig()"],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-3000:]


def test_the_image_runs_the_project_from_its_pythonpath_beside_the_sdk(sdk_site, tmp_path):
    """The image's project folder, made by the Dockerfile's own COPY steps under `tmp_path`,
    and its PYTHONPATH, from any working folder (the image's import check runs from /)."""
    replay = runpy.run_path(str(ROOT / "scripts" / "replay_dockerfile.py"))
    image_env, _ = replay["image_config"](str(DOCKERFILE), {})
    project_dir = image_env["PROJECT_DIR"]
    assert image_env["PYTHONPATH"] == project_dir
    for instruction, arguments in replay["instructions"](str(DOCKERFILE)):
        source, _, target = arguments.partition(" ")
        if instruction == "COPY" and (ROOT / source).is_dir():
            shutil.copytree(ROOT / source, tmp_path / target.lstrip("/"),
                            ignore=shutil.ignore_patterns("__pycache__"))
    copied = tmp_path / project_dir.lstrip("/")

    found = imports(sdk_site, cwd="/", env={"PYTHONPATH": str(copied)})
    assert found["kubeflow"] == str(copied / "kubeflow" / "__init__.py")
    for name in RUNNER_MODULES:
        assert found[name] == str(copied.joinpath(*name.split(".")).with_suffix(".py")), name
