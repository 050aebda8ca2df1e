"""Progressive JPEG at 1/8 scale without the scans that scale never uses.

At 1/8 scale libjpeg turns each 8x8 block of a full-resolution component into one pixel
from its DC coefficient alone, yet for a progressive file it still entropy-decodes every AC
scan, most of the file. :func:`without_unused_scans` copies the file without the AC scans of
full-resolution components (subsampled chroma keeps them: libjpeg scales it up inside its
IDCT, which reads the first AC coefficients). In their place goes one tiny scan per such
component declaring every AC coefficient zero: libjpeg smooths the DC of blocks whose AC
coefficients were never sent (for nicer progressive previews), and with none left unknown it
does not, so the pixels are exactly those of the whole file at 1/8 scale.

Anything unexpected (a baseline or arithmetic-coded file, 12-bit samples, a truncated scan,
no end marker) returns ``None``: the caller then decodes the file as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["without_unused_scans"]

_EOI = 0xD9
_SOS = 0xDA
_DRI = 0xDD
_PROGRESSIVE_HUFFMAN = 0xC2
# Other frame types (baseline, lossless, arithmetic, hierarchical): not handled here.
_OTHER_FRAMES = frozenset(range(0xC0, 0xD0)) - {_PROGRESSIVE_HUFFMAN, 0xC4, 0xC8, 0xCC}
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
# Inside entropy-coded data 0xFF is followed by 0x00 (stuffing), a restart marker or a fill
# byte; anything else starts the next segment.
_NEXT_SEGMENT = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
# The zero-AC scans use AC table 0 with one code per end-of-band run length class r = 0..14
# (runs 2**r .. 2**(r+1) - 1): code r, 4 bits, then r bits of the run.
_EOB_TABLE = b"\xff\xc4\x00\x22\x10" + bytes([0, 0, 0, 15] + [0] * 12) + bytes(range(0, 0xF0, 0x10))
_LONGEST_RUN = 0x7FFF


@dataclass(frozen=True)
class _Component:
    ident: int
    blocks: int  # 8x8 blocks in a scan of this component alone
    full_resolution: bool


def without_unused_scans(data: bytes) -> bytes | None:
    """``data`` without what a 1/8-scale decode ignores, or ``None`` when not applicable.

    Only a progressive, Huffman-coded, 8-bit JPEG that is complete (every segment whole, an
    end marker) is rewritten, and only when it has AC scans to leave out.
    """
    if not data.startswith(b"\xff\xd8"):
        return None
    kept = [data[:2]]
    components: dict[int, _Component] = {}
    restart_interval = 0
    dropped: set[int] = set()
    pos, end_of_data = 2, len(data)
    while True:
        while data[pos : pos + 2] == b"\xff\xff":
            pos += 1  # fill bytes before a marker
        if pos + 2 > end_of_data or data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == _EOI:
            break
        if marker in _STANDALONE or marker in _OTHER_FRAMES or pos + 4 > end_of_data:
            return None
        end = pos + 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
        if end > end_of_data:
            return None
        segment = data[pos:end]
        if marker == _PROGRESSIVE_HUFFMAN:
            if components:
                # One frame per file: the decoder and the pixel budget saw the first, so a
                # later one could make the scans rebuilt here for a picture of any size.
                return None
            components = _frame_components(segment)
            if not components:
                return None
        elif marker == _DRI and len(segment) >= 6:
            restart_interval = int.from_bytes(segment[4:6], "big")
        if marker != _SOS:
            kept.append(segment)
            pos = end
            continue
        scan = _scan_components(segment)
        if scan is None or not components or not set(scan[0]) <= components.keys():
            return None
        found = _NEXT_SEGMENT.search(data, end)
        if found is None:
            return None  # the file ends inside this scan
        idents, first_coefficient = scan
        if first_coefficient > 0 and components[idents[0]].full_resolution:
            dropped.add(idents[0])  # AC scans have one component
        else:
            kept.append(data[pos : found.start()])
        pos = found.start()
    if not dropped:
        return None
    kept.append(_EOB_TABLE)
    kept.extend(_zero_ac_scan(components[ident], restart_interval) for ident in sorted(dropped))
    kept.append(b"\xff\xd9")
    return b"".join(kept)


def _frame_components(segment: bytes) -> dict[int, _Component]:
    """The components of a progressive frame header, or ``{}`` if it is not handled."""
    if len(segment) < 10 or segment[4] != 8:
        return {}  # 12-bit samples: leave to the decoder
    height = int.from_bytes(segment[5:7], "big")
    width = int.from_bytes(segment[7:9], "big")
    count = segment[9]
    if height == 0 or width == 0 or count == 0 or len(segment) < 10 + 3 * count:
        return {}
    sampling = [(segment[10 + 3 * i], segment[11 + 3 * i]) for i in range(count)]
    h_max = max(hv >> 4 for _, hv in sampling)
    v_max = max(hv & 0x0F for _, hv in sampling)
    if h_max == 0 or v_max == 0:
        return {}
    components = {}
    for ident, hv in sampling:
        h, v = hv >> 4, hv & 0x0F
        across = -(-width * h // (h_max * 8))
        down = -(-height * v // (v_max * 8))
        components[ident] = _Component(ident, across * down, h == h_max and v == v_max)
    return components


def _scan_components(segment: bytes) -> tuple[list[int], int] | None:
    """The component ids and first coefficient (Ss) of a scan header."""
    if len(segment) < 5:
        return None
    count = segment[4]
    if count == 0 or len(segment) < 8 + 2 * count:
        return None
    return [segment[5 + 2 * i] for i in range(count)], segment[5 + 2 * count]


def _zero_ac_scan(component: _Component, restart_interval: int) -> bytes:
    """A first AC scan (coefficients 1..63) of ``component`` in which every block is zero."""
    header = bytes([0xFF, _SOS, 0, 8, 1, component.ident, 0x00, 1, 63, 0x00])
    if restart_interval == 0 or restart_interval >= component.blocks:
        return header + _end_of_band_run(component.blocks)
    full, rest = divmod(component.blocks, restart_interval)
    interval = _end_of_band_run(restart_interval)
    # Restart markers count RST0..RST7 over and over; eight intervals make a repeating unit.
    unit = b"".join(interval + bytes([0xFF, 0xD0 + k]) for k in range(8))
    intervals = [unit * (full // 8), unit[: (full % 8) * (len(interval) + 2)]]
    body = b"".join(intervals)
    if rest:
        body += _end_of_band_run(rest)
    else:
        body = body[:-2]  # no restart marker after the last interval
    return header + body


def _end_of_band_run(blocks: int) -> bytes:
    """Entropy-coded data declaring ``blocks`` blocks empty, byte-aligned and stuffed."""
    bits = value = 0
    while blocks:
        run = min(blocks, _LONGEST_RUN)
        r = run.bit_length() - 1
        value = (value << (4 + r)) | (r << r) | (run - (1 << r))
        bits += 4 + r
        blocks -= run
    padding = -bits % 8
    value = (value << padding) | ((1 << padding) - 1)  # pad with one bits, as JPEG asks
    return (value.to_bytes((bits + padding) // 8, "big")).replace(b"\xff", b"\xff\x00")
