"""ICC profiles for colour that a file describes by code points (ITU-T H.273), not a profile.

HEIF, AVIF and video name their colour with numbers (an ``nclx`` box, or the stream's
colour description): primaries, transfer characteristics and matrix. Their decoders apply
only the matrix, so the RGB they return is still in the file's primaries and transfer. Given
as an ICC profile, that colour goes through the one colour step
(:class:`~thumbnailer.render._pixels.ColourConverter`) to sRGB like an embedded profile.

What gets a profile: wide or other gamuts (Display P3, BT.2020, ...) and the transfers that
are not sRGB-like (pure gammas, linear, and HDR's PQ and HLG). Standard-dynamic-range video
transfers (BT.709, BT.601, BT.2020 10/12-bit) are taken as sRGB's curve, as most viewers show
them, so a file labelled BT.709 throughout comes out as it always did.

HDR is tone-mapped by the curve, per channel: BT.2408's reference white (203 cd/m²) is placed
near full white and brighter light is compressed smoothly into what is left.
"""

from __future__ import annotations

import math
import struct
from functools import lru_cache

Chromaticity = tuple[float, float]
Matrix = tuple[tuple[float, ...], ...]

_D65: Chromaticity = (0.3127, 0.3290)
_P3 = ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060))
_SMPTE_C = ((0.630, 0.340), (0.310, 0.595), (0.155, 0.070))

# Colour primaries (H.273 table 2): red, green, blue and white chromaticities.
_PRIMARIES: dict[int, tuple[Chromaticity, Chromaticity, Chromaticity, Chromaticity]] = {
    1: ((0.640, 0.330), (0.300, 0.600), (0.150, 0.060), _D65),  # BT.709, sRGB
    4: ((0.67, 0.33), (0.21, 0.71), (0.14, 0.08), (0.310, 0.316)),  # BT.470 System M
    5: ((0.64, 0.33), (0.29, 0.60), (0.15, 0.06), _D65),  # BT.601 625 lines
    6: (*_SMPTE_C, _D65),  # BT.601 525 lines
    7: (*_SMPTE_C, _D65),  # SMPTE 240M
    9: ((0.708, 0.292), (0.170, 0.797), (0.131, 0.046), _D65),  # BT.2020, BT.2100
    11: (*_P3, (0.314, 0.351)),  # DCI-P3 (SMPTE RP 431-2)
    12: (*_P3, _D65),  # Display P3 (SMPTE EG 432-1)
    22: ((0.630, 0.340), (0.295, 0.605), (0.155, 0.077), _D65),  # EBU Tech 3213-E
}
_BT709, _BT2020 = 1, 9

# Transfer characteristics (H.273 table 3) that are not read as sRGB's curve.
_GAMMA_22, _GAMMA_28, _LINEAR, _PQ, _HLG = 4, 5, 8, 16, 18
_HDR = (_PQ, _HLG)

_REFERENCE_WHITE = 203.0  # cd/m²: HDR's diffuse white (BT.2408)
_HLG_PEAK = 1000.0  # cd/m²: the nominal display of BT.2100's HLG reference OOTF
_KNEE = 0.8  # linear light below this is kept as it is; above it is compressed
_CURVE_POINTS = 4096

_D50 = (0.9642, 1.0, 0.8249)  # the ICC connection space's white
_BRADFORD: Matrix = (
    (0.8951, 0.2664, -0.1614),
    (-0.7502, 1.7135, 0.0367),
    (0.0389, -0.0685, 1.0296),
)


def profile_for(primaries: int | None, transfer: int | None) -> bytes | None:
    """An RGB ICC profile for the colour these H.273 code points describe.

    ``None`` when the colour is sRGB or near enough (BT.709 primaries with an SDR transfer),
    and for unknown or unspecified code points: such pixels are shown as sRGB, as an
    unusable ICC profile is.
    """
    transfer = transfer if transfer in (_GAMMA_22, _GAMMA_28, _LINEAR, *_HDR) else None
    if primaries not in _PRIMARIES:
        # HDR is BT.2020 in practice, whatever a file forgot to say.
        primaries = _BT2020 if transfer in _HDR else _BT709
    if primaries == _BT709 and transfer is None:
        return None
    return _profile(primaries, transfer)


@lru_cache(maxsize=16)
def _profile(primaries: int, transfer: int | None) -> bytes:
    red, green, blue, white = _PRIMARIES[primaries]
    to_xyz = _rgb_to_xyz(red, green, blue, white)
    adapt = _adaptation_to_d50(white)
    columns = _transpose(_multiply(adapt, to_xyz))
    curve = _curve(transfer)
    tags = [
        (b"desc", _text(f"H.273 primaries {primaries}, transfer {transfer or 'as sRGB'}")),
        (b"cprt", _text("No copyright, use freely")),
        (b"wtpt", _xyz(_D50)),
        (b"chad", b"sf32" + bytes(4) + b"".join(_s15(value) for row in adapt for value in row)),
        (b"rXYZ", _xyz(columns[0])),
        (b"gXYZ", _xyz(columns[1])),
        (b"bXYZ", _xyz(columns[2])),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
    ]
    return _assemble(tags)


def _curve(transfer: int | None) -> bytes:
    """The tag that maps a channel's code value to linear light."""
    if transfer is None:  # sRGB's own curve: ICC parametric function type 3
        return _parametric(3, 2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045)
    if transfer == _GAMMA_22:
        return _parametric(0, 2.2)
    if transfer == _GAMMA_28:
        return _parametric(0, 2.8)
    if transfer == _LINEAR:
        return b"curv" + bytes(4) + struct.pack(">I", 0)  # no points: the identity
    to_light = _pq_light if transfer == _PQ else _hlg_light
    points = [
        round(_tone_map(to_light(index / (_CURVE_POINTS - 1))) * 65535)
        for index in range(_CURVE_POINTS)
    ]
    return b"curv" + bytes(4) + struct.pack(f">I{_CURVE_POINTS}H", _CURVE_POINTS, *points)


