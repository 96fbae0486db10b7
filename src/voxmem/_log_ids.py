"""Callers named in log lines by a short keyed hash, never by their id.

A caller's id is often their phone number, e-mail address or the app's account id, and
log lines go to log shippers, support tickets and dashboards that keep them for years.
Log lines name a caller by :func:`caller_ref` instead: the same caller has the same
reference throughout one process's life (so a line about their failed save can be
matched to the line about their failed session end), and the reference cannot be turned
back into the id, nor confirmed against a guessed phone number, without the key, which
is random per process and never written anywhere. To find one caller's lines, match the
call (its session id) or the time.
"""

from __future__ import annotations

import hashlib
import secrets

__all__ = ["caller_ref"]

_KEY = secrets.token_bytes(16)


def caller_ref(user_id: str | None) -> str:
    """``caller#`` and 10 hex digits of a keyed BLAKE2b of ``user_id`` (``caller#-``
    for none)."""
    if not user_id:
        return "caller#-"
    digest = hashlib.blake2b(user_id.encode("utf-8", "surrogatepass"), key=_KEY,
                             digest_size=5)
    return "caller#" + digest.hexdigest()
