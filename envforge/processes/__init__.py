"""Child processes: running them with time limits and their output held within a budget (bounds/child_output.py),
killing their trees, the cores they may use."""
