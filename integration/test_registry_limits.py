"""verify-registry's selection is bounded (issue 17): a registry of more versions than
ENVFORGE_MAX_REGISTRY_VERSIONS is not verified by accident, and listing stops paging there. A real
`mlflow server` with one real model registered four times; the limit is lowered to reach it (the
default, 5,000 versions, would take minutes to register)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import envforge

pytestmark = pytest.mark.slow

NAME = "limits-many"


@pytest.fixture(scope="module")
def registry(own_mlflow_server: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    import mlflow

    from envforge.modeldir.resolve import tracking_scope
    from tests.support.models import save_code_model

    model = save_code_model(tmp_path_factory.mktemp("limits") / "model",
                            "import mlflow\n\nclass M(mlflow.pyfunc.PythonModel):\n"
                            "    def predict(self, context, model_input, params=None):\n        return model_input\n\n"
                            "mlflow.models.set_model(M())\n")
    with tracking_scope(own_mlflow_server):
        mlflow.set_experiment("envforge-limits")
        with mlflow.start_run():
            mlflow.log_artifacts(str(model), "model")
            uri = f"runs:/{mlflow.active_run().info.run_id}/model"
        for _ in range(4):
            mlflow.register_model(uri, NAME)
    return own_mlflow_server


def test_a_selection_over_the_limit_is_refused_naming_the_remedy(registry: str, tmp_path: Path) -> None:
    run = envforge("verify-registry", "--tracking-uri", registry, "--models", NAME, "--dry-run", home=tmp_path,
                   env={"ENVFORGE_MAX_REGISTRY_VERSIONS": "3"})
    assert run.returncode == 2, run.output
    assert f"The registered model '{NAME}': at least 4 versions" in run.output, run.output
    assert "--latest N" in run.output and "ENVFORGE_MAX_REGISTRY_VERSIONS=N" in run.output
    assert "Traceback" not in run.output


def test_latest_or_a_raised_limit_selects_them(registry: str, tmp_path: Path) -> None:
    raised = envforge("verify-registry", "--tracking-uri", registry, "--models", NAME, "--dry-run", home=tmp_path,
                      env={"ENVFORGE_MAX_REGISTRY_VERSIONS": "10"})
    assert raised.returncode == 0 and "4 model version(s)" in raised.stdout, raised.output
    latest = envforge("verify-registry", "--tracking-uri", registry, "--models", NAME, "--latest", "2", "--dry-run",
                      home=tmp_path, env={"ENVFORGE_MAX_REGISTRY_VERSIONS": "3"})
    assert latest.returncode == 0 and "2 model version(s)" in latest.stdout, latest.output
