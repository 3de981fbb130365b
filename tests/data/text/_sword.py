"""Write a tiny SWORD zText module (the Debian packages' format) for tests that need no package."""
import os
import struct
import zlib


def write_ztext(moddir, entries_ot, entries_nt=(), per_block=3):
    """Write ``entries`` (raw OSIS strings, '' for empty slots) as ot/nt .bzs/.bzv/.bzz files."""
    os.makedirs(moddir, exist_ok=True)
    for t, entries in (("ot", entries_ot), ("nt", entries_nt)):
        bzs, bzv, bzz = bytearray(), bytearray(), bytearray()
        blocks = [entries[i:i + per_block] for i in range(0, len(entries), per_block)] or [[]]
        for b, block in enumerate(blocks):
            raw, offs = b"", []
            for e in block:
                data = e.encode("utf-8")
                offs.append((len(raw), len(data)))
                raw += data
            z = zlib.compress(raw)
            bzs += struct.pack("<III", len(bzz), len(z), len(raw))
            bzz += z
            for off, size in offs:
                bzv += struct.pack("<IIH", b, off, size)
        for ext, data in (("bzs", bzs), ("bzv", bzv), ("bzz", bzz)):
            with open(os.path.join(moddir, f"{t}.{ext}"), "wb") as f:
                f.write(bytes(data))
