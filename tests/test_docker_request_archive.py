"""The request archive sent into a container (envforge/backends/docker/container_run.py::_tar_file)."""

import io
import tarfile

from envforge.backends.docker.container_run import _tar_file
from envforge.backends.docker.context import UID


def test_the_request_archive_ends_at_its_end_blocks_with_no_record_padding() -> None:
    """Podman's archive API fails an upload whose sender is still writing after the two end blocks
    (containers/buildah#6573: "passing bulk input to subprocess: write |1: broken pipe"); tarfile pads to
    10 KB after them. The archive must be exactly header + data in 512-byte blocks + two zero blocks."""
    for size in (0, 1, 511, 512, 513, 30_000):
        data = bytes(range(256)) * (size // 256) + bytes(size % 256)
        archive = _tar_file("request.json", data)
        data_blocks = -(-size // 512)
        assert len(archive) == 512 * (1 + data_blocks + 2), size
        assert archive[-1024:] == bytes(1024)
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r") as tar:
            (member,) = tar.getmembers()
            assert (member.name, member.size, member.uid, member.mode) == ("request.json", size, UID, 0o644)
            assert tar.extractfile(member).read() == data
