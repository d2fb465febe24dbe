"""uv backend: `uv venv` from an installed interpreter, then `uv pip install`."""

from __future__ import annotations

from pathlib import Path

from envforge import interpreters
from envforge.backends.base import BuildOptions, Built, Log, check, requirement_files, requirement_lines, venv_python
from envforge.proc import child_env, run
from envforge.spec import EnvSpec

_REMEDY = (
    "Check that every pinned version exists on the package index (uv's message above names the package); "
    "for private packages pass --index-url/--extra-index-url, or re-log the model with requirements that resolve."
)


def uv_bin() -> str:
    import uv

    return str(uv.find_uv_bin())


class UvBackend:
    name = "uv"

    def available(self) -> str | None:
        try:
            uv_bin()
        except (ImportError, FileNotFoundError):
            return "uv is not installed. Reinstall envforge (it depends on the uv package) or `pip install uv`."
        return None

    def build(self, spec: EnvSpec, model_dir: Path, dest: Path, options: BuildOptions, log: Log) -> Built:
        choice = interpreters.choose(
            spec.python, match=options.python_match, explicit=options.python,
            allow_download=options.allow_python_download, offline=options.offline,
        )
        log(f"python {choice.interpreter.version}: {choice.reason}")
        uv = uv_bin()
        env = child_env({"UV_PYTHON_DOWNLOADS": "never"})
        if options.offline:
            env["UV_OFFLINE"] = "1"
        check(run([uv, "venv", "--quiet", "--python", choice.interpreter.path, str(dest)], timeout=options.timeout, env=env),
              "Creating the virtual environment with uv", "Check the interpreter named above, or pass --python PATH.")
        python = str(venv_python(dest))
        base = [uv, "pip", "install", "--python", python, *spec.index_options]
        with requirement_files(spec, model_dir) as (reqs, constraints):
            if spec.requirements or spec.build_dependencies:
                log("installing requirements")
                argv = [*base, "-r", str(reqs)] + (["-c", str(constraints)] if constraints else [])
                check(run(argv, timeout=options.timeout, env=env), "Installing the model's requirements with uv", _REMEDY)
            if spec.code_wheels:
                log(f"installing {len(spec.code_wheels)} code_path wheel(s)")
                wheels = requirement_lines(spec, model_dir, spec.code_wheels)
                argv = [*base, *wheels] + (["-c", str(constraints)] if constraints else [])
                check(run(argv, timeout=options.timeout, env=env), "Installing the model's code_path wheels with uv", _REMEDY)
        frozen = run([uv, "pip", "freeze", "--python", python], timeout=120, env=env)
        return Built(
            python=python, python_version=choice.interpreter.version,
            interpreter_reason=choice.reason, interpreter_warning=choice.warning,
            installed=tuple(frozen.stdout.split()) if frozen.ok else (),
        )

    def health_check(self, env_dir: Path, python: str) -> bool:
        return Path(python).is_file() and run([python, "-I", "-c", "import sys"], timeout=60).ok

    def command(self, env_dir: Path, python: str, argv: list[str]) -> list[str]:
        return [python, *argv[1:]] if argv and argv[0] == "python" else list(argv)
