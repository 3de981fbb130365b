import gzip
import struct

import numpy as np
import pytest

from nabla.data.datasets.idx import CorruptFileError, read_idx, write_idx


def _handmade(shape, values, code=0x08, fmt="B"):
    # the format by hand (not through write_idx): 00 00 type ndim, big-endian u32 dims, big-endian data
    head = bytes([0, 0, code, len(shape)]) + struct.pack(">" + "I" * len(shape), *shape)
    return head + struct.pack(">" + fmt * len(values), *values)


def test_reads_a_generated_file(tmp_path):
    p = tmp_path / "imgs-idx3-ubyte"
    p.write_bytes(_handmade((2, 2, 3), list(range(12))))
    a = read_idx(p)
    assert a.dtype == np.uint8 and a.shape == (2, 2, 3)
    np.testing.assert_array_equal(a, np.arange(12).reshape(2, 2, 3))
    a[0, 0, 0] = 7  # writable


def test_reads_gzip_and_big_endian_types(tmp_path):
    p = tmp_path / "x.gz"
    p.write_bytes(gzip.compress(_handmade((3,), [1, -2, 300], code=0x0B, fmt="h")))
    a = read_idx(p)
    assert a.dtype == np.int16 and a.tolist() == [1, -2, 300]


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("name", ["a.idx", "a.idx.gz"])
def test_write_read_roundtrip(tmp_path, dtype, name):
    x = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    write_idx(tmp_path / name, x)
    y = read_idx(tmp_path / name)
    assert y.dtype == np.dtype(dtype) and y.shape == x.shape
    np.testing.assert_array_equal(y, x)


def test_truncated_data(tmp_path):
    p = tmp_path / "t.idx"
    p.write_bytes(_handmade((4, 5), list(range(20)))[:-3])
    with pytest.raises(CorruptFileError, match=r"t\.idx is truncated.*\(4, 5\).*20 data bytes.*17"):
        read_idx(p)


def test_truncated_gzip(tmp_path):
    p = tmp_path / "t.gz"
    write_idx(p, np.arange(1000, dtype=np.uint8).reshape(10, 100) * 3)
    p.write_bytes(p.read_bytes()[:30])
    with pytest.raises(CorruptFileError, match=r"t\.gz is a corrupt or truncated gzip file"):
        read_idx(p)


def test_bad_header(tmp_path):
    p = tmp_path / "bad"
    p.write_bytes(b"hello world")
    with pytest.raises(CorruptFileError, match="not an IDX file"):
        read_idx(p)
    p.write_bytes(bytes([0, 0, 0x42, 1, 0, 0, 0, 1, 5]))
    with pytest.raises(CorruptFileError, match="unknown IDX element type 0x42"):
        read_idx(p)
    p.write_bytes(bytes([0, 0, 8, 3, 0, 0]))
    with pytest.raises(CorruptFileError, match="truncated inside its header"):
        read_idx(p)
    p.write_bytes(_handmade((2,), [1, 2]) + b"\x00")
    with pytest.raises(CorruptFileError, match="longer than its header says"):
        read_idx(p)
    p.write_bytes(b"")
    with pytest.raises(CorruptFileError, match="empty file"):
        read_idx(p)


def test_write_errors(tmp_path):
    with pytest.raises(TypeError, match="no IDX code"):
        write_idx(tmp_path / "x", np.zeros(3, np.uint16))
