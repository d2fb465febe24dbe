"""Register a model directory as it is (its files untouched, whatever MLflow wrote it) in a real MLflow
registry: a run with the directory as its `model` artifact, and a version whose source is that run.

For models logged by another MLflow (the numpy-1 test model, the shared corpus): logging them again with
today's MLflow would rewrite their MLmodel and requirements."""

from __future__ import annotations

from pathlib import Path


def register_dir(tracking_uri: str, name: str, model_dir: Path, experiment: str = "envforge-baselines",
                 artifacts: Path | None = None) -> str:
    """The new version's models:/NAME/VERSION URI; `artifacts`: where a new experiment keeps its artifacts
    (a local store's default is ./mlruns of the working directory)."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    found = client.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found else client.create_experiment(
        experiment, artifact_location=artifacts.as_uri() if artifacts else None)
    run = client.create_run(experiment_id)
    client.log_artifacts(run.info.run_id, str(model_dir), artifact_path="model")
    client.set_terminated(run.info.run_id)
    try:
        client.create_registered_model(name)
    except MlflowException:  # already registered: another version
        pass
    version = client.create_model_version(name, source=f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    return f"models:/{name}/{version.version}"
