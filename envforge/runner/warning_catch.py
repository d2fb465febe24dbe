"""Collect the warnings a model's process raises while loading and predicting (run_model.py loads this file).

Python warnings (sklearn's InconsistentVersionWarning, a DeprecationWarning the filters let through) and
WARNING-or-worse log records of the root and `mlflow` loggers (a flavor's "requirements mismatch" warning),
deduplicated, at most LIMIT of them, each cut to WIDTH characters. The filters are left as the process has
them (what a user would see); the warnings are still printed to stderr as before. Standard library only.
"""

import logging
import warnings

LIMIT = 20
WIDTH = 300


class Catcher(logging.Handler):
    """start() before loading, stop() after the last prediction; `lines` holds what was raised meanwhile."""

    def __init__(self):
        logging.Handler.__init__(self, logging.WARNING)
        self.lines = []
        self.dropped = 0
        self._shown = None
        self._loggers = []

    def start(self):
        self._shown = warnings.showwarning
        catcher = self

        def show(message, category, filename, lineno, file=None, line=None):
            catcher.add("%s: %s" % (getattr(category, "__name__", "Warning"), message))
            return catcher._shown(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        for name in ("", "mlflow"):
            logger = logging.getLogger(name)
            logger.addHandler(self)
            self._loggers.append(logger)
        return self

    def stop(self):
        if self._shown is not None:
            warnings.showwarning = self._shown
            self._shown = None
        for logger in self._loggers:
            logger.removeHandler(self)
        self._loggers = []
        return self.lines + (["(%d more warning(s) not shown)" % self.dropped] if self.dropped else [])

    def emit(self, record):
        try:
            self.add("%s %s: %s" % (record.name, record.levelname, record.getMessage()))
        except Exception:  # noqa: BLE001 - a warning fewer, never a failed run
            pass

    def add(self, text):
        text = " ".join(str(text).split())
        if len(text) > WIDTH:
            text = text[: WIDTH - 1] + "…"
        if text in self.lines:
            return
        if len(self.lines) >= LIMIT:
            self.dropped += 1
            return
        self.lines.append(text)
