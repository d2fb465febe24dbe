"""Baselines for models nobody recorded: predictions recorded in a rebuilt env, marked as such.

`envforge record URI --resolve logged` (or any --resolve value) runs the model in the env the pipeline
builds (or reuses) as of that moment, not in the current environment, and `verify-registry
--record-missing` does the same in each group's env for the versions without expectations. Both store
an expectations document whose `baseline` says what it is (`{"kind": "as-logged rebuild",
"resolved_as_of": ...}`), so that no report mistakes it for a recording in the training environment:
it proves only that the model's answers have not changed since the rebuild, not that they are right.
"""

from __future__ import annotations

from typing import Any

from envforge.backends.base import BuildOptions, Env
from envforge.backends.run_options import RunOptions
from envforge.execution.executor import RunnerOutput
from envforge.modeldir.download_options import DownloadOptions
from envforge.spec.asof import LATEST, LOGGED, AsOf

AS_LOGGED, AS_OF_DATE, TODAY = "as-logged rebuild", "rebuild as of a date", "rebuild with today's packages"


def kind_for(as_of: AsOf | None) -> dict[str, Any]:
    """The `baseline` field of expectations recorded in an env resolved as of `as_of` (what the env really had)."""
    if as_of is None or not as_of.moment:
        return {"kind": TODAY, "resolved_as_of": None, "why": as_of.why if as_of else "today's index"}
    kind = AS_LOGGED if as_of.mode == LOGGED else AS_OF_DATE if as_of.mode != LATEST else TODAY
    return {"kind": kind, "resolved_as_of": as_of.moment, "why": as_of.why}


def freeze_of(env: Env) -> list[dict[str, str]]:
    """The env's installed set ("name==version" lines) in the runner's freeze format."""
    out = []
    for line in env.installed:
        name, _, version = line.partition("==")
        if name and version:
            out.append({"name": name.strip(), "version": version.strip()})
    return sorted(out, key=lambda d: d["name"].lower())


def run_rebuilt(uri: str, *, tracking_uri: str | None, inputs: tuple[str, ...], synthesize: bool, backend: str,
                build: BuildOptions, limits: RunOptions, download: DownloadOptions,
                predict_timeout: float) -> tuple[Any, list[dict[str, Any]], RunnerOutput | None, dict[str, Any]]:
    """Load the model, build (or reuse) its env as of `build.resolve`, and run its inputs there with a
    freeze; returns (loaded model, runs, runner output, baseline field), no output (and no build) when there
    is nothing to run. A lock stored with the model is ignored: the baseline is of the resolution asked for."""
    from envforge.commands import verification_steps as steps
    from envforge.modeldir import input_policy
    from envforge.pipeline import env_as_of, load_model

    loaded = load_model(uri, backend=backend, tracking_uri=tracking_uri, stored_lock=False, build=build, download=download)
    runs = input_policy.all_given(loaded.model.path, loaded.mlmodel, inputs, synthesize)  # record's policy
    if not runs:
        return loaded, runs, None, kind_for(loaded.as_of)
    env, output = steps.run_unjudged(loaded, build, limits, runs, timeout=predict_timeout, freeze=True)
    if not output.data.get("freeze"):
        output.data["freeze"] = freeze_of(env)
    return loaded, runs, output, kind_for(env_as_of(loaded, env))


__all__ = ["AS_LOGGED", "AS_OF_DATE", "TODAY", "freeze_of", "kind_for", "run_rebuilt"]
