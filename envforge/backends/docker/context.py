"""Build contexts: the env image (keyed by EnvSpec.key) and the model image built on it.

Nothing from a model file is ever shell code here: apt package names (checked in spec/system.py)
and wheel file names are arguments of exec-form RUN instructions (JSON arrays, no shell parses
them); requirements travel as files. Index settings are build arguments (the installers' own
variables), never instruction text; when one carries a credential the installs run in a
separate stage whose history is not part of the final image (see `env_context`).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from envforge.backends.base import BuildOptions
from envforge.backends.index import index_args
from envforge.redact import redact
from envforge.runner import files as runner_files
from envforge.spec import EnvSpec

PREFIX = "/opt/envforge"
VENV_PYTHON = f"{PREFIX}/venv/bin/python"
RUNNER = f"{PREFIX}/runner/run_model.py"
MODEL_DIR = f"{PREFIX}/model"
WORKDIR = "/work"
UID = 10001
SERVE_PORT = 8080
FORMAT = 1  # bump when the generated Dockerfiles change: part of every env image's key
BUILD = f"{PREFIX}/build"

NET_SH = """#!/bin/sh
# envforge: run an installer with the image's trust store (which --ca-bundle extends),
# without caches in layers, with bytecode compiled once (not in every container), no Python downloads.
set -e
for bundle in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt /etc/ssl/cert.pem; do
    if [ -s "$bundle" ]; then export SSL_CERT_FILE="$bundle" PIP_CERT="$bundle" REQUESTS_CA_BUNDLE="$bundle"; break; fi
