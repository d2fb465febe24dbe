"""`envforge dockerfile URI -o DIR`: the whole model image's build context, to read or build elsewhere.

No engine is needed: the Dockerfile is the env image's and the model image's in one file. Index
settings stay build arguments: the ones that carry credentials are named, never written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from envforge.backends.base import BuildOptions
from envforge.backends.docker import uv_version
from envforge.backends.docker.context import combined_context, default_base_image, env_context, write_context
from envforge.backends.index import index_overrides
from envforge.errors import UsageError
from envforge.modeldir.resolve import resolve
from envforge.spec import load_spec
from envforge.spec.mlmodel import read_mlmodel


@dataclass(frozen=True)
class Exported:
    directory: Path
    base_image: str
    build_args: dict[str, str]  # redacted values
    secret_args: tuple[str, ...]

    def build_command(self) -> str:
        args = "".join(f" --build-arg {name}" + ("" if name in self.secret_args else f"={value!r}")
                       for name, value in self.build_args.items())
        return f"docker build --network host{args} -t NAME {self.directory}"


def export_context(uri: str, out: Path, options: BuildOptions, *, tracking_uri: str | None = None) -> Exported:
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"{out} is not empty.", "Pass -o with a new or empty directory.")
    model = resolve(uri, tracking_uri=tracking_uri)
    mlmodel = read_mlmodel(model.path)
    spec = load_spec(model.path, "docker", mlmodel, index_overrides=index_overrides(options, "docker"))
    base = options.base_image or default_base_image(spec.python)
    ctx = combined_context(env_context(spec, model.path, options, base, uv_version()), model.path)
    write_context(ctx, out)
    return Exported(out, base, ctx.redacted_args(), ctx.secret_args)
