"""The env cache's builds: get an env by its key (build it once, under a lock, reuse it while healthy) and prune old ones.
Above backends/ and execution/ (it drives them), below pipeline.py."""