done
export UV_NATIVE_TLS=1 UV_PYTHON_DOWNLOADS=never UV_NO_CACHE=1 UV_COMPILE_BYTECODE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
exec "$@"
"""
CA_RUN = ("RUN if command -v update-ca-certificates >/dev/null 2>&1; then update-ca-certificates >/dev/null 2>&1; "
          "else mkdir -p /etc/ssl/certs && cat /usr/local/share/ca-certificates/envforge-ca-bundle.crt >> /etc/ssl/certs/ca-certificates.crt; fi")
USER_RUN = (f"RUN (id -u envforge >/dev/null 2>&1 || useradd --uid {UID} --create-home --shell /bin/sh envforge "
            f"|| adduser -D -u {UID} envforge) && mkdir -p {WORKDIR} && chown {UID} {WORKDIR}")
APT_SCRIPT = ('set -e; if command -v apt-get >/dev/null 2>&1; then export DEBIAN_FRONTEND=noninteractive; apt-get update -qq; '
              'apt-get install -y -qq --no-install-recommends "$@"; rm -rf /var/lib/apt/lists/*; '
              'elif command -v apk >/dev/null 2>&1; then apk add --no-cache "$@"; '
              'else echo "envforge: the base image has neither apt-get nor apk to install: $*" >&2; exit 1; fi')


@dataclass
class Context:
    dockerfile: str
    files: dict[str, Path | bytes] = field(default_factory=dict)  # path in the context -> host path or content
    build_args: dict[str, str] = field(default_factory=dict)      # may hold credentials: for the engine only
    secret_args: tuple[str, ...] = ()                              # names of build args that carry credentials

    def redacted_args(self) -> dict[str, str]:
        return {k: redact(v) for k, v in self.build_args.items()}


def env_tag(spec: EnvSpec) -> str:
    return f"envforge-env:{spec.key[:24]}"


def default_base_image(python: str | None) -> str:
    parts = (python or "").split(".")
    return f"python:{parts[0]}.{parts[1]}-slim" if len(parts) >= 2 and all(p.isdigit() for p in parts[:2]) else "python:3-slim"


def env_context(spec: EnvSpec, model_dir: Path, options: BuildOptions, base: str, uv_version: str) -> Context:
    ctx = Context(dockerfile="")
    ctx.files["envforge-build/net.sh"] = NET_SH.encode()
    ctx.files["envforge-build/requirements.txt"] = _lines(ctx, spec, model_dir, [*spec.build_dependencies, *spec.requirements])
    if spec.constraints:
        ctx.files["envforge-build/constraints.txt"] = _lines(ctx, spec, model_dir, list(spec.constraints))
    wheels = [spec.local_file(model_dir, token) for token in spec.code_wheels]
    for wheel in wheels:
        ctx.files[f"envforge-build/wheels/{wheel.name}"] = wheel
    if options.ca_bundle:
        ctx.files["envforge-build/ca-bundle.crt"] = Path(options.ca_bundle).expanduser().read_bytes()
    _index_settings(ctx, spec, model_dir, options)
    secret = bool(ctx.secret_args)
    net = ["/bin/sh", f"{BUILD}/net.sh"]
    uv = [*net, f"{PREFIX}/tools/bin/uv", "pip", "install", "--python", VENV_PYTHON]
    constraints = ["-c", f"{BUILD}/constraints.txt"] if spec.constraints else []
    lines = [f"# envforge: the environment {spec.key[:24]} (generated; `docker build --network host .`)",
             f"FROM {base}" + (" AS envforge-runtime" if secret else ""), "USER root"]
    if options.ca_bundle:
        lines += ["COPY envforge-build/ca-bundle.crt /usr/local/share/ca-certificates/envforge-ca-bundle.crt", CA_RUN]
    lines += [USER_RUN, f"RUN python3 -m venv --without-pip {PREFIX}/venv"]
    if spec.system_packages:
        lines.append("RUN " + json.dumps(["/bin/sh", "-c", APT_SCRIPT, "envforge-apt", *spec.system_packages]))
    if secret:  # the credentials are build args of this stage only: its history is not the image's
        lines += ["", "FROM envforge-runtime AS envforge-deps"]
    lines += [f"ARG {name}" for name in sorted(ctx.build_args)]
    lines += [f"COPY envforge-build/net.sh {BUILD}/net.sh",
              "RUN " + json.dumps([*net, "/bin/sh", "-c", f"python3 -m venv {PREFIX}/tools && {PREFIX}/tools/bin/pip install --quiet uv=={uv_version}"])]
    if any(name.startswith("envforge-build/links/") for name in ctx.files):
        lines.append(f"COPY envforge-build/links/ {BUILD}/links/")
    if any(name.startswith("envforge-build/files/") for name in ctx.files):
        lines.append(f"COPY envforge-build/files/ {BUILD}/files/")
    lines += [f"COPY envforge-build/requirements.txt {BUILD}/requirements.txt"]
    if spec.constraints:
        lines.append(f"COPY envforge-build/constraints.txt {BUILD}/constraints.txt")
    lines += ["RUN " + json.dumps([*uv, "-r", f"{BUILD}/requirements.txt", *constraints])]
    if wheels:
        lines += [f"COPY envforge-build/wheels/ {BUILD}/wheels/",
                  "RUN " + json.dumps([*uv, *(f"{BUILD}/wheels/{w.name}" for w in wheels), *constraints])]
    if secret:
        lines += ["", "FROM envforge-runtime", f"COPY --from=envforge-deps {PREFIX}/venv {PREFIX}/venv"]
    lines += [f"LABEL org.envforge.key={spec.key} org.envforge.format={FORMAT}", f"USER {UID}", f"WORKDIR {WORKDIR}"]
    ctx.dockerfile = "\n".join(lines) + "\n"
    return ctx


def model_context(env_image: str, model_dir: Path, labels: dict[str, str]) -> Context:
    """The model image: the env image, envforge's runner, the model, and a scoring server entrypoint."""
    label = " ".join(f"{k}={json.dumps(v)}" for k, v in sorted(labels.items()))
    lines = [f"FROM {env_image}", *model_lines(), f"LABEL {label}"]
    files: dict[str, Path | bytes] = {**_runner(), "model": model_dir.resolve()}
    return Context(dockerfile="\n".join(lines) + "\n", files=files)


def model_lines() -> list[str]:
    serve = [f"{PREFIX}/venv/bin/mlflow", "models", "serve", "-m", MODEL_DIR, "--env-manager", "local", "--host", "0.0.0.0"]
    # `mlflow models serve` starts the scoring server (uvicorn) from PATH: the venv's bin goes first.
    return ["USER root", f"COPY runner/ {PREFIX}/runner/", f"COPY model/ {MODEL_DIR}/", f"USER {UID}", f"WORKDIR {WORKDIR}",
            f"ENV VIRTUAL_ENV={PREFIX}/venv PATH={PREFIX}/venv/bin:$PATH",
            f"EXPOSE {SERVE_PORT}", f"ENTRYPOINT {json.dumps(serve)}", f'CMD ["--port", "{SERVE_PORT}"]']


