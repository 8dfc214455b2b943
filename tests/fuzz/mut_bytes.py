"""Byte-level mutants (seeded random loop): bit flips, range overwrites, interesting integers,
insertions, deletions and truncation, applied to the whole file or, for zip files, to one
entry's content before the archive is rebuilt (so the CRC still matches and the mutant reaches
the HDF5, JSON or .npy parser)."""

from __future__ import annotations

import random
import struct
from collections.abc import Iterator

from . import zipfmt
from .case import Case, file_case
from .seeds import Seed

INTERESTING = [0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF,
               0x80000000, 0xFFFFFFFF, 1 << 32, (1 << 63) - 1, 1 << 63, (1 << 64) - 1]


def _position(data: bytes, rng: random.Random) -> int:
    """Mostly near the start (superblocks, headers), sometimes near the end (zip directory)."""
    n = len(data)
    r = rng.random()
    if r < 0.4:
        return rng.randrange(min(n, 4096))
    if r < 0.55:
        return max(0, n - 1 - rng.randrange(min(n, 1024)))
    return rng.randrange(n)


def mutate(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """One random byte-level edit of ``data`` and its description."""
    if not data:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64))), "random bytes"
    buf = bytearray(data)
    op = rng.choice(["flip", "flip", "flip", "overwrite", "integer", "integer", "truncate",
                     "insert", "delete", "copy"])
    if op == "flip":
        spots = []
        for _ in range(rng.choice([1, 1, 2, 4, 8, 32])):
            pos, bit = _position(data, rng), rng.randrange(8)
            buf[pos] ^= 1 << bit
            spots.append(f"{pos:#x}.{bit}")
        return bytes(buf), "bit flips at " + ", ".join(spots[:8])
    if op == "overwrite":
        pos, n = _position(data, rng), rng.choice([1, 2, 4, 8, 16, 64, 512, 4096])
        fill = rng.choice(["zero", "ff", "random"])
        new = {"zero": b"\0" * n, "ff": b"\xff" * n,
               "random": bytes(rng.randrange(256) for _ in range(n))}[fill]
        buf[pos:pos + n] = new[:len(buf[pos:pos + n])]
        return bytes(buf), f"{n} bytes at {pos:#x} overwritten ({fill})"
    if op == "integer":
        value = rng.choice(INTERESTING)
        fmt = rng.choice(["<H", "<I", "<Q", ">I", "<i", "<q"])
        size = struct.calcsize(fmt)
        pos = _position(data, rng) & ~(rng.choice([1, 2, 4, 8]) - 1)
        if pos + size > len(buf):
            pos = max(0, len(buf) - size)
        value &= (1 << (8 * size)) - 1
        if fmt[1].islower():
            value -= (1 << (8 * size)) if value >= 1 << (8 * size - 1) else 0
        buf[pos:pos + size] = struct.pack(fmt, value)[:len(buf) - pos]
        return bytes(buf), f"{fmt} {value:#x} written at {pos:#x}"
    if op == "truncate":
        n = rng.choice([rng.randrange(len(data)), rng.randrange(min(len(data), 512)),
                        max(0, len(data) - 1 - rng.randrange(min(len(data), 256)))])
        return data[:n], f"truncated to {n} of {len(data)} bytes"
    if op == "insert":
        pos, n = _position(data, rng), rng.choice([1, 4, 64, 1000])
        return data[:pos] + bytes(rng.randrange(256) for _ in range(n)) + data[pos:], \
            f"{n} random bytes inserted at {pos:#x}"
    if op == "delete":
        pos, n = _position(data, rng), rng.choice([1, 4, 64, 1000])
        return data[:pos] + data[pos + n:], f"{n} bytes deleted at {pos:#x}"
    n = rng.choice([8, 64, 512])
    src, dst = rng.randrange(len(data)), _position(data, rng)
    buf[dst:dst + n] = data[src:src + n][:len(buf[dst:dst + n])]
    return bytes(buf), f"{n} bytes copied from {src:#x} to {dst:#x}"


def _pick_entry(names: list[str], rng: random.Random) -> str:
    weighted = [n for n in names if n in ("model.weights.h5", "config.json", "__kerasport__.npy")]
    return rng.choice(weighted * 3 + names)


def cases(seeds: list[Seed], rng: random.Random, ctx) -> Iterator[Case]:
    """Endless byte-level mutants of the seeds."""
    while True:
        seed = rng.choice(seeds)
        data = ctx.read(seed.path)
        if seed.kind != "h5" and rng.random() < 0.6:
            entries = zipfmt.read_entries(data)
            name = _pick_entry([i.filename for i, _ in entries], rng)
            parts = []
            for _ in range(rng.choice([1, 1, 2, 3])):
                content = dict((i.filename, c) for i, c in entries)[name]
                content, what = mutate(content, rng)
                parts.append(what)
                entries = [(i, content if i.filename == name else c) for i, c in entries]
            yield file_case("bytes", seed, zipfmt.build(entries),
                            f"entry {name}: " + "; ".join(parts), rng)
        else:
            parts = []
            for _ in range(rng.choice([1, 1, 2])):
                data, what = mutate(data, rng)
                parts.append(what)
            yield file_case("bytes", seed, data, "; ".join(parts), rng)
