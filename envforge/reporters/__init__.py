"""Every report of `envforge verify` and `envforge verify-registry` as a subscriber to one stream of events
(stream.py): the console, --json, --junit, --html, --log-to (an MLflow run) and --tag-results, one module each;
catalog.py lists them (and loads the `envforge.reporters` entry points)."""
