"""`verify-registry --record-missing`: a version without expectations gets a baseline recorded in its
group's env (the as-logged rebuild by default) instead of staying unverified.

The predictions its runner just made are stored as record stores them (next to the downloaded model and
with its run or logged model), marked with the rebuild's kind (commands/baseline.py), and the version is
judged against them: the report says that a baseline was recorded, not that the model reproduced one.
"""

from __future__ import annotations

from typing import Any

from envforge.backends.base import Env
from envforge.errors import EnvforgeError
from envforge.execution.executor import RunnerOutput
from envforge.registry.plan import RegistryOptions
from envforge.result import PASSED, VerifyResult


def recordable(output: RunnerOutput, runs: list[dict[str, Any]]) -> bool:
    """Only a clean run is worth a baseline: loaded, every input predicted."""
    return bool(runs) and not output.load_error and not output.failures() and not output.unknowable() \
        and len(output.predictions()) == len(runs)


def record_in_group(result: VerifyResult, loaded: Any, runs: list[dict[str, Any]], output: RunnerOutput, env: Env,
                    options: RegistryOptions) -> None:
    from envforge.commands.baseline import freeze_of, kind_for
    from envforge.commands.record import store_document
    from envforge.modeldir import expectations as expectations_mod
    from envforge.modeldir import synthesize as synth
    from envforge.pipeline import env_as_of, judge
    from envforge.version import __version__

    runs = synth.settle(runs, output.examples)
    baseline = kind_for(env_as_of(loaded, env))
    data = dict(output.data, freeze=output.data.get("freeze") or freeze_of(env))
    document = expectations_mod.build(runs, data, __version__, baseline, model_dir=loaded.model.path)
    try:
        local, location = store_document(loaded.model, document, loaded.mlmodel.model_id)
    except EnvforgeError as exc:  # could not store it with the model: still a verdict, and why
        result.warnings.append(f"--record-missing: {exc.message} {exc.remedy}".strip())
        judge(result, output, None, runs, options.judging)
        return
    judge(result, output, expectations_mod.load(local), runs, options.judging)
    result.expectations = location
    result.baseline = {**baseline, "recorded_now": True}
    if result.status == PASSED:
        result.finish(PASSED, f"no expectations were stored: recorded a baseline of {len(runs)} example(s) in "
                              f"{expectations_mod.describe(baseline)} -> {location}; later runs compare with it")


__all__ = ["recordable", "record_in_group"]
