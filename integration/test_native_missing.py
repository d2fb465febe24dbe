"""A model whose compiled dependency needs a shared library the machine lacks gets that library named as the
verdict (exit 3), not "the model failed to load: OSError". The test builds the dependency itself: a wheel
holding a gcc-built `.so` linked against `libenvforgetest.so.1`, a library the test then deletes, so no
search path has it. Real MLflow model, real uv build, real sandboxed runner."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import envforge, report
from tests.support.models import save_code_model
from tests.support.native import MODEL, native_wheel

pytestmark = pytest.mark.slow


def test_a_missing_shared_library_is_the_verdict(tmp_path: Path, home: Path) -> None:
    wheel = native_wheel(tmp_path)
    model = save_code_model(tmp_path / "model", MODEL, code_paths=[str(wheel)])
    run = envforge("verify", str(model), "--json", str(tmp_path / "r.json"), home=home)
    result = report(tmp_path / "r.json")
    assert run.returncode == 3 and result["status"] == "error", run.output
    assert result["reason"].startswith("the environment's compiled extensions need shared libraries this machine does not have: "
                                       "libenvforgetest.so.1") and "ef_native/_ext.so" in result["reason"]
    assert result["model_error"]["stage"] == "load"  # it was loaded, and failed where the check said it would
