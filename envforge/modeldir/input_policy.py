"""Which inputs a model runs: the one rule, with its two policies named (issue 28).

- `one_source` (verify, verify-registry, serve's pytest items, bisect's probes): the inputs are compared with
  recorded predictions, so they come from ONE source, the first that has any: the recorded inputs (both sides
  see the same rows; an --input replaces them), else the --input files, else the model's own input example,
  else (unless `synthesize` is off) one synthesized from its signature or, without one, an `introspect`
  request the runner answers.
- `all_given` (record, and record's baseline in a rebuilt env): the inputs are what gets recorded, so every
  given one is kept: the --input files AND the model's own example, else (unless `synthesize` is off) a
  synthesized one. Nothing recorded is read: recording is what makes it.

`synthesize.settle(runs, output.examples)` then fixes the synthesized rows, so that later runs (a verify of
the recording, bisect's other envs) run the same ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from envforge.modeldir import examples as examples_mod
from envforge.modeldir import synthesize as synth
from envforge.modeldir.expectations import Expectations
from envforge.spec.mlmodel import MLmodel


def one_source(model_dir: Path, mlmodel: MLmodel, expected: Expectations | None, inputs: tuple[str, ...],
               synthesize: bool = True) -> list[dict[str, Any]]:
    """The inputs a verification runs: those of the first source that has any (see the module's docstring)."""
    if expected is not None and not inputs:
        return expected.runner_examples()
    runs = examples_mod.input_files(list(inputs), mlmodel) or examples_mod.model_examples(model_dir, mlmodel)
    return runs if runs or not synthesize else synth.for_model(model_dir)


def all_given(model_dir: Path, mlmodel: MLmodel, inputs: tuple[str, ...], synthesize: bool = True) -> list[dict[str, Any]]:
    """The inputs a recording runs: every --input file and the model's own example, else a synthesized one."""
    runs = examples_mod.input_files(list(inputs), mlmodel) + examples_mod.model_examples(model_dir, mlmodel)
    return runs if runs or not synthesize else synth.for_model(model_dir)


__all__ = ["all_given", "one_source"]