def _pq_light(signal: float) -> float:
    """PQ (SMPTE ST 2084) signal to display light, 1.0 at the reference white."""
    m1, m2 = 2610 / 16384, 2523 / 4096 * 128
    c1, c2, c3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
    power = math.pow(signal, 1 / m2)
    nits = 10000 * math.pow(max(power - c1, 0.0) / (c2 - c3 * power), 1 / m1)
    return nits / _REFERENCE_WHITE


def _hlg_light(signal: float) -> float:
    """HLG signal to display light, 1.0 at the reference white (signal 0.75).

    The inverse OETF gives scene light; BT.2100's reference OOTF for a 1000 cd/m² display
    raises it to the power 1.2 (applied per channel here, not to luminance).
    """
    a, b, c = 0.17883277, 0.28466892, 0.55991073
    scene = signal * signal / 3 if signal <= 0.5 else (math.exp((signal - c) / a) + b) / 12
    return _HLG_PEAK * math.pow(scene, 1.2) / _REFERENCE_WHITE


def _tone_map(light: float) -> float:
    """Compress light above the knee towards 1.0, Reinhard-like, the slope continuous at it.

    The reference white lands at 0.9 and a 1000 cd/m² highlight at 0.99: highlights keep
    their gradation rather than clipping.
    """
    if light <= _KNEE:
        return light
    room = 1.0 - _KNEE
    excess = (light - _KNEE) / room
    return _KNEE + room * excess / (1.0 + excess)


def _rgb_to_xyz(
    red: Chromaticity, green: Chromaticity, blue: Chromaticity, white: Chromaticity
) -> Matrix:
    """The RGB to XYZ matrix of these primaries, white at Y = 1."""

    def xyz(point: Chromaticity) -> tuple[float, float, float]:
        x, y = point
        return x / y, 1.0, (1 - x - y) / y

    primaries = _transpose((xyz(red), xyz(green), xyz(blue)))
    scale = _apply(_inverse(primaries), xyz(white))
    return tuple(tuple(row[i] * scale[i] for i in range(3)) for row in primaries)


def _adaptation_to_d50(white: Chromaticity) -> Matrix:
    """Bradford chromatic adaptation from ``white`` to the connection space's D50."""
    x, y = white
    source = _apply(_BRADFORD, (x / y, 1.0, (1 - x - y) / y))
    target = _apply(_BRADFORD, _D50)
    gain = tuple(t / s for t, s in zip(target, source, strict=True))
    scaled = tuple(tuple(gain[i] * value for value in _BRADFORD[i]) for i in range(3))
    return _multiply(_inverse(_BRADFORD), scaled)


def _multiply(a: Matrix, b: Matrix) -> Matrix:
    return tuple(
        tuple(sum(a[i][k] * b[k][j] for k in range(3)) for j in range(3)) for i in range(3)
    )


def _apply(m: Matrix, v: tuple[float, ...]) -> tuple[float, float, float]:
    x, y, z = (sum(m[i][k] * v[k] for k in range(3)) for i in range(3))
    return x, y, z


def _transpose(m: Matrix) -> Matrix:
    return tuple(tuple(m[i][j] for i in range(3)) for j in range(3))


def _inverse(m: Matrix) -> Matrix:
    (a, b, c), (d, e, f), (g, h, i) = m
    det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)
    return (
        ((e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det),
        ((f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det),
        ((d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det),
    )


def _s15(value: float) -> bytes:
    """An ICC s15Fixed16Number."""
    return struct.pack(">i", round(value * 65536))


def _xyz(values: tuple[float, ...]) -> bytes:
    return b"XYZ " + bytes(4) + b"".join(_s15(value) for value in values)


def _parametric(function: int, *parameters: float) -> bytes:
    return b"para" + bytes(4) + struct.pack(">HH", function, 0) + b"".join(map(_s15, parameters))


def _text(text: str) -> bytes:
    """A one-language ``mluc`` tag (ICC v4 text)."""
    encoded = text.encode("utf-16-be")
    return (
        b"mluc"
        + bytes(4)
        + struct.pack(">II2s2sII", 1, 12, b"en", b"US", len(encoded), 28)
        + encoded
    )


def _assemble(tags: list[tuple[bytes, bytes]]) -> bytes:
    """Header, tag table and tag data of an ICC v4.3 RGB display profile."""
    table_end = 128 + 4 + 12 * len(tags)
    entries, data, placed = [], b"", {}
    for signature, body in tags:
        if body not in placed:  # the three TRC tags share one curve
            placed[body] = table_end + len(data)
            data += body + bytes(-len(body) % 4)
        entries.append(struct.pack(">4sII", signature, placed[body], len(body)))
    size = table_end + len(data)
    header = struct.pack(
        ">I4sI4s4s4s12s4s4sI4s4s8sI12s4s16s28s",
        size,
        bytes(4),  # preferred CMM: none
        0x04300000,  # version 4.3
        b"mntr",
        b"RGB ",
        b"XYZ ",
        bytes(12),  # creation time left empty: the same profile for the same code points
        b"acsp",
        bytes(4),
        0,
        bytes(4),
        bytes(4),
        bytes(8),
        0,  # perceptual intent
        b"".join(map(_s15, _D50)),
        bytes(4),
        bytes(16),
        bytes(28),
    )
    return header + struct.pack(">I", len(tags)) + b"".join(entries) + data
