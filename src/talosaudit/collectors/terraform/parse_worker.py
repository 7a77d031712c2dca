"""A parser helper process: ``python -m talosaudit.collectors.terraform.parse_worker``.

It imports the parser and nothing else of talosaudit (about 37 MB, against 60 MB or more
for a fork of the scanning process, which carries everything the command imported), then
answers batches on its standard streams until its input ends. Each message, both ways, is
an 8-byte big-endian length and a pickle: a list of ``(kind, bytes)`` in, the list of
``ParseResult`` out. Only the loader that started the process writes to it.
"""

from __future__ import annotations

import gc
import pickle
import sys
from typing import IO


def read_message(stream: IO[bytes]) -> bytes | None:
    """One framed message, or None at the end of the stream."""
    header = stream.read(8)
    if len(header) < 8:
        return None
    size = int.from_bytes(header, "big")
    data = stream.read(size)
    if len(data) < size:
        return None
    return data


def write_message(stream: IO[bytes], data: bytes) -> None:
    stream.write(len(data).to_bytes(8, "big"))
    stream.write(data)
    stream.flush()


def main() -> None:
    from talosaudit.collectors.terraform import hcl_fast
    from talosaudit.collectors.terraform.parse import parse_source

    hcl_fast.warm()
    # a short-lived process that builds tuples and makes no cycles: no cyclic collector
    gc.disable()
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        message = read_message(stdin)
        if message is None:
            return
        batch: list[tuple[str, bytes]] = pickle.loads(message)  # from our own parent process
        results = [parse_source(kind, data) for kind, data in batch]
        write_message(stdout, pickle.dumps(results, protocol=pickle.HIGHEST_PROTOCOL))


if __name__ == "__main__":
    main()
