"""Session-wide test hooks for both test directories (tests/, integration/)."""

from tests.support.file_order import order


def pytest_collection_modifyitems(config, items) -> None:
    items[:] = order(items)  # the longest files first, so that no worker waits at the end for one long file