def combined_context(env: Context, model_dir: Path) -> Context:
    """One context that builds the whole model image elsewhere (`envforge dockerfile`)."""
    files = {**env.files, **_runner(), "model": model_dir.resolve()}
    return Context(dockerfile=env.dockerfile + "\n".join(model_lines()) + "\n", files=files,
                   build_args=env.build_args, secret_args=env.secret_args)


def _runner() -> dict[str, Path | bytes]:
    """The runner's files (run_model.py and the introspect.py and warning_catch.py it loads from its own directory)."""
    return {f"runner/{name}": path for name, path in runner_files().items()}


def _lines(ctx: Context, spec: EnvSpec, model_dir: Path, items: list[str]) -> bytes:
    """Requirement lines, with the model's local files ("./x.whl") copied into the context."""
    out = []
    for item in items:
        if item.startswith("./"):
            source = spec.local_file(model_dir, item)
            ctx.files[f"envforge-build/files/{item[2:]}"] = source
            item = f"{BUILD}/files/{item[2:]}"
        out.append(item)
    return ("\n".join(out) + "\n").encode()


def _index_settings(ctx: Context, spec: EnvSpec, model_dir: Path, options: BuildOptions) -> None:
    """uv's and pip's flags as their variables (build args), local find-links copied in."""
    values: dict[str, list[str]] = {}
    args = index_args(spec, options, "uv", model_dir=model_dir, environ={})
    names = {"--index-url": ("UV_INDEX_URL", "PIP_INDEX_URL"), "--extra-index-url": ("UV_EXTRA_INDEX_URL", "PIP_EXTRA_INDEX_URL"),
             "--allow-insecure-host": ("UV_INSECURE_HOST", "PIP_TRUSTED_HOST"), "--find-links": ("UV_FIND_LINKS", "PIP_FIND_LINKS"),
             "--prerelease": ("UV_PRERELEASE",)}
    while args:
        flag = args.pop(0)
        if flag == "--no-index":
            ctx.build_args.update(UV_NO_INDEX="1", PIP_NO_INDEX="1")
        elif flag == "--offline":
            ctx.build_args["UV_OFFLINE"] = "1"
        elif flag in names and args:
            value = args.pop(0)
            if flag == "--find-links" and "://" not in value:
                target = f"envforge-build/links/{len(values.get(flag, []))}"
                ctx.files[target] = Path(value)
                value = f"{BUILD}/links/{target.rsplit('/', 1)[1]}"
            values.setdefault(flag, []).append(value)
    for flag, items in values.items():
        for name in names[flag]:
            sep = "," if name == "UV_FIND_LINKS" else " "
            ctx.build_args[name] = sep.join(items)
    ctx.secret_args = tuple(sorted(k for k, v in ctx.build_args.items() if redact(v) != v))


def write_context(ctx: Context, directory: Path) -> None:
    """The context as files (symlinks in the model are kept as links, never followed)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Dockerfile").write_text(ctx.dockerfile)
    for name, source in ctx.files.items():
        target = directory / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(source, bytes):
            target.write_bytes(source)
        elif source.is_dir():
            shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
        else:
            shutil.copy2(source, target)


def tar_context(ctx: Context, fileobj: IO[bytes]) -> None:
    """The context as the tar stream the engine reads (symlinks kept as links, never followed)."""
    with tarfile.open(fileobj=fileobj, mode="w") as tar:
        _add_bytes(tar, "Dockerfile", ctx.dockerfile.encode())
        for name, source in ctx.files.items():
            if isinstance(source, bytes):
                _add_bytes(tar, name, source, 0o755 if name.endswith(".sh") else 0o644)
            else:
                tar.add(str(source), arcname=name, recursive=True, filter=_plain)
    fileobj.seek(0)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, 0
    tar.addfile(info, io.BytesIO(data))


def _plain(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    if not (info.isfile() or info.isdir() or info.issym() or info.islnk()):
        return None  # no devices or fifos from a model directory
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def fingerprint(model_dir: Path) -> str:
    """A cheap identity of a model directory's contents (paths, sizes, mtimes): names the model image."""
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(model_dir):
        dirs.sort()
        for name in sorted(files):
            path = Path(root, name)
            stat = path.lstat()
            digest.update(f"{path.relative_to(model_dir)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()
