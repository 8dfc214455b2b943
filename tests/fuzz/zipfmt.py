"""Just enough of the zip format to rebuild archives and patch header fields in place."""

from __future__ import annotations

import io
import struct
import warnings
import zipfile
from dataclasses import dataclass

LOCAL_SIG = b"PK\x03\x04"
CENTRAL_SIG = b"PK\x01\x02"
EOCD_SIG = b"PK\x05\x06"

# field -> (offset in the local header, offset in the central header, struct format)
FIELDS = {
    "version": (4, 6, "<H"),
    "flags": (6, 8, "<H"),
    "method": (8, 10, "<H"),
    "crc": (14, 16, "<I"),
    "csize": (18, 20, "<I"),
    "usize": (22, 24, "<I"),
    "name_len": (26, 28, "<H"),
    "extra_len": (28, 30, "<H"),
}
CENTRAL_ONLY = {"comment_len": (32, "<H"), "disk": (34, "<H"), "ext_attr": (38, "<I"),
                "offset": (42, "<I")}
EOCD_FIELDS = {"disk": (4, "<H"), "cd_disk": (6, "<H"), "n_disk": (8, "<H"),
               "n_total": (10, "<H"), "cd_size": (12, "<I"), "cd_offset": (16, "<I"),
               "comment_len": (20, "<H")}


@dataclass
class Header:
    """Where one entry's headers and data are."""

    name: bytes
    local: int
    central: int
    data: int
    csize: int


def read_entries(data: bytes) -> list[tuple[zipfile.ZipInfo, bytes]]:
    """Every entry of a valid archive with its uncompressed content."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return [(info, zf.read(info)) for info in zf.infolist()]


def build(entries: list[tuple[str | zipfile.ZipInfo, bytes]],
          compression: int | None = None) -> bytes:
    """A new archive; ``compression`` overrides each entry's own method."""
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are wanted here
        with zipfile.ZipFile(buf, "w") as zf:
            for info, content in entries:
                name = info.filename if isinstance(info, zipfile.ZipInfo) else info
                method = compression if compression is not None else (
                    info.compress_type if isinstance(info, zipfile.ZipInfo) else
                    zipfile.ZIP_STORED)
                new = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
                new.compress_type = method
                zf.writestr(new, content)
    return buf.getvalue()


def headers(data: bytes) -> tuple[list[Header], int]:
    """The entries' header offsets (from the central directory) and the EOCD offset."""
    eocd = data.rfind(EOCD_SIG)
    if eocd < 0:
        raise ValueError("no end of central directory")
    n = struct.unpack_from("<H", data, eocd + 10)[0]
    pos = struct.unpack_from("<I", data, eocd + 16)[0]
    out = []
    for _ in range(n):
        if data[pos:pos + 4] != CENTRAL_SIG:
            break
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, pos + 28)
        local = struct.unpack_from("<I", data, pos + 42)[0]
        name = data[pos + 46:pos + 46 + name_len]
        lname, lextra = struct.unpack_from("<HH", data, local + 26)
        csize = struct.unpack_from("<I", data, pos + 20)[0]
        out.append(Header(name, local, pos, local + 30 + lname + lextra, csize))
        pos += 46 + name_len + extra_len + comment_len
    return out, eocd


def patch(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    """``data`` with the field at ``offset`` set to ``value`` (masked to the field's size)."""
    size = struct.calcsize(fmt)
    value &= (1 << (8 * size)) - 1
    return data[:offset] + struct.pack(fmt, value) + data[offset + size:]


def set_field(data: bytes, h: Header, field: str, value: int, where: str) -> bytes:
    """Set an entry's header field in the "local", "central" or "both" headers."""
    if field in CENTRAL_ONLY:
        off, fmt = CENTRAL_ONLY[field]
        return patch(data, h.central + off, fmt, value)
    loff, coff, fmt = FIELDS[field]
    if where in ("local", "both"):
        data = patch(data, h.local + loff, fmt, value)
    if where in ("central", "both"):
        data = patch(data, h.central + coff, fmt, value)
    return data


def get_field(data: bytes, h: Header, field: str) -> int:
    """An entry's header field, read from the central header."""
    if field in CENTRAL_ONLY:
        off, fmt = CENTRAL_ONLY[field]
    else:
        _, off, fmt = FIELDS[field]
    return struct.unpack_from(fmt, data, h.central + off)[0]


def set_eocd(data: bytes, eocd: int, field: str, value: int) -> bytes:
    """Set an end-of-central-directory field."""
    off, fmt = EOCD_FIELDS[field]
    return patch(data, eocd + off, fmt, value)


def build_raw(entries: list[tuple[bytes, int, int, bytes, int]]) -> bytes:
    """An archive from already compressed entries: (name, method, crc, data, size)."""
    out, central = bytearray(), bytearray()
    for name, method, crc, data, size in entries:
        offset = len(out)
        out += struct.pack("<4sHHHHHIIIHH", LOCAL_SIG, 20, 0, method, 0, 0x5821, crc,
                           len(data), size, len(name), 0) + name + data
        central += struct.pack("<4sHHHHHHIIIHHHHHII", CENTRAL_SIG, 20, 20, 0, method, 0,
                               0x5821, crc, len(data), size, len(name), 0, 0, 0, 0, 0,
                               offset) + name
    n = len(entries)
    cd_offset = len(out)
    out += central
    out += struct.pack("<4sHHHHIIH", EOCD_SIG, 0, 0, n, n, len(central), cd_offset, 0)
    return bytes(out)
