"""Count the data frames a `websockets` connection receives, and those compressed."""


def count_frames(ws):
    """Count the data frames received, and those with RSV1 set, by wrapping the
    extension's decoder (the first to see each frame)."""
    counts = {"compressed": 0, "total": 0}
    for ext in ws.protocol.extensions:
        decode = ext.decode

        def counting(frame, *args, _decode=decode, **kwargs):
            if frame.opcode.value in (0, 1, 2):
                counts["total"] += 1
                counts["compressed"] += bool(frame.rsv1)
            return _decode(frame, *args, **kwargs)

        ext.decode = counting
    return counts
