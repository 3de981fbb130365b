"""The IDX file format (LeCun's MNIST files): read and write, plain or gzip-compressed.

Layout: two zero bytes, one byte naming the element type, one byte giving the number of dimensions
``ndim``, then ``ndim`` big-endian uint32 sizes, then the elements in C order (big-endian).
"""
from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

# element-type byte -> NumPy dtype (big-endian, as the format stores it)
_DTYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
           0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_CODES = {dt.newbyteorder("="): code for code, dt in _DTYPES.items()}


class CorruptFileError(ValueError):
    """A data file cannot be decoded: truncated, corrupt, or not in the expected format."""


def _read_bytes(path) -> bytes:
    path = os.fspath(path)
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":  # gzip magic: decompress (an .idx file never starts with 1f 8b)
        try:
            return gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as e:
            raise CorruptFileError(f"read_idx: {path} is a corrupt or truncated gzip file ({e}); "
                                   "delete it and fetch it again") from None
    return raw


def read_idx(path) -> np.ndarray:
    """Decode the IDX file at ``path`` (``.gz`` or not) to an array in native byte order.

    Raises CorruptFileError naming the file when the header is wrong or the data is short or long.
    """
    b = _read_bytes(path)
    if len(b) < 4 or b[0] != 0 or b[1] != 0:
        raise CorruptFileError(f"read_idx: {path} is not an IDX file (expected the magic bytes 00 00 <type> "
                               f"<ndim>, got {b[:4].hex(' ') or 'an empty file'})")
    code, ndim = b[2], b[3]
    if code not in _DTYPES:
        raise CorruptFileError(f"read_idx: {path} has an unknown IDX element type 0x{code:02x} "
                               f"(expected one of {', '.join(f'0x{c:02x}' for c in _DTYPES)})")
    header = 4 + 4 * ndim
    if len(b) < header:
        raise CorruptFileError(f"read_idx: {path} is truncated inside its header ({len(b)} bytes, "
                               f"the header of a {ndim}-d IDX file needs {header})")
    shape = tuple(int(s) for s in np.frombuffer(b, ">u4", ndim, 4))
    dtype = _DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(b) - header != expected:
        what = "truncated" if len(b) - header < expected else "longer than its header says"
        raise CorruptFileError(f"read_idx: {path} is {what}: the header gives shape {shape} of {dtype.name} "
                               f"({expected} data bytes) but the file holds {len(b) - header}")
    # a writable array in native byte order (frombuffer over bytes is read-only)
    return np.frombuffer(b, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path, array, compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file (gzip-compressed when ``compress`` or when the name ends in .gz)."""
    arr = np.asarray(array)
    dt = arr.dtype.newbyteorder("=")
    if dt not in _CODES:
        raise TypeError(f"write_idx: dtype {arr.dtype} has no IDX code (expected uint8, int8, int16, int32, "
                        "float32 or float64)")
    if arr.ndim > 255:
        raise ValueError(f"write_idx: an IDX file holds at most 255 dimensions, got {arr.ndim}")
    header = bytes([0, 0, _CODES[dt], arr.ndim]) + np.asarray(arr.shape, ">u4").tobytes()
    payload = header + np.ascontiguousarray(arr, dt.newbyteorder(">")).tobytes()
    path = os.fspath(path)
    if compress is None:
        compress = path.endswith(".gz")
    with open(path, "wb") as f:
        f.write(gzip.compress(payload, mtime=0) if compress else payload)
