"""Reading TensorBoard event files back for the tests, with tensorboardX's protobufs (tensorboardX ships no
reader): each record is framed as TFRecord does, [length u64][masked crc32c of length u32][data][masked crc32c
of data u32], the data one ``Event``."""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np


def _masked_crc(data: bytes) -> int:
    from tensorboardX.crc32c import crc32c
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def records(path):
    """The events of one file, the framing's checksums checked."""
    from tensorboardX.proto import event_pb2
    raw = Path(path).read_bytes()
    at, events = 0, []
    while at < len(raw):
        header = raw[at:at + 8]
        (length,) = struct.unpack("<Q", header)
        (header_crc,) = struct.unpack("<I", raw[at + 8:at + 12])
        assert header_crc == _masked_crc(header), f"{path}: bad length checksum at byte {at}"
        data = raw[at + 12:at + 12 + length]
        (data_crc,) = struct.unpack("<I", raw[at + 12 + length:at + 16 + length])
        assert data_crc == _masked_crc(data), f"{path}: bad data checksum at byte {at}"
        event = event_pb2.Event()
        event.ParseFromString(data)
        events.append(event)
        at += 16 + length
    return events


def read_events(folder) -> dict:
    """tag -> [(step, value)] over the event files directly in ``folder``: a float for a scalar, the
    HistogramProto for a histogram, the Image proto for an image, the text for a text summary, the PluginData
    for a summary of metadata alone."""
    out: dict = {}
    for path in sorted(Path(folder).glob("events.out.tfevents.*")):
        for event in records(path):
            if not event.HasField("summary"):
                continue
            for v in event.summary.value:
                kind = v.WhichOneof("value")
                if kind is None:  # a summary of metadata alone (the hparams plugin's)
                    out.setdefault(v.tag, []).append((event.step, v.metadata.plugin_data))
                    continue
                value = {"simple_value": lambda: v.simple_value, "histo": lambda: v.histo,
                         "image": lambda: v.image,
                         "tensor": lambda: v.tensor.string_val[0].decode() if v.tensor.string_val
                         else np.asarray(v.tensor.float_val)}[kind]()
                out.setdefault(v.tag, []).append((event.step, value))
    return out
