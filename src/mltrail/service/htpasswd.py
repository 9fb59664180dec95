"""Apache htpasswd files: every entry kind ``htpasswd`` writes, and verifying them.

``htpasswd`` (apache2-utils) writes one ``user:hash`` line per user, the hash being:

=============  ==========================  ============================================
option         stored as                   kind
=============  ==========================  ============================================
(default),-m   ``$apr1$salt$...``          ``apr1`` (MD5-crypt, Apache's variant)
``-B``         ``$2y$05$...``              ``bcrypt``
``-2`` / -5    ``$5$...`` / ``$6$...``     ``sha256-crypt`` / ``sha512-crypt``
``-s``         ``{SHA}base64``             ``sha1`` (unsalted SHA-1)
``-d``         13 characters               ``crypt`` (DES: only 8 characters count)
``-p``         the password itself         ``plain``
=============  ==========================  ============================================

Imported hashes are kept as they are and verified at the user's next login, when the
password (then known) is re-hashed with argon2id. A plain entry is hashed at import. Like
Apache on Unix, an entry of exactly 13 characters of the crypt alphabet is read as DES
crypt, not as a plain password. A password that is weak (shorter than the server's
minimum, equal to the user name, or a DES one, of which only 8 characters ever counted)
is flagged: the user must change it at the next login.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from mltrail.service.crypt_hashes import des_crypt, md5_crypt, sha_crypt

BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")
_DES_RE = re.compile(r"^[./0-9A-Za-z]{13}$")
_MD5_RE = re.compile(r"^\$(apr1|1)\$[^$]{1,8}\$[./0-9A-Za-z]{22}$")
_SHA_CRYPT_RE = re.compile(r"^\$[56]\$(rounds=\d{1,9}\$)?[^$]{0,16}\$[./0-9A-Za-z]{43,86}$")
_SHA1_RE = re.compile(r"^\{SHA\}[A-Za-z0-9+/]{27}=$")
_SCHEME_RE = re.compile(r"^(\$[A-Za-z0-9]+\$|\{[A-Za-z0-9-]+\})")


def entry_kind(stored: str) -> str | None:
    """The kind of an htpasswd hash (see the module's table); None when it is not one."""
    if stored.startswith(BCRYPT_PREFIXES):
        return "bcrypt"
    if _MD5_RE.match(stored):
        return "apr1" if stored.startswith("$apr1$") else "md5-crypt"
    if _SHA_CRYPT_RE.match(stored):
        return "sha256-crypt" if stored.startswith("$5$") else "sha512-crypt"
    if _SHA1_RE.match(stored):
        return "sha1"
    if _DES_RE.match(stored):
        return "crypt"
    return None


def verify(stored: str, password: str) -> bool:
    """Whether ``password`` matches an imported htpasswd hash (constant-time comparison)."""
    kind = entry_kind(stored)
    secret = password.encode("utf-8")
    if kind == "bcrypt":
        import bcrypt

        try:
            return bool(bcrypt.checkpw(secret[:72], stored.encode()))
        except ValueError:
            return False
    if kind in ("apr1", "md5-crypt"):
        magic, _, rest = stored[1:].partition("$")
        computed = md5_crypt(secret, rest.split("$", 1)[0], magic=f"${magic}$")
    elif kind in ("sha256-crypt", "sha512-crypt"):
        computed = sha_crypt(secret, stored)
    elif kind == "sha1":
        computed = "{SHA}" + base64.b64encode(hashlib.sha1(secret).digest()).decode("ascii")
    elif kind == "crypt":
        computed = des_crypt(secret, stored[:2])
    else:
        return False
    return hmac.compare_digest(computed.encode(), stored.encode())


def is_imported_hash(stored: str) -> bool:
    return entry_kind(stored) is not None


@dataclass(frozen=True)
class Entry:
    line: int
    username: str
    # The stored hash, or for a plain entry the password itself.
    secret: str
    # One of the kinds of the module's table, "plain", or None (not something htpasswd writes).
    kind: str | None


def parse(lines: Iterable[str]) -> Iterator[Entry | str]:
    """The file's entries in order; a line that is not ``user:hash`` yields its explanation."""
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        username, sep, secret = line.partition(":")
        if not sep or not username:
            yield f"line {number}: not 'user:hash'"
            continue
        kind = entry_kind(secret)
        if kind is None:
            # htpasswd -p stores the password itself; what looks like a hash of a scheme
            # htpasswd does not write ($...$, {SCHEME}), or a damaged one, is refused rather
            # than taken as a password.
            kind = None if not secret or _SCHEME_RE.match(secret) else "plain"
        yield Entry(number, username.strip(), secret, kind)
