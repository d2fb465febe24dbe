"""Child processes: running them with limits and capped output, killing their trees, the cores they may use."""
