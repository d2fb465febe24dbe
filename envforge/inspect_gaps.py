"""`envforge inspect` on a model envforge cannot build: what it could read, and why verify stops.

inspect never fails on a readable MLmodel (issue 12). When the env files are beyond repair (a
python_env.yaml that is not YAML, a requirement line that is not a requirement, a path outside
the model directory) or MLmodel has no python_function flavor, verify stops with exit 2; inspect
instead prints everything else it read, and a `gaps` entry saying what is wrong, that verify and
the other commands stop there, and how to fix it. An MLmodel that cannot be read at all (missing,
not YAML, not a mapping, too large, a symlink out of the directory) is still an error: there is
nothing to inspect.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from envforge.errors import ModelDirError
from envforge.redact import redact
from envforge.spec.mlmodel import MLmodel, read_mlmodel

NOT_BUILT = "none: envforge builds nothing for this model until the gap above is fixed"


def unbuildable(uri: str, model_dir: Path, backend: str, error: ModelDirError) -> dict[str, Any]:
    """inspect's report for a model whose spec could not be read; re-raises `error` if MLmodel itself is unreadable."""
    from envforge.inspect import _env_files, _examples, _expectations, _wheels

    raw = _readable_mlmodel(model_dir, error)
    try:
        mlmodel: MLmodel | None = read_mlmodel(model_dir)
    except ModelDirError:
        mlmodel = None
    flavors = raw.get("flavors") if isinstance(raw.get("flavors"), dict) else {}
    python_version = mlmodel.python_version if mlmodel else None
    gap = redact(f"{error.message.rstrip('.')}: verify and the other commands stop here (exit 2). {error.remedy}")
    empty: list[str] = []
    return {
        "uri": redact(uri),
        "model_dir": str(model_dir),
        "flavors": [str(f) for f in flavors],
        "loader_module": mlmodel.loader_module if mlmodel else None,
        "mlflow_version": str(raw.get("mlflow_version") or "not recorded in MLmodel (old MLflow 1.x releases did not write it)"),
        "python": f"{python_version} (from MLmodel)" if python_version else "unknown (not recorded in MLmodel)",
        "env_files": _env_files(model_dir, mlmodel) if mlmodel else _present(model_dir),
        "requirements": empty, "constraints": empty, "build_dependencies": empty, "index_options": empty,
        "index_overrides": empty, "code_wheels": empty,
        "wheels": _wheels(model_dir, mlmodel) if mlmodel else empty,
        "conda_dependencies": empty,
        "input_examples": _examples(model_dir, mlmodel) if mlmodel else empty,
        "expectations": _expectations(model_dir),
        "backend": backend,
        "env_key": NOT_BUILT,
        "gaps": [gap],
        "notes": empty,
    }


def _readable_mlmodel(model_dir: Path, error: ModelDirError) -> dict[str, Any]:
    from envforge.spec.inferred import raw_mlmodel

    path = model_dir / "MLmodel"
    if not path.is_file():
        raise error
    try:
        return raw_mlmodel(model_dir)
    except ModelDirError:
        raise error from None


def _present(model_dir: Path) -> list[str]:
    names = ("python_env.yaml", "requirements.txt", "constraints.txt", "conda.yaml")
    return [name for name in names if (model_dir / name).is_file()]
