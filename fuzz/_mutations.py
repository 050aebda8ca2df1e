"""Byte-level mutations of a seed, and :func:`mutate`, which stacks a few of them.

Every mutation takes the random generator, the buffer and the donors (seeds a splice may take
bytes from), and returns the mutated buffer (the same object or a new one); none depends on
anything but its arguments, so a seeded generator gives the same input on every machine that
has the same seeds. Format-aware mutations (``_format_mutations.py``) have the same shape.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = [
    "BYTE_MUTATIONS",
    "Donors",
    "Mutation",
    "get_int",
    "interesting",
    "mutate",
    "put_int",
]

# Values at the edges of what headers hold: zero, powers of two and their neighbours (buffer
# sizes, bit widths), the limits of signed and unsigned fields, and sides whose square
# overflows 32 bits (46341).
INTERESTING = (
    *(0, 1, 2, 3, 4, 5, 6, 7, 8, 15, 16, 17, 31, 32, 63, 64, 127, 128, 255, 256),
    *(511, 512, 1023, 1024, 4095, 4096, 16383, 16384, 32767, 32768, 46341, 50000),
    *(65535, 65536, 100000, 0x7FFFFF, 0xFFFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE),
    0xFFFFFFFF,
)
_MOST_STACKED = 3  # mutations applied to one input, at most


@dataclass(frozen=True)
class Donors:
    """Seeds a splice may take bytes from."""

    same_format: Sequence[bytes]
    any_format: Sequence[bytes]


Mutation = Callable[[random.Random, bytearray, Donors], bytearray]


def interesting(rng: random.Random, old: int | None = None) -> int:
    """A value worth writing into a field that holds ``old``: near it, or at an edge."""
    if old is not None and rng.random() < 0.35:
        return max(0, old + rng.choice((-1, 1, -2, 2, -8, 8, old, -old // 2, old * 7)))
    return rng.choice(INTERESTING)


def get_int(buf: bytearray, offset: int, width: int, big: bool = True) -> int:
    """The unsigned integer of ``width`` bytes at ``offset`` (shorter at the end, 0 past it)."""
    return int.from_bytes(buf[offset : offset + width], "big" if big else "little")


def put_int(buf: bytearray, offset: int, width: int, value: int, big: bool = True) -> None:
    """Write ``value`` (wrapped to ``width`` bytes) at ``offset``, if the buffer holds it."""
    if offset >= 0 and offset + width <= len(buf):
        value &= (1 << (8 * width)) - 1
        buf[offset : offset + width] = value.to_bytes(width, "big" if big else "little")


def _near_start(rng: random.Random, buf: bytearray) -> int:
    """An offset, more often within the headers at the start than in the pixel data."""
    return rng.randrange(min(len(buf), rng.choice((64, 512, 4096, len(buf)))))


def flip_bits(rng: random.Random, buf: bytearray, donors: Donors) -> bytearray:
    """Flip a few single bits anywhere."""
    for _ in range(rng.randint(1, 8)):
        buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
    return buf


def overwrite_bytes(rng: random.Random, buf: bytearray, donors: Donors) -> bytearray:
    """Overwrite a few bytes with random ones, favouring the headers."""
    for _ in range(rng.randint(1, 20)):
        buf[_near_start(rng, buf)] = rng.randrange(256)
    return buf


def truncate(rng: random.Random, buf: bytearray, donors: Donors) -> bytearray:
    """Cut the input anywhere."""
    return buf[: rng.randrange(1, len(buf))] if len(buf) > 1 else buf


def trim_tail(rng: random.Random, buf: bytearray, donors: Donors) -> bytearray:
    """Cut off the last few KiB: what an interrupted upload leaves."""
    return buf[: max(1, len(buf) - rng.randint(1, 4096))]


def insert_bytes(rng: random.Random, buf: bytearray, donors: Donors) -> bytearray:
    """Insert random bytes or zeros, shifting whatever offsets point past them."""
    at, count = rng.randrange(len(buf) + 1), rng.choice((1, 2, 4, 16, 300))
    buf[at:at] = rng.randbytes(count) if rng.random() < 0.5 else bytes(count)
    return buf


def delete_bytes(rng: random.Random, buf: bytearray, donors: Donors) -> bytearray:
    """Delete a run of bytes (never all of them)."""
    at = rng.randrange(len(buf))
    del buf[at : at + rng.choice((1, 2, 4, 16, 300, 5000))]
    return buf or bytearray(1)


def set_integer(rng: random.Random, buf: bytearray, donors: Donors) -> bytearray:
    """Write an interesting 1, 2 or 4 byte integer, either byte order, favouring headers."""
    at, width, big = _near_start(rng, buf), rng.choice((1, 2, 4)), rng.random() < 0.6
    put_int(buf, at, width, interesting(rng, get_int(buf, at, width, big)), big)
    return buf


def copy_block(rng: random.Random, buf: bytearray, donors: Donors) -> bytearray:
    """Copy a block of the input over another place in it."""
    size = rng.choice((16, 256, 4096))
    source, target = rng.randrange(len(buf)), rng.randrange(len(buf))
    block = buf[source : source + size]
    buf[target : target + len(block)] = block
    return buf


def splice(rng: random.Random, buf: bytearray, donors: Donors) -> bytearray:
    """The start of the input, then the rest of another seed (mostly one of the same format)."""
    pool = donors.same_format if donors.same_format and rng.random() < 0.7 else donors.any_format
    if not pool:
        return buf
    other = rng.choice(pool)
    cut = rng.randrange(len(buf))
    # Half the time at the same offset: two files of one format often share a layout there.
    start = min(cut, len(other) - 1) if rng.random() < 0.5 else rng.randrange(len(other))
    return buf[:cut] + other[start:]


BYTE_MUTATIONS: tuple[Mutation, ...] = (
    flip_bits,
    overwrite_bytes,
    truncate,
    trim_tail,
    insert_bytes,
    delete_bytes,
    set_integer,
    copy_block,
    splice,
)


def mutate(
    rng: random.Random, data: bytes, donors: Donors, structural: Mutation | None = None
) -> bytes:
    """``data`` with one to three mutations applied, drawn from ``rng``.

    ``structural`` is the format-aware mutation for ``data``'s format, if there is one: it
    gets most of the draws, since it reaches the header fields and boxes that byte-level
    damage mostly misses.
    """
    buf = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 2, _MOST_STACKED))):
        if structural is not None and rng.random() < 0.6:
            buf = structural(rng, buf, donors)
        else:
            buf = rng.choice(BYTE_MUTATIONS)(rng, buf, donors)
        if not buf:
            buf = bytearray(data[:1])  # render() refuses empty input before any decoding
    return bytes(buf)
