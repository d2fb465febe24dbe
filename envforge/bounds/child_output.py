"""A child's output held within a budget: its head and its tail, and how much was cut between (issue 17).

A model that prints gigabytes (or a tool stuck in a loop) must not make envforge's own process hold
them; what matters in a failure is how the output starts and how it ends, so both are kept.
"""

from __future__ import annotations

import threading
from collections import deque

TOOL_OUTPUT_BYTES = 64 * 1024 * 1024  # an installer's or solver's output (parsed, e.g. a freeze or conda's --json)
HEAD_SHARE = 8  # 1/8 of the budget keeps the head, the rest the tail


class Capped:
    """Bytes appended in chunks, at most `keep` of them held: the first keep/8 and the last ones."""

    def __init__(self, keep: int) -> None:
        self.head_budget = max(keep // HEAD_SHARE, 1)
        self.tail_budget = max(keep - self.head_budget, 1)
        self.head: list[bytes] = []
        self.head_size = 0
        self.tail: deque[bytes] = deque()
        self.tail_size = 0
        self.cut = 0  # bytes dropped between head and tail
        self.lock = threading.Lock()  # a reader thread appends while the caller may already join

    def append(self, chunk: bytes) -> None:
        with self.lock:
            self._append(chunk)

    def _append(self, chunk: bytes) -> None:
        if self.head_size < self.head_budget:
            room = self.head_budget - self.head_size
            self.head.append(chunk[:room])
            self.head_size += len(chunk[:room])
            chunk = chunk[room:]
            if not chunk:
                return
        self.tail.append(chunk)
        self.tail_size += len(chunk)
        while self.tail_size > self.tail_budget:
            first = self.tail.popleft()
            over = self.tail_size - self.tail_budget
            if len(first) > over:  # keep the end of this chunk
                self.tail.appendleft(first[over:])
                self.cut += over
                self.tail_size -= over
            else:
                self.cut += len(first)
                self.tail_size -= len(first)

    def join(self) -> bytes:
        with self.lock:
            head, tail, cut = list(self.head), list(self.tail), self.cut
        if not cut:
            return b"".join([*head, *tail])
        note = f"\n[... envforge cut {cut:,} bytes of output here: it keeps the first and last of it ...]\n".encode()
        return b"".join([*head, note, *tail])
