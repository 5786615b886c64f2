"""scripts/setup_lib.sh (which interpreter and which package index `make setup` uses) and the
modern stack's per-Python locks. Runs the real shell functions, with fake interpreters and a
fake `pip config list`, and installs nothing."""
from __future__ import annotations

import re
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LIB = ROOT / "scripts" / "setup_lib.sh"


def bash(script: str, env: dict, stdin: str = "") -> str:
    """Runs SCRIPT after sourcing setup_lib.sh, with only ENV (plus a minimal PATH) set."""
    result = subprocess.run(["bash", "-c", f'set -euo pipefail; . "{LIB}"; {script}'],
                            input=stdin, capture_output=True, text=True, check=True,
                            env={"PATH": "/usr/bin:/bin", **env})
    return result.stdout


def uv_env(pip_config: str = "", **env: str) -> dict:
    lines = bash("uv_env_from_pip", env, pip_config).splitlines()
    return dict(line.split("=", 1) for line in lines)


def test_no_pip_settings_leave_uv_on_its_default_index():
    assert uv_env() == {}


def test_pip_config_files_index_becomes_uvs():
    config = ("global.index-url='https://mirror.example/simple'\n"
              "global.extra-index-url='file:///opt/a/simple  file:///opt/b/simple'\n"
              "global.find-links='/opt/wheels /opt/more-wheels'\n")
    assert uv_env(config) == {
        "UV_INDEX_URL": "https://mirror.example/simple",
        "UV_EXTRA_INDEX_URL": "file:///opt/a/simple file:///opt/b/simple",
        "UV_FIND_LINKS": "/opt/wheels,/opt/more-wheels",
        # pip looks for every package on every index; uv's default would not.
        "UV_INDEX_STRATEGY": "unsafe-best-match",
    }


def test_a_multi_line_pip_conf_value_as_pip_config_list_prints_it():
    # pip.conf's "extra-index-url =" followed by one URL a line.
    config = "global.extra-index-url='\\nhttps://a.example/simple\\nhttps://b.example/simple'\n"
    expected = "https://a.example/simple https://b.example/simple"
    assert uv_env(config)["UV_EXTRA_INDEX_URL"] == expected


def test_pip_precedence_environment_then_install_section_then_global():
    config = ("global.index-url='https://global.example/simple'\n"
              "install.index-url='https://install.example/simple'\n")
    assert uv_env(config)["UV_INDEX_URL"] == "https://install.example/simple"
    with_env = config + ":env:.index-url='https://env.example/simple'\n"
    assert uv_env(with_env)["UV_INDEX_URL"] == "https://env.example/simple"
    # Without a pip to ask, the PIP_* variables still count.
    assert uv_env(config, PIP_INDEX_URL="https://var.example/simple") == {
        "UV_INDEX_URL": "https://var.example/simple"}


def test_no_index_and_cert_carry_over_but_do_not_override_ssl_cert_file():
    config = "global.no-index='true'\nglobal.find-links='/opt/wheels'\nglobal.cert='/ca.pem'\n"
    settings = uv_env(config)
    assert settings["UV_NO_INDEX"] == "1"
    assert settings["SSL_CERT_FILE"] == "/ca.pem"
    assert "SSL_CERT_FILE" not in uv_env(config, SSL_CERT_FILE="/etc/ssl/mine.pem")


@pytest.mark.parametrize("name", ["UV_INDEX_URL", "UV_DEFAULT_INDEX", "UV_EXTRA_INDEX_URL"])
def test_uvs_own_settings_win_over_pips(name):
    config = "global.index-url='https://mirror.example/simple'\n"
    assert uv_env(config, **{name: "https://uv.example/simple"}) == {}


def fake_python(folder: Path, name: str, version: str) -> Path:
    """An executable that answers minor_version's question as a Python VERSION would."""
    path = folder / name
    path.write_text(f"#!/bin/sh\necho {version}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def find_python(tmp_path: Path, versions: str, **env: str) -> str:
    path = f"{tmp_path}:/usr/bin:/bin"
    return bash(f"find_python {versions}", {"HOME": str(tmp_path), "PATH": path, **env}).strip()


# Versions no machine has, so that the host's own interpreters (/usr/bin/python3.X) stay out.
def test_the_distributions_python3_comes_first_when_supported(tmp_path):
    python3 = fake_python(tmp_path, "python3", "3.97")
    fake_python(tmp_path, "python3.98", "3.98")
    assert find_python(tmp_path, "3.98 3.97") == str(python3)


def test_an_unsupported_python3_is_passed_over_for_a_supported_python3x(tmp_path):
    fake_python(tmp_path, "python3", "3.9")
    newest = fake_python(tmp_path, "python3.98", "3.98")
    fake_python(tmp_path, "python3.97", "3.97")
    assert find_python(tmp_path, "3.99 3.98 3.97") == str(newest)


def test_python_variable_overrides_everything(tmp_path):
    fake_python(tmp_path, "python3", "3.98")
    chosen = find_python(tmp_path, "3.98", PYTHON="/opt/py/bin/python3.11")
    assert chosen == "/opt/py/bin/python3.11"


@pytest.mark.parametrize("glibc,expected", [
    ("2.35", "compatible 3.10"), ("2.36", "compatible 3.10"),
    ("2.39", "modern 3.13 3.12 3.11"), ("2.41", "modern 3.13 3.12 3.11")])
def test_glibc_selects_the_stack(glibc, expected):
    assert bash(f"stack_for_glibc {glibc}", {}).strip() == expected


def pins(lock: Path) -> dict:
    return dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", lock.read_text(), re.MULTILINE))


def test_every_python_versions_modern_lock_installs_the_same_core_versions():
    """What docs/install.md promises: only a few packages differ between the 3.11, 3.12
    and 3.13 locks, and none of the stack's core."""
    locks = {version: pins(ROOT / "requirements" / f"stack-modern-{version}.lock")
             for version in ("3.11", "3.12", "3.13")}
    core = ["tfx", "tensorflow", "apache-beam", "kfp", "kfp-pipeline-spec", "tfx-bsl",
            "ml-metadata", "tensorflow-data-validation", "tensorflow-transform",
            "tensorflow-model-analysis", "tf-keras", "numpy", "protobuf", "pyarrow"]
    for name in core:
        assert len({lock.get(name) for lock in locks.values()}) == 1, name
    assert locks["3.13"]["tfx"] == "1.21.0" and locks["3.13"]["tensorflow"] == "2.21.0"
    # The differences docs/install.md lists.
    only_311 = set(locks["3.11"]) - set(locks["3.13"])
    assert only_311 == {"backports-tarfile", "importlib-metadata", "lazy-importer"}
    assert set(locks["3.12"]) == set(locks["3.13"])
    changed = {name for name in locks["3.13"] if locks["3.13"][name] != locks["3.11"][name]}
    assert changed == {"google-apitools"}
    assert not [n for n in locks["3.12"] if locks["3.12"][n] != locks["3.11"][n]]


def test_gpu_lock_is_the_image_pythons_lock_plus_nvidia_wheels():
    cpu = pins(ROOT / "requirements" / "stack-modern-3.13.lock")
    gpu = pins(ROOT / "requirements" / "stack-modern-gpu.lock")
    assert {name: gpu[name] for name in cpu} == cpu
    assert all(name.startswith("nvidia-") for name in set(gpu) - set(cpu))
    dockerfile = (ROOT / "kubeflow" / "Dockerfile.cpu").read_text()
    assert "requirements/stack-modern-3.13.lock" in dockerfile and "python3.13" in dockerfile
