"""Drop-in names for code written against other memory SDKs, backed by voxmem.

- :mod:`voxmem.compat.memoair` — the ``memoair-voice`` and ``memoair-livekit`` SDKs:
  change ``from memoair_voice import ...`` / ``from memoair_livekit import ...`` to
  ``from voxmem.compat.memoair import ...`` and the code runs offline, on this machine.
"""
