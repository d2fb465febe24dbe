"""--tag-results: envforge.status, verified_at, env_key and version tags on each model version
(registry/tags.py), once the run is complete (an interrupted run tags nothing); a refused tag is a warning."""

from __future__ import annotations

from envforge.reporters.stream import Context, Reporter, RunEnded


def reporter(context: Context) -> Reporter | None:
    return RegistryTags(context) if context.tag_results else None


class RegistryTags(Reporter):
    def __init__(self, context: Context) -> None:
        self.context = context

    def ended(self, event: RunEnded) -> None:
        from rich.markup import escape

        from envforge.registry import tags

        if event.run is None or event.run.interrupted:
            return
        for warning in tags.write_tags(event.run, self.context.tracking_uri):
            self.context.err.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
