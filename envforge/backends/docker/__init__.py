"""docker backend: the model's environment as an image, the model verified in a container of it.

Two images. The env image (base image + a venv with the requirements, code_path wheels and
declared apt packages) is tagged `envforge-env:<EnvSpec.key>`, so an unchanged model reuses it;
its key includes the base image's id and the CA bundle (`specialize`). The model image adds the
model directory, envforge's runner and an `mlflow models serve` entrypoint on port 8080; the
runner runs in a container of it (context.py, build.py, run.py), and the image that passed is
the one `--tag NAME` keeps, so what was verified is what ships.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import Any

from envforge.backends.base import BuildOptions, Built, Env, Log, WrittenLock
from envforge.backends.docker import native
from envforge.backends.docker.build import build_image
from envforge.backends.docker.container_run import ContainerExecutor
from envforge.backends.docker.context import FORMAT, MODEL_DIR, VENV_PYTHON, default_base_image, env_context, env_tag, fingerprint, model_context
from envforge.backends.docker.engine import base_image, connect, engine_errors, find_image, probe_env, python_version, sdk_missing
from envforge.backends.run_options import RunOptions
from envforge.errors import InterpreterNotFound, UsageError
from envforge.processes.proc import passed_env
from envforge.spec import EnvSpec
from envforge.spec.asof import LATEST, AsOf
from envforge.spec.flavors import SPARK_LOOPBACK

IMAGE_FILE = "image.json"  # in the env's cache dir: which image is this env


class DockerBackend:
    name = "docker"
    uses_pip_locks = True
    lock_remedy = ""

    def available(self) -> str | None:
        return sdk_missing()

    def check_engine(self) -> None:
        """The engine answers, or EnvBuildError (backends/ready.py: before the model is downloaded)."""
        connect(timeout=10)

    def limit_as_of(self, as_of: AsOf, warnings: tuple[str, ...], options: BuildOptions) -> tuple[AsOf, tuple[str, ...]]:
        """The image's pip/uv get no cutoff yet (README): today's index, and an explicit date is refused."""
        if options.resolve not in (None, LATEST):
            raise UsageError(f"--resolve {options.resolve}: the docker backend does not resolve as of a date yet; it installs "
                             "against today's index.", "Use --backend uv or virtualenv for --resolve logged/DATE, or pass --resolve latest.")
        return AsOf(LATEST, None, options.resolve is not None, "the docker backend resolves against today's index"), ()

    def specialize(self, spec: EnvSpec, model_dir: Path, options: BuildOptions) -> EnvSpec:
        """The base image (by id), envforge's image format, uv's version and the CA bundle join the key."""
        client = connect()
        base = options.base_image or default_base_image(spec.python)
        image = base_image(client, base)
        extras = [f"base={base}", f"base_id={image.id}", f"format={FORMAT}", f"uv={uv_version()}"]
        if options.ca_bundle:
            extras.append(f"ca_bundle={ca_digest(options.ca_bundle)}")
        if options.install_missing:  # its image has the missing libraries' packages on top: another image
            extras.append("install_missing=1")
        return replace(spec, backend_options=tuple(extras))

    def build(self, spec: EnvSpec, model_dir: Path, dest: Path, options: BuildOptions, log: Log) -> Built:
        client = connect(options.timeout)
        base, tag = option(spec, "base") or default_base_image(spec.python), env_tag(spec)
        have = python_version(client, base)
        reason, warning = python_policy(spec.python, have, base, options.python_match)
        log(f"python {have}: {reason}")
        dest.mkdir(parents=True, exist_ok=True)
        ctx = env_context(spec, model_dir, options, base, uv_version())
        (dest / "Dockerfile").write_text(ctx.dockerfile)  # to read; the build args (maybe secret) are not in it
        existing = find_image(client, tag)
        if existing is not None and existing.labels.get("org.envforge.key") == spec.key:
            log(f"the image {tag} exists: reusing it")
            image_id, built = existing.id, False
        else:
            image_id = build_image(client, ctx, tag, timeout=options.timeout, log=log, log_file=dest / "build.log")
            built = True
        missing, note = native.check_image(client, image_id)  # shared libraries the venv's extensions need, per the image's loader
        installed: tuple[str, ...] = ()
        if missing and options.install_missing:
            image_id, installed = native.install_missing(client, image_id, tag, spec.key, missing, timeout=options.timeout, log=log)
            missing, note = native.check_image(client, image_id) if installed else (missing, note)
        probe = probe_env(client, image_id, VENV_PYTHON)
        info = {"tag": tag, "id": image_id, "base": base, "built": built, "python": probe["version"],
                "missing_libraries": native.to_json(missing), "installed_missing": list(installed), "native_note": note}
        (dest / IMAGE_FILE).write_text(json.dumps(info, indent=2))
        return Built(python=VENV_PYTHON, python_version=probe["version"], interpreter_reason=reason,
                     interpreter_warning=warning, installed=tuple(probe["installed"]))

    def native_check(self, env_dir: Path) -> tuple[list[Any], str]:
        """(the shared libraries the env image lacks, the verdict's wording) as the build found them (native.py)."""
        info = image_info(env_dir) or {}
        missing = native.from_json(info.get("missing_libraries"))
        return missing, native.reason(missing, str(info.get("base")), tuple(info.get("installed_missing") or ()))

    def health_check(self, env_dir: Path, python: str) -> str | None:
        info = image_info(env_dir)
        if not info:
            return f"its {IMAGE_FILE} (which image is this env) is missing or unreadable"
        image = find_image(connect(), info["tag"])
        if image is None:
            return f"its image {info['tag']} is no longer in the engine"
        return None if image.id == info["id"] else f"its tag {info['tag']} now names another image ({image.id[:19]})"

    def remove(self, env_dir: Path) -> None:
        """The env image `envforge-env:<key>` lives in the engine, not in the env directory: remove it too
        (an image a container or another tag still uses stays; the engine says so and prune goes on)."""
        info = image_info(env_dir)
        if not info:
            return
        client = connect()
        if find_image(client, info["tag"]) is not None:
            with engine_errors(f"Removing the env image {info['tag']}"):
                client.images.remove(info["tag"])

    def lock(self, spec: EnvSpec, model_dir: Path, uri: str, options: BuildOptions, log: Log,
             open_env: Callable[[], Env]) -> WrittenLock:
        """The image's venv locked like a local venv's: its installed set with hashes."""
        from envforge.backends.exact_lock import write_exact_lock

        return write_exact_lock(open_env(), spec, model_dir, uri, options)

    def command(self, env_dir: Path, python: str, argv: list[str]) -> list[str]:
        """A `docker run` of argv in the env image (no network), for interactive commands."""
        return self.interactive(env_dir, None, argv, tty=False)

    def interactive(self, env_dir: Path, model_dir: Path | None, argv: list[str], *, tty: bool) -> list[str]:
        """`docker run` of argv (the docker CLI, for a terminal) in the env image: no network, the
        image's user, the model bind-mounted read-only at $MODEL_DIR (a local engine's host path),
        the venv's bin first on PATH. `python` means the env's Python."""
        if shutil.which("docker") is None:
            raise UsageError("`envforge shell` / `run` with --backend docker need the `docker` command-line client, "
                             "which is not on PATH.", "Install it (Debian: apt-get install docker.io), or use "
                             "--backend uv to debug the model in a local environment.")
        info = image_info(env_dir) or {}
        program = [VENV_PYTHON, *argv[1:]] if argv and argv[0] == "python" else list(argv)
        flags = ["--rm", "-i", *(["-t"] if tty else []), "--network", "none",
                 "-e", f"PATH={Path(VENV_PYTHON).parent}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
        if model_dir is not None:
            flags += ["-v", f"{model_dir}:{MODEL_DIR}:ro", "-e", f"MODEL_DIR={MODEL_DIR}"]
        return ["docker", "run", *flags, "--entrypoint", program[0], str(info.get("tag") or info.get("id")), *program[1:]]

    @contextmanager
    def executor(self, env: Env, model_dir: Path, options: BuildOptions, run: RunOptions, log: Log) -> Iterator[ContainerExecutor]:
        client = connect(options.timeout)
        info = image_info(env.path) or {}
        print_ = fingerprint(model_dir)
        run_tag = f"envforge-model:{env.key[:12]}-{print_[:12]}"
        log("building the model image (the env image + the model + a scoring server)")
        ctx = model_context(info["id"], model_dir, {"org.envforge.key": env.key, "org.envforge.model": print_})
        image_id = build_image(client, ctx, run_tag, timeout=options.timeout, log=log)
        report: dict[str, Any] = {"env_image": info.get("tag"), "env_image_id": info.get("id"), "base_image": info.get("base"),
                                  "env_image_built": bool(info.get("built")) and not env.reused,
                                  "model_image_id": image_id, "tag": None, "kept": []}

        def keep(passed: bool) -> dict[str, Any]:
            if options.tag and passed:
                tag_image(client, image_id, options.tag)
                report["tag"] = options.tag
                report["kept"].append(options.tag)
            elif options.tag:
                report["tag_skipped"] = "the verification did not pass"
            if options.keep_image:
                report["kept"].append(run_tag)
            return report

        try:
            # Spark starts its Python workers with PYSPARK_PYTHON (else the first `python` on PATH): the venv's, always.
            spark = {"PYSPARK_PYTHON": VENV_PYTHON, "PYSPARK_DRIVER_PYTHON": VENV_PYTHON, **SPARK_LOOPBACK}  # and its driver on loopback
            yield ContainerExecutor(client, image_id, memory=run.memory, keep=keep, env={**spark, **passed_env(run.pass_env)})
        finally:
            if run_tag not in report["kept"]:
                try:
                    with engine_errors("Removing the model image"):
                        client.images.remove(run_tag)
                except Exception:  # best effort: an image in use by a concurrent run stays
                    log(f"could not remove {run_tag} (in use?)")


def image_info(env_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((env_dir / IMAGE_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("id") and data.get("tag") else None


def tag_image(client: Any, image_id: str, name: str) -> None:
    from docker.utils import parse_repository_tag

    repository, tag = parse_repository_tag(name)
    with engine_errors(f"Tagging the verified image as {name}", "Pass a valid image name to --tag (NAME[:TAG])."):
        client.images.get(image_id).tag(repository, tag or "latest")


def option(spec: EnvSpec, name: str) -> str | None:
    return next((o.split("=", 1)[1] for o in spec.backend_options if o.startswith(f"{name}=")), None)


def uv_version() -> str:
    version = metadata.version("uv")
    if not re.fullmatch(r"\d+(\.\d+)*", version):
        raise UsageError(f"The installed uv reports an odd version {version!r}.", "Reinstall uv.")
    return version


def ca_digest(path: str) -> str:
    try:
        return hashlib.sha256(Path(path).expanduser().read_bytes()).hexdigest()
    except OSError as exc:
        raise UsageError(f"--ca-bundle {path}: {exc.strerror or exc}.", "Pass a readable PEM file of CA certificates.") from None


def python_policy(wanted: str | None, have: str, base: str, match: str) -> tuple[str, str | None]:
    """(why this Python, a warning) for the base image's python3; InterpreterNotFound when it does not fit."""
    if not wanted:
        return f"the base image {base} has Python {have}; the model logged no Python version", None
    want, got = wanted.split("."), have.split(".")
    if got[: len(want)] == want:
        return f"the base image {base} has the logged Python {have}", None
    minor = ".".join(want[:2])
    if got[:2] == want[:2] and match != "exact":
        return (f"the base image {base} has Python {have}, the same minor version as the logged {wanted}",
                f"The model was logged with Python {wanted}; the image has Python {have} (same minor version). "
                f"For the exact version pass --base-image python:{wanted}-slim.")
    if got[:2] == want[:2]:
        raise InterpreterNotFound(f"The model was logged with Python {wanted}; the base image {base} has Python {have}.",
                                  f"Pass --base-image with Python {wanted} (e.g. python:{wanted}-slim), or drop --python-match exact.")
    raise InterpreterNotFound(f"The model was logged with Python {wanted}; the base image {base} has Python {have}.",
                              f"Pass --base-image with a Python {minor} image, e.g. python:{minor}-slim.")
