"""The crypt(3) password hashes that Apache's ``htpasswd`` writes, in pure Python.

Only for verifying passwords imported from an htpasswd file (once, at the user's next
login, after which the password is re-hashed with argon2id). Pure Python so that every
platform verifies the same way: Python 3.13 dropped the ``crypt`` module, and the C
library's crypt() does not know Apache's ``$apr1$`` nor, everywhere, DES.

* :func:`md5_crypt`: ``$apr1$`` (htpasswd's default) and ``$1$`` (the same algorithm with
  another magic string), after Poul-Henning Kamp's MD5-crypt.
* :func:`sha_crypt`: ``$5$`` and ``$6$`` (htpasswd ``-2`` and ``-5``), after Ulrich
  Drepper's specification "Unix crypt using SHA-256 and SHA-512".
* :func:`des_crypt`: the traditional 13-character DES crypt (htpasswd ``-d``), which uses only
  the first 8 characters of the password.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _b64_from_24bit(b2: int, b1: int, b0: int, count: int) -> str:
    value = (b2 << 16) | (b1 << 8) | b0
    out = []
    for _ in range(count):
        out.append(ITOA64[value & 0x3F])
        value >>= 6
    return "".join(out)


# -- MD5-crypt ----------------------------------------------------------------------------
def md5_crypt(password: bytes, salt: str, *, magic: str = "$apr1$") -> str:
    salt_bytes = salt.encode("ascii")[:8]
    magic_bytes = magic.encode("ascii")
    ctx = hashlib.md5(password + magic_bytes + salt_bytes)
    alternate = hashlib.md5(password + salt_bytes + password).digest()
    remaining = len(password)
    while remaining > 0:
        ctx.update(alternate[: min(16, remaining)])
        remaining -= 16
    bits = len(password)
    while bits:
        ctx.update(b"\0" if bits & 1 else password[:1])
        bits >>= 1
    final = ctx.digest()
    for i in range(1000):
        step = hashlib.md5()
        step.update(password if i & 1 else final)
        if i % 3:
            step.update(salt_bytes)
        if i % 7:
            step.update(password)
        step.update(final if i & 1 else password)
        final = step.digest()
    encoded = "".join(
        _b64_from_24bit(final[a], final[b], final[c], 4)
        for a, b, c in ((0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5))
    )
    encoded += _b64_from_24bit(0, 0, final[11], 2)
    return f"{magic}{salt_bytes.decode('ascii')}${encoded}"


# -- SHA-crypt ----------------------------------------------------------------------------
_SHA256_ORDER = [
    (0, 10, 20), (21, 1, 11), (12, 22, 2), (3, 13, 23), (24, 4, 14),
    (15, 25, 5), (6, 16, 26), (27, 7, 17), (18, 28, 8), (9, 19, 29),
]  # fmt: skip
_SHA512_ORDER = [
    (0, 21, 42), (22, 43, 1), (44, 2, 23), (3, 24, 45), (25, 46, 4), (47, 5, 26), (6, 27, 48),
    (28, 49, 7), (50, 8, 29), (9, 30, 51), (31, 52, 10), (53, 11, 32), (12, 33, 54),
    (34, 55, 13), (56, 14, 35), (15, 36, 57), (37, 58, 16), (59, 17, 38), (18, 39, 60),
    (40, 61, 19), (62, 20, 41),
]  # fmt: skip
SHA_DEFAULT_ROUNDS = 5000
_SHA_MIN_ROUNDS = 1000
_SHA_MAX_ROUNDS = 999_999_999


def _repeat(digest: bytes, length: int) -> bytes:
    return (digest * (length // len(digest) + 1))[:length]


def sha_crypt(password: bytes, setting: str) -> str:
    """``setting`` is ``$5$[rounds=N$]salt[$...]`` or the same with ``$6$``."""
    magic = setting[:3]
    hasher: Callable[..., hashlib._Hash] = hashlib.sha256 if magic == "$5$" else hashlib.sha512
    rest = setting[3:]
    rounds, custom = SHA_DEFAULT_ROUNDS, False
    if rest.startswith("rounds="):
        text, _, rest = rest[len("rounds=") :].partition("$")
        rounds = min(max(int(text), _SHA_MIN_ROUNDS), _SHA_MAX_ROUNDS)
        custom = True
    salt = rest.split("$", 1)[0][:16].encode("ascii")
    size = hasher().digest_size
    alternate = hasher(password + salt + password).digest()
    ctx = hasher(password + salt)
    ctx.update(_repeat(alternate, len(password)))
    bits = len(password)
    while bits:
        ctx.update(alternate if bits & 1 else password)
        bits >>= 1
    result = ctx.digest()
    p_bytes = _repeat(hasher(password * len(password)).digest(), len(password))
    s_bytes = _repeat(hasher(salt * (16 + result[0])).digest(), len(salt))
    for i in range(rounds):
        step = hasher(p_bytes if i & 1 else result)
        if i % 3:
            step.update(s_bytes)
        if i % 7:
            step.update(p_bytes)
        step.update(result if i & 1 else p_bytes)
        result = step.digest()
    if size == 32:
        encoded = "".join(
            _b64_from_24bit(result[a], result[b], result[c], 4) for a, b, c in _SHA256_ORDER
        )
        encoded += _b64_from_24bit(0, result[31], result[30], 3)
    else:
        encoded = "".join(
            _b64_from_24bit(result[a], result[b], result[c], 4) for a, b, c in _SHA512_ORDER
        )
        encoded += _b64_from_24bit(0, 0, result[63], 2)
    prefix = f"{magic}rounds={rounds}$" if custom else magic
    return f"{prefix}{salt.decode('ascii')}${encoded}"


# -- traditional DES crypt ----------------------------------------------------------------
# The tables of FIPS 46 as in 7th Edition Unix's crypt.c (1-based bit numbers).
_IP = [
    58, 50, 42, 34, 26, 18, 10, 2, 60, 52, 44, 36, 28, 20, 12, 4,
    62, 54, 46, 38, 30, 22, 14, 6, 64, 56, 48, 40, 32, 24, 16, 8,
    57, 49, 41, 33, 25, 17, 9, 1, 59, 51, 43, 35, 27, 19, 11, 3,
    61, 53, 45, 37, 29, 21, 13, 5, 63, 55, 47, 39, 31, 23, 15, 7,
]  # fmt: skip
_FP = [
    40, 8, 48, 16, 56, 24, 64, 32, 39, 7, 47, 15, 55, 23, 63, 31,
    38, 6, 46, 14, 54, 22, 62, 30, 37, 5, 45, 13, 53, 21, 61, 29,
    36, 4, 44, 12, 52, 20, 60, 28, 35, 3, 43, 11, 51, 19, 59, 27,
    34, 2, 42, 10, 50, 18, 58, 26, 33, 1, 41, 9, 49, 17, 57, 25,
]  # fmt: skip
_PC1_C = [57, 49, 41, 33, 25, 17, 9, 1, 58, 50, 42, 34, 26, 18,
          10, 2, 59, 51, 43, 35, 27, 19, 11, 3, 60, 52, 44, 36]  # fmt: skip
_PC1_D = [63, 55, 47, 39, 31, 23, 15, 7, 62, 54, 46, 38, 30, 22,
          14, 6, 61, 53, 45, 37, 29, 21, 13, 5, 28, 20, 12, 4]  # fmt: skip
_SHIFTS = [1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1]
_PC2_C = [14, 17, 11, 24, 1, 5, 3, 28, 15, 6, 21, 10,
          23, 19, 12, 4, 26, 8, 16, 7, 27, 20, 13, 2]  # fmt: skip
_PC2_D = [41, 52, 31, 37, 47, 55, 30, 40, 51, 45, 33, 48,
          44, 49, 39, 56, 34, 53, 46, 42, 50, 36, 29, 32]  # fmt: skip
_E = [
    32, 1, 2, 3, 4, 5, 4, 5, 6, 7, 8, 9, 8, 9, 10, 11, 12, 13, 12, 13, 14, 15, 16, 17,
    16, 17, 18, 19, 20, 21, 20, 21, 22, 23, 24, 25, 24, 25, 26, 27, 28, 29, 28, 29, 30, 31, 32, 1,
]  # fmt: skip
_S = [
    [14, 4, 13, 1, 2, 15, 11, 8, 3, 10, 6, 12, 5, 9, 0, 7,
     0, 15, 7, 4, 14, 2, 13, 1, 10, 6, 12, 11, 9, 5, 3, 8,
     4, 1, 14, 8, 13, 6, 2, 11, 15, 12, 9, 7, 3, 10, 5, 0,
     15, 12, 8, 2, 4, 9, 1, 7, 5, 11, 3, 14, 10, 0, 6, 13],
    [15, 1, 8, 14, 6, 11, 3, 4, 9, 7, 2, 13, 12, 0, 5, 10,
     3, 13, 4, 7, 15, 2, 8, 14, 12, 0, 1, 10, 6, 9, 11, 5,
     0, 14, 7, 11, 10, 4, 13, 1, 5, 8, 12, 6, 9, 3, 2, 15,
     13, 8, 10, 1, 3, 15, 4, 2, 11, 6, 7, 12, 0, 5, 14, 9],
    [10, 0, 9, 14, 6, 3, 15, 5, 1, 13, 12, 7, 11, 4, 2, 8,
     13, 7, 0, 9, 3, 4, 6, 10, 2, 8, 5, 14, 12, 11, 15, 1,
     13, 6, 4, 9, 8, 15, 3, 0, 11, 1, 2, 12, 5, 10, 14, 7,
     1, 10, 13, 0, 6, 9, 8, 7, 4, 15, 14, 3, 11, 5, 2, 12],
    [7, 13, 14, 3, 0, 6, 9, 10, 1, 2, 8, 5, 11, 12, 4, 15,
     13, 8, 11, 5, 6, 15, 0, 3, 4, 7, 2, 12, 1, 10, 14, 9,
     10, 6, 9, 0, 12, 11, 7, 13, 15, 1, 3, 14, 5, 2, 8, 4,
     3, 15, 0, 6, 10, 1, 13, 8, 9, 4, 5, 11, 12, 7, 2, 14],
    [2, 12, 4, 1, 7, 10, 11, 6, 8, 5, 3, 15, 13, 0, 14, 9,
     14, 11, 2, 12, 4, 7, 13, 1, 5, 0, 15, 10, 3, 9, 8, 6,
     4, 2, 1, 11, 10, 13, 7, 8, 15, 9, 12, 5, 6, 3, 0, 14,
     11, 8, 12, 7, 1, 14, 2, 13, 6, 15, 0, 9, 10, 4, 5, 3],
    [12, 1, 10, 15, 9, 2, 6, 8, 0, 13, 3, 4, 14, 7, 5, 11,
     10, 15, 4, 2, 7, 12, 9, 5, 6, 1, 13, 14, 0, 11, 3, 8,
     9, 14, 15, 5, 2, 8, 12, 3, 7, 0, 4, 10, 1, 13, 11, 6,
     4, 3, 2, 12, 9, 5, 15, 10, 11, 14, 1, 7, 6, 0, 8, 13],
    [4, 11, 2, 14, 15, 0, 8, 13, 3, 12, 9, 7, 5, 10, 6, 1,
     13, 0, 11, 7, 4, 9, 1, 10, 14, 3, 5, 12, 2, 15, 8, 6,
     1, 4, 11, 13, 12, 3, 7, 14, 10, 15, 6, 8, 0, 5, 9, 2,
     6, 11, 13, 8, 1, 4, 10, 7, 9, 5, 0, 15, 14, 2, 3, 12],
    [13, 2, 8, 4, 6, 15, 11, 1, 10, 9, 3, 14, 5, 0, 12, 7,
     1, 15, 13, 8, 10, 3, 7, 4, 12, 5, 6, 11, 0, 14, 9, 2,
     7, 11, 4, 1, 9, 12, 14, 2, 0, 6, 10, 13, 15, 3, 5, 8,
     2, 1, 14, 7, 4, 10, 8, 13, 15, 12, 9, 0, 3, 5, 6, 11],
]  # fmt: skip
_P = [16, 7, 20, 21, 29, 12, 28, 17, 1, 15, 23, 26, 5, 18, 31, 10,
      2, 8, 24, 14, 32, 27, 3, 9, 19, 13, 30, 6, 22, 11, 4, 25]  # fmt: skip


def _key_schedule(key: list[int]) -> list[list[int]]:
    c = [key[i - 1] for i in _PC1_C]
    d = [key[i - 1] for i in _PC1_D]
    schedule = []
    for shift in _SHIFTS:
        c = c[shift:] + c[:shift]
        d = d[shift:] + d[:shift]
        schedule.append([c[i - 1] for i in _PC2_C] + [d[i - 29] for i in _PC2_D])
    return schedule


def _des_rounds(block: list[int], schedule: list[list[int]], expansion: list[int]) -> list[int]:
    permuted = [block[i - 1] for i in _IP]
    left, right = permuted[:32], permuted[32:]
    for round_key in schedule:
        mixed = [right[e - 1] ^ k for e, k in zip(expansion, round_key, strict=True)]
        f: list[int] = []
        for box in range(8):
            b = mixed[6 * box : 6 * box + 6]
            value = _S[box][
                (b[0] << 5) | (b[5] << 4) | (b[1] << 3) | (b[2] << 2) | (b[3] << 1) | b[4]
            ]
            f.extend(((value >> 3) & 1, (value >> 2) & 1, (value >> 1) & 1, value & 1))
        left, right = right, [left[j] ^ f[_P[j] - 1] for j in range(32)]
    joined = right + left
    return [joined[i - 1] for i in _FP]


def _salt_value(char: str) -> int:
    index = ITOA64.find(char)
    return index if index >= 0 else 0


def des_crypt(password: bytes, salt: str) -> str:
    salt = (salt + "..")[:2]
    key = [0] * 64
    for i, byte in enumerate(password[:8]):
        for j in range(7):
            key[8 * i + j] = (byte >> (6 - j)) & 1
    expansion = list(_E)
    for i, char in enumerate(salt):
        value = _salt_value(char)
        for j in range(6):
            if (value >> j) & 1:
                a, b = 6 * i + j, 6 * i + j + 24
                expansion[a], expansion[b] = expansion[b], expansion[a]
    schedule = _key_schedule(key)
    block = [0] * 64
    for _ in range(25):
        block = _des_rounds(block, schedule, expansion)
    bits = [*block, 0, 0]
    encoded = "".join(
        ITOA64[int("".join(str(b) for b in bits[6 * i : 6 * i + 6]), 2)] for i in range(11)
    )
    return salt + encoded
