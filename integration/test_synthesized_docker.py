"""A synthesized input in a container: the runner's introspect.py ships into the model image with
run_model.py (scripts/setup-docker.sh's engine and debootstrap base image, as integration/test_docker.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import envforge, report
from tests.support.docker import BASE_IMAGE, image_python_version, start_engine
from tests.support.synth_models import save_iris_bare

pytestmark = [pytest.mark.slow, pytest.mark.docker]


def test_an_sklearn_model_without_signature_is_introspected_in_a_container(tmp_path: Path) -> None:
    model = save_iris_bare(tmp_path / "bare")
    run = envforge("verify", str(model), "--backend", "docker", "--base-image", BASE_IMAGE, "--json", str(tmp_path / "r.json"),
                   home=tmp_path / "home", env={"DOCKER_HOST": start_engine()}, timeout=1500)
    assert run.returncode == 0, run.output
    result = report(tmp_path / "r.json")
    assert result["backend"] == "docker" and result["env"]["runner_python"] == image_python_version(start_engine())  # ran in the image
    [example] = result["examples"]
    assert example["ok"] is True and example["source"] == "introspected", result
    assert "feature_names_in_" in example["detail"]
