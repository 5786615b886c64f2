"""Replays a Dockerfile's build steps into a root file system, for hosts without Docker.

    python scripts/replay_dockerfile.py [--root DIR] kubeflow/Dockerfile.cpu \\
        [--build-arg NAME=VALUE]... [--from BASE_DOCKERFILE]

Builds into the root file system DIR that stands in for the base image (for example a
debootstrapped Debian 13; default /): ARG and ENV set the environment, COPY copies from
the repository root (the build context) into DIR, WORKDIR changes folder, RUN runs
/bin/sh -c chrooted into DIR, as `docker build` would. The environment this script starts
with is the base image's. FROM is only reported: the caller provides the base; when the
base was itself replayed from BASE_DOCKERFILE into DIR (`--from`), its ENV and WORKDIR carry
over, as `FROM` an image built from it does. Any other instruction, or COPY with flags,
stops the replay.
"""
from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys

CONTEXT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    with open(dockerfile) as source:
        text = re.sub(r"\\\n", " ", "".join(line for line in source
                                            if not line.lstrip().startswith("#")))
    return [tuple(line.strip().split(None, 1)) for line in text.splitlines() if line.strip()]


def expand(text: str, env: dict) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda match: env.get(match.group(1), ""), text)


def set_variables(instruction: str, arguments: str, env: dict, build_args: dict) -> dict:
    """The variables an ARG or ENV instruction sets."""
    if instruction == "ARG":
        name, _, default = arguments.partition("=")
        return {name: build_args.get(name, default.strip('"'))}
    assignments = (assignment.partition("=") for assignment in shlex.split(arguments))
    variables = {}
    for name, _, value in assignments:
        variables[name] = expand(value, {**env, **variables})
    return variables


def image_config(dockerfile: str, build_args: dict) -> tuple[dict, str]:
    """The ENV and WORKDIR of the finished image (what a container or a later `FROM` sees)."""
    env = dict(os.environ)
    image_env = {}
    workdir = "/"
    for instruction, arguments in instructions(dockerfile):
        if instruction in ("ARG", "ENV"):
            variables = set_variables(instruction, arguments, env, build_args)
            env.update(variables)
            if instruction == "ENV":
                image_env.update(variables)
        elif instruction == "WORKDIR":
            workdir = expand(arguments, env)
    return image_env, workdir


def replay(dockerfile: str, build_args: dict, root: str, base: str | None = None) -> None:
    def inside(path: str) -> str:
        return os.path.join(root, path.lstrip("/"))

    env = dict(os.environ)
    workdir = "/"
    if base:
        base_env, workdir = image_config(base, build_args)
        env.update(base_env)
    for instruction, arguments in instructions(dockerfile):
        print(f"==> {instruction} {arguments}", flush=True)
        if instruction == "FROM":
            continue
        if instruction in ("ARG", "ENV"):
            env.update(set_variables(instruction, arguments, env, build_args))
        elif instruction == "COPY" and not arguments.startswith("--"):
            source, target = [expand(part, env) for part in arguments.split()]
            destination = inside(target)
            os.makedirs(os.path.dirname(destination), exist_ok=True)
            if os.path.isdir(os.path.join(CONTEXT, source)):
                shutil.copytree(os.path.join(CONTEXT, source), destination, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy(os.path.join(CONTEXT, source), destination)
        elif instruction == "WORKDIR":
            workdir = expand(arguments, env)
            os.makedirs(inside(workdir), exist_ok=True)
        elif instruction == "RUN":
            command = ["/bin/sh", "-c", f"cd {shlex.quote(workdir)} && {arguments}"]
            if os.path.realpath(root) != "/":
                command = ["chroot", root] + command
            subprocess.run(command, env=env, check=True)
        else:
            sys.exit(f"cannot replay {instruction} {arguments}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dockerfile")
    parser.add_argument("--root", default="/",
                        help="the root file system that stands in for the base image")
    parser.add_argument("--build-arg", action="append", default=[])
    parser.add_argument("--from", dest="base", default=None, metavar="BASE_DOCKERFILE",
                        help="the Dockerfile the base image in --root was replayed from")
    parser.add_argument("--print-env", action="store_true",
                        help="only print the image's ENV as shell exports")
    args = parser.parse_args()
    build_args = dict(arg.split("=", 1) for arg in args.build_arg)
    if args.print_env:
        for name, value in image_config(args.dockerfile, build_args)[0].items():
            print(f"export {name}={shlex.quote(value)}")
    else:
        replay(args.dockerfile, build_args, args.root, args.base)


if __name__ == "__main__":
    main()
