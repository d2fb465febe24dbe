"""RunOptions: how the model's process runs (the CLI's --sandbox, --memory, --max-*, --pass-env; the API's keywords).

Read where the model runs: the sandbox of the local backends (execution/executor.py, execution/enter_sandbox.py),
the docker backend's container (backends/docker/: memory, pass_env), and the build's install jail
(building/cached_envs.py: `--sandbox off` turns it off). Its own module, in backends/, because the docker
backend (the lowest of those readers) must name it without importing execution/.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RunOptions:
    # the model's sandbox under the local backends (execution/sandbox.py): auto | on | off, and its limits
    sandbox: str = "auto"
    memory: str = "4g"                  # docker's container limit; the sandbox's per-process memory limit
    max_processes: int = 512
    max_file_size: str = "2g"
    max_open_files: int = 1024
    pass_env: tuple[str, ...] = ()      # --pass-env NAME: variables the model's process may see (else a minimal env)
