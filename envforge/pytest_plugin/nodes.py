"""The test items `pytest --envforge URI` adds: one per model version and example, under a node per model
(node ids `envforge::<model>::<example>`, so that JUnit's classname is `envforge.<model>`).

Collecting resolves each model (download, cached) and reads which examples it will run, so that the items
exist before anything is built; the first item of a model runs the whole verification (envforge.verify, once
per model) and every item of that model reads its own example's comparison from that one result. Imported
only when --envforge or --envforge-registry is given."""

from __future__ import annotations

from typing import Any

import pytest

from envforge.pytest_plugin import explain

ROOT_NAME = "envforge"
RESOLVE = "resolve"  # the item of a model that could not be resolved


class EnvforgeFailure(Exception):
    """An envforge verdict as a test failure: its text is the whole report (no traceback)."""


class EnvforgeRoot(pytest.Collector):
    """The parent of every model node (its name starts the node ids)."""

    def collect(self) -> list[Any]:
        return []


class ModelNode(pytest.Collector):
    """One model version: holds its verification, run once by its first item."""

    def __init__(self, *, uri: str, options: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.uri, self.options = uri, options
        self._result: Any = None

    def collect(self) -> list[Any]:
        from envforge.errors import EnvforgeError

        try:
            names = example_names(self.uri, self.options)
        except EnvforgeError as exc:
            return [ExampleItem.from_parent(self, name=RESOLVE, example=RESOLVE, error=exc.paragraph())]
        return [ExampleItem.from_parent(self, name=name, example=name) for name in names]

    def result(self) -> Any:
        if self._result is None:
            import envforge

            self._result = envforge.verify(self.uri, **self.options)
        return self._result


class ExampleItem(pytest.Item):
    def __init__(self, *, example: str, error: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.example, self.error = example, error

    def runtest(self) -> None:
        if self.error is not None:
            raise EnvforgeFailure(f"envforge: {self.parent.uri}: the model could not be resolved.\n  {self.error}")
        result = self.parent.result()
        self.user_properties.extend(explain.properties(result))
        verdict = explain.for_example(result, self.example)
        if verdict.outcome == explain.SKIP:
            pytest.skip(verdict.text)
        if verdict.outcome == explain.FAIL:
            raise EnvforgeFailure(verdict.text)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, EnvforgeFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, f"envforge {self.parent.name}::{self.example}"


def example_names(uri: str, options: dict[str, Any]) -> list[str]:
    """The names of the examples a verification of `uri` runs (modeldir/input_policy.one_source), without building anything."""
    from envforge.building.option_parts import split_options
    from envforge.commands.verify import VerifyOptions
    from envforge.modeldir.input_policy import one_source
    from envforge.pipeline import find_expectations, load_model

    parts, own = split_options(options, VerifyOptions)
    opts = VerifyOptions(build=parts.build, run=parts.run, download=parts.download, **own)
    loaded = load_model(uri, backend=opts.backend, tracking_uri=opts.tracking_uri, refresh=opts.refresh,
                        lock=opts.lock, stored_lock=opts.stored_lock, build=opts.build, download=opts.download)
    expected = find_expectations(loaded.model.path, opts.expected, opts.tracking_uri)
    runs = one_source(loaded.model.path, loaded.mlmodel, expected, opts.inputs, opts.synthesize)
    names = [str(run.get("name") or f"example-{i}") for i, run in enumerate(runs, 1)]
    return names or ["predictions"]


def make_items(session: pytest.Session, models: list[tuple[str, str]], options: dict[str, Any]) -> list[pytest.Item]:
    """The items of each (label, uri) model, in order."""
    root = EnvforgeRoot.from_parent(session, name=ROOT_NAME, nodeid=ROOT_NAME)  # not "::envforge" under the session
    items: list[pytest.Item] = []
    for label, uri in models:
        node = ModelNode.from_parent(root, name=label, uri=uri, options=options)
        items += node.collect()
    return items
