"""`envforge verify-registry`: verify many model versions of a registry in one run.

select (which versions) -> plan (group by EnvSpec.key) -> executors (local threads or Dask; one
task per environment group) -> work (build once, one runner process per group, judge each model)
-> report / html / tags. `envforge status` reads the tags back.
"""

from __future__ import annotations
