"""envforge's pytest plugin (the `pytest11` entry point `envforge`): `pytest --envforge URI` (repeatable) or
`--envforge-registry 'fraud*'` adds one test item per model version and example, so that pytest's own
--junitxml, -k, -x and reporting serve CI; the fixture `envforge_verify(uri, **options)` is for tests of one's own.

pytest loads this module in every run once envforge is installed (envforge's own test suite too): it defines
options and a fixture and imports nothing heavy; without --envforge/--envforge-registry its hook returns at once.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

GROUP = "envforge"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup(GROUP, "envforge: verify logged MLflow models in rebuilt environments")
    group.addoption("--envforge", action="append", default=[], metavar="URI",
                    help="verify this model (a local directory, runs:/..., models:/NAME/VERSION, models:/NAME@ALIAS; "
                         "repeatable): one test per example")
    group.addoption("--envforge-registry", action="append", default=[], metavar="GLOB",
                    help="verify every version of the registered models whose name matches GLOB, e.g. 'fraud*' (repeatable)")
    group.addoption("--envforge-backend", metavar="NAME", help="how to build the environments: uv (default), virtualenv, conda or docker")
    group.addoption("--envforge-tracking-uri", metavar="URI", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI)")
    group.addoption("--envforge-require-expected", action="store_true",
                    help="a model without recorded expectations fails instead of being skipped")
    group.addoption("--envforge-fail-on", metavar="drift,warnings",
                    help="fail a passing model when packages differ from the training environment or its process warned")
    group.addoption("--envforge-rtol", type=float, metavar="X", help="relative tolerance for floats (default: 1e-05)")
    group.addoption("--envforge-atol", type=float, metavar="X", help="absolute tolerance for floats (default: 1e-08)")


def verify_options(config: pytest.Config) -> dict[str, Any]:
    """envforge.verify keywords from the --envforge-* options that were given (the others keep verify's defaults)."""
    given = {"backend": config.getoption("envforge_backend"), "tracking_uri": _tracking_uri(config),
             "rtol": config.getoption("envforge_rtol"), "atol": config.getoption("envforge_atol")}
    options = {k: v for k, v in given.items() if v is not None}
    if config.getoption("envforge_require_expected"):
        options["require_expected"] = True
    if config.getoption("envforge_fail_on"):
        from envforge.report.gate import parse_fail_on

        options["fail_on"] = parse_fail_on(config.getoption("envforge_fail_on"))
    return options


def _tracking_uri(config: pytest.Config) -> str | None:
    return config.getoption("envforge_tracking_uri") or os.environ.get("MLFLOW_TRACKING_URI") or None


@pytest.hookimpl(tryfirst=True)  # before -k and -m deselect: they apply to these items too
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    uris, globs = config.getoption("envforge"), config.getoption("envforge_registry")
    if not uris and not globs:
        return
    from envforge.pytest_plugin.nodes import make_items

    models = [(uri, uri) for uri in uris] + _registry_models(config, globs)
    items.extend(make_items(session, models, verify_options(config)))


def _registry_models(config: pytest.Config, globs: list[str]) -> list[tuple[str, str]]:
    if not globs:
        return []
    from envforge.errors import EnvforgeError
    from envforge.registry.select import Selection, select

    tracking = _tracking_uri(config)
    if not tracking:
        raise pytest.UsageError("--envforge-registry needs a tracking server: pass --envforge-tracking-uri URI "
                                "(e.g. http://127.0.0.1:5000) or set MLFLOW_TRACKING_URI.")
    found: list[tuple[str, str]] = []
    for glob in globs:
        try:
            targets = select(Selection(models=glob), tracking)
        except EnvforgeError as exc:
            raise pytest.UsageError(f"--envforge-registry {glob}: {exc.paragraph()}") from None
        if not targets:
            raise pytest.UsageError(f"--envforge-registry {glob}: no registered model version matches {glob!r} at {tracking}.")
        found += [(t.label, t.uri) for t in targets]
    return found


@pytest.fixture
def envforge_verify(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """`envforge_verify(uri, **options)`: verify one model (envforge.verify's keywords; the --envforge-* options
    are the defaults) and fail the test with envforge's report unless it passed; `check=False` returns the
    VerifyResult without judging it."""
    defaults = verify_options(request.config)

    def verify(uri: str, *, check: bool = True, **options: Any) -> Any:
        import envforge
        from envforge.pytest_plugin import explain

        result = envforge.verify(uri, **{**defaults, **options})
        if check:
            texts = [explain.for_example(result, ex.example) for ex in (result.comparison.examples if result.comparison else ())]
            failed = [v.text for v in texts if v.outcome == explain.FAIL] or (
                [] if result.ok else [explain.for_example(result, "(all)").text])
            if failed:
                pytest.fail("\n".join(failed), pytrace=False)
        return result

    return verify
