"""One step of `envforge bisect`: the model rebuilt as of one moment (optionally with some packages
pinned), its inputs run, the outcome as data. The same steps as verify (pipeline.load_model, then
verification_steps.run_unjudged: the build and predict steps without a verdict), cached by the same
EnvSpec keys, so a date probed twice is built once, and uv's cache makes each new date cheap.

`resolved_set` asks uv which set a moment resolves to without building anything: two dates that
resolve to the same set need only one build. `inputs_for` picks the inputs every probe runs, once
(modeldir/input_policy.py's verify policy, with nothing recorded).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from envforge.backends.base import BuildOptions
from envforge.backends.run_options import RunOptions
from envforge.commands import verification_steps as steps
from envforge.compare import compare
from envforge.errors import EnvforgeError
from envforge.modeldir.download_options import DownloadOptions
from envforge.modeldir.input_policy import one_source
from envforge.pipeline import headline as _headline
from envforge.pipeline import load_model
from envforge.spec.envlock import installed_packages

OK, LOAD, RAISE, BUILD = "ok", "load", "raise", "build"


@dataclass
class Probe:
    label: str                  # what was built: "logged", "2024-06-16", "2024-06-15 + numpy==2.0.0"
    moment: str | None          # the as-of cutoff (None: today's index)
    kind: str                   # ok | load (fails to load) | raise (raises on an input) | build (env not built)
    message: str = ""           # the error's headline, for a failed kind
    predictions: dict[str, Any] = field(default_factory=dict)
    installed: dict[str, str] = field(default_factory=dict)  # canonical name -> version, from the env's freeze
    seconds: float = 0.0
    reused: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "moment": self.moment, "outcome": self.kind, "message": self.message,
                "seconds": round(self.seconds, 2), "reused": self.reused}

    def describe(self) -> str:
        what = {OK: "loads and predicts", LOAD: "fails to load", RAISE: "raises on its input", BUILD: "cannot be built"}[self.kind]
        return what + (f": `{self.message}`" if self.message else "")


def inputs_for(model_dir: Path, mlmodel: Any, inputs: tuple[str, ...]) -> list[dict[str, Any]]:
    """The inputs every probe runs, by verify's policy with nothing recorded (input_policy.one_source): --input
    files, else the model's own example, else a synthesized one."""
    return one_source(model_dir, mlmodel, None, inputs)


def probe(uri: str, when: str, *, label: str, backend: str, tracking_uri: str | None, build: BuildOptions,
          limits: RunOptions, download: DownloadOptions, runs: list[dict[str, Any]], pins: tuple[str, ...] = (), predict_timeout: float = 900.0,
          log: Any = None, stored_lock: bool = False) -> Probe:
    """Build the model's env resolved as of `when` (a --resolve value), `pins` added as constraints
    (or, stored_lock, exactly the lock stored with the model), and run `runs` in it."""
    start = time.monotonic()
    say = log or (lambda text: None)
    options = replace(build, resolve=when)
    moment = None
    try:
        loaded = load_model(uri, backend=backend, tracking_uri=tracking_uri, stored_lock=stored_lock, build=options,
                            download=download)
        moment = loaded.spec.resolved_as_of
        if pins:
            loaded = replace(loaded, spec=replace(loaded.spec, constraints=loaded.spec.constraints + pins))
        env, output = steps.run_unjudged(loaded, options, limits, runs, timeout=predict_timeout, log=say)
    except EnvforgeError as exc:
        return Probe(label, moment, BUILD, exc.message.strip().splitlines()[0], seconds=time.monotonic() - start)
    found = Probe(label, moment, OK, installed={p.name: p.version for p in installed_packages(env.installed)},
                  seconds=time.monotonic() - start, reused=env.reused)
    if output.load_error:
        found.kind, found.message = LOAD, _headline(output.load_error)
    elif output.failures():
        found.kind, found.message = RAISE, _headline(output.failures()[0].get("error") or {})
    else:
        found.predictions = output.predictions()
    return found


def same(reference: Probe, other: Probe, rtol: float, atol: float) -> tuple[bool, str]:
    """Whether `other` behaves as `reference` does, and how it differs when not."""
    if reference.kind != other.kind:
        return False, other.describe()
    if reference.kind != OK:
        return True, ""
    comparison = compare(reference.predictions, other.predictions, rtol=rtol, atol=atol)
    return comparison.ok, "" if comparison.ok else f"predicts differently: {comparison.summary()}"


def resolved_set(uri: str, when: str, *, backend: str, tracking_uri: str | None, build: BuildOptions,
                 download: DownloadOptions) -> dict[str, str] | None:
    """name -> version that uv resolves the model's requirements to as of `when`, without building
    (uv and virtualenv backends); None when that cannot be known cheaply."""
    from envforge.backends import get_backend
    from envforge.backends.cutoff import Cutoff, compile_pins
    from envforge.backends.venv import VenvBackend, choose_interpreter, requirement_files

    if not isinstance(get_backend(backend), VenvBackend):  # a conda solve or an image: only a build can tell
        return None

    options = replace(build, resolve=when)
    try:
        loaded = load_model(uri, backend=backend, tracking_uri=tracking_uri, stored_lock=False, build=options, download=download)
        choice = choose_interpreter(loaded.spec, options, lambda text: None)
        with requirement_files(loaded.spec, loaded.model.path) as (reqs, constraints):
            pins = compile_pins(Cutoff(loaded.spec, options), loaded.spec, loaded.model.path, choice.interpreter.path,
                                reqs, constraints, options, f"Resolving the requirements as of {when}", "")
    except EnvforgeError:
        return None
    return dict(_split(pin) for pin in pins)


def _split(pin: str) -> tuple[str, str]:
    from packaging.utils import canonicalize_name

    name, version = pin.split("==", 1)
    return str(canonicalize_name(name)), version
