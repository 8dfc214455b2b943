"""Zip-level mutants of .keras files and bundles: header fields (method, flags with the
encryption bit, version, sizes, CRC, offsets), non-UTF-8, duplicate and unsafe entry names,
rewritten, deleted, spliced and extra entries, corrupt deflate streams, lzma and bzip2 entries,
zip bombs under the ratio limit, and many-entry archives."""

from __future__ import annotations

import random
import zipfile
import zlib
from collections.abc import Iterator

from . import bombs, zipfmt
from .case import Case, file_case
from .seeds import Seed

METHODS = [1, 6, 8, 9, 12, 14, 19, 93, 95, 97, 98, 99, 0xFFFF]
FLAG_BITS = [0x1, 0x8, 0x40, 0x800, 0x2000, 0x1 | 0x40]
VERSIONS = [45, 46, 51, 62, 63, 0xFF, 0xFFFF]
UNSAFE_NAMES = ["../{n}", "/tmp/{n}", "a/../../{n}", "C:\\{n}", "..\\{n}", "{n}/", "",
                " {n}", "./{n}", "{n}\\", "dir/{n}", "{n}" + "x" * 300]


def _header_edit(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    hs, eocd = zipfmt.headers(data)
    h = rng.choice(hs)
    name = h.name.decode("utf-8", "replace")
    field = rng.choice(["method", "method", "flags", "flags", "version", "crc", "csize",
                        "usize", "name_len", "extra_len", "offset", "comment_len", "disk",
                        "eocd"])
    where = rng.choice(["local", "central", "both", "both"])
    if field == "eocd":
        f = rng.choice(list(zipfmt.EOCD_FIELDS))
        value = rng.choice([0, 1, len(hs) + 1, 0xFFFF, 0xFFFFFFFF, rng.randrange(1 << 16),
                            len(data), eocd - 1])
        return zipfmt.set_eocd(data, eocd, f, value), f"EOCD {f} = {value:#x}"
    old = zipfmt.get_field(data, h, field)
    if field == "method":
        value = rng.choice(METHODS)
    elif field == "flags":
        value = old ^ rng.choice(FLAG_BITS)
    elif field == "version":
        value = rng.choice(VERSIONS)
    elif field == "crc":
        value = rng.randrange(1 << 32)
    elif field in ("csize", "usize"):
        value = rng.choice([0, 1, max(0, old - 1), old + 1, old * 2, 0xFFFFFFFF, 0x7FFFFFFF,
                            0xFFFFFFFE, rng.randrange(1 << 32)])
    elif field == "offset":
        value = rng.choice([0, 1, h.local + 1, len(data), 0xFFFFFFFF,
                            rng.randrange(len(data))])
    else:
        value = rng.choice([0, 1, 7, 0xFF, 0xFFFF, old + 1, max(0, old - 1)])
    return zipfmt.set_field(data, h, field, value, where), \
        f"{where} header of {name!r}: {field} {old:#x} -> {value:#x}"


def _bad_name(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """Non-UTF-8 bytes in an entry's name, flagged UTF-8 (bit 11) or not."""
    hs, _ = zipfmt.headers(data)
    h = rng.choice(hs)
    pos = rng.randrange(len(h.name)) if h.name else 0
    bad = rng.choice([b"\xff", b"\xc3", b"\x80", b"\xed"])
    for base, flag_off in ((h.local + 30, 6), (h.central + 46, 8)):
        data = data[:base + pos] + bad + data[base + pos + 1:]
        if rng.random() < 0.8:
            flags = int.from_bytes(data[h.local + 6:h.local + 8], "little") if flag_off == 6 \
                else zipfmt.get_field(data, h, "flags")
            off = (h.local if flag_off == 6 else h.central) + flag_off
            data = zipfmt.patch(data, off, "<H", flags | 0x800)
    return data, f"byte {pos} of name {h.name!r} -> {bad!r} (UTF-8 flag set or not)"


def _entries_edit(data: bytes, seeds: list[Seed], seed: Seed, rng: random.Random,
                  ctx) -> tuple[bytes, str]:
    entries = zipfmt.read_entries(data)
    names = [i.filename for i, _ in entries]
    op = rng.choice(["duplicate", "unsafe", "rewrite", "delete", "splice", "extra", "many",
                     "nested", "compress", "compress", "deflate-corrupt", "garbage"])
    pick = rng.choice(names)
    content = dict((i.filename, c) for i, c in entries)[pick]
    if op == "duplicate":
        other = rng.choice([content, b"", rng.randbytes(64), b"{}", b"null"])
        at = rng.randrange(len(entries) + 1)
        new = entries[:at] + [(pick, other)] + entries[at:]
        return zipfmt.build(new), f"duplicate entry {pick!r} ({len(other)} bytes) at {at}"
    if op == "unsafe":
        name = rng.choice(UNSAFE_NAMES).format(n=pick)
        if rng.random() < 0.5:
            new = [(name if i.filename == pick else i, c) for i, c in entries]
            return zipfmt.build(new), f"entry {pick!r} renamed {name!r}"
        return zipfmt.build(entries + [(name, content)]), f"extra entry {name!r}"
    if op == "rewrite":
        how = rng.choice(["random", "empty", "other", "truncated", "doubled"])
        other = {"random": rng.randbytes(rng.choice([1, 100, 5000])), "empty": b"",
                 "other": dict((i.filename, c) for i, c in entries)[rng.choice(names)],
                 "truncated": content[:rng.randrange(len(content) + 1)],
                 "doubled": content + content}[how]
        new = [(i, other if i.filename == pick else c) for i, c in entries]
        return zipfmt.build(new), f"entry {pick!r} rewritten ({how}, {len(other)} bytes)"
    if op == "delete":
        return zipfmt.build([(i, c) for i, c in entries if i.filename != pick]), \
            f"entry {pick!r} deleted"
    if op == "splice":  # the same entry from another model: config and weights disagree
        donors = [s for s in seeds if s.kind == seed.kind and s is not seed]
        donor = rng.choice(donors)
        theirs = dict((i.filename, c) for i, c in zipfmt.read_entries(ctx.read(donor.path)))
        if pick not in theirs:
            return zipfmt.build(entries), "unchanged (no donor entry)"
        new = [(i, theirs[pick] if i.filename == pick else c) for i, c in entries]
        return zipfmt.build(new), f"entry {pick!r} taken from {donor.name}"
    if op == "extra":
        name = rng.choice(["assets/x", "model.weights.npz", "variables.h5", "c99.npy",
                           "ref_in9.npy", "s0.npy", "metadata.json"])
        return zipfmt.build(entries + [(name, rng.randbytes(32))]), f"extra entry {name!r}"
    if op == "many":
        n = rng.choice([1000, 20000, 65535])
        extra = [(f"pad/{k}", b"") for k in range(n)]
        return zipfmt.build(entries + extra), f"{n} extra empty entries"
    if op == "nested":
        inner = zipfmt.build(entries)
        new = [(i, inner if i.filename == pick else c) for i, c in entries]
        return zipfmt.build(new), f"entry {pick!r} replaced by the whole archive"
    if op == "compress":
        method = rng.choice([zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
        new = zipfmt.build(entries, compression=method)
        if rng.random() < 0.5:
            return new, f"all entries compressed with method {method}"
        return _corrupt_stream(new, rng, f"method {method}")
    if op == "deflate-corrupt":
        return _corrupt_stream(zipfmt.build(entries, compression=zipfile.ZIP_DEFLATED), rng,
                               "method 8")
    junk = rng.randbytes(rng.choice([1, 22, 1000]))
    if rng.random() < 0.5:
        return data + junk, f"{len(junk)} bytes appended"
    return junk + data, f"{len(junk)} bytes prepended"


def _corrupt_stream(data: bytes, rng: random.Random, what: str) -> tuple[bytes, str]:
    hs, _ = zipfmt.headers(data)
    h = rng.choice([h for h in hs if h.csize] or hs)
    buf = bytearray(data)
    spots = []
    for _ in range(rng.choice([1, 2, 8])):
        pos = h.data + rng.randrange(max(1, min(h.csize, 64) if rng.random() < 0.5
                                         else max(1, h.csize)))
        if pos < len(buf):
            buf[pos] ^= 1 << rng.randrange(8)
            spots.append(pos - h.data)
    return bytes(buf), f"{what}: stream of {h.name!r} corrupted at {spots}"


def _bomb(data: bytes, seed: Seed, rng: random.Random, ctx) -> tuple[bytes, str]:
    entries = zipfmt.read_entries(data)
    names = [i.filename for i, _ in entries]
    targets = [n for n in names if n in ("model.weights.h5", "config.json", "metadata.json",
                                         "__kerasport__.npy") or n.startswith("c")]
    pick = rng.choice(targets or names)
    size = rng.choice(bombs.SIZES)
    raw = []
    for info, content in entries:
        name = info.filename.encode()
        if info.filename == pick:
            prefix = bombs.bomb_prefix(pick, content, size)
            crc, comp, usize = bombs.entry(ctx.cache, prefix, size)
            raw.append((name, zipfile.ZIP_DEFLATED, crc, comp, usize))
        else:
            raw.append((name, zipfile.ZIP_STORED, zlib.crc32(content), content, len(content)))
    out = zipfmt.build_raw(raw)
    return out, f"zip bomb: {pick!r} inflates to {size >> 20} MiB (ratio ~{bombs.RATIO})"


def cases(seeds: list[Seed], rng: random.Random, ctx) -> Iterator[Case]:
    """Endless zip-level mutants of the .keras and bundle seeds."""
    zips = [s for s in seeds if s.kind in ("keras", "bundle")]
    while True:
        seed = rng.choice(zips)
        data = ctx.read(seed.path)
        r = rng.random()
        if r < 0.35:
            data, what = _header_edit(data, rng)
        elif r < 0.45:
            data, what = _bad_name(data, rng)
        elif r < 0.97:
            data, what = _entries_edit(data, seeds, seed, rng, ctx)
        else:
            data, what = _bomb(data, seed, rng, ctx)
        yield file_case("zip", seed, data, what, rng)
