"""Values the client returns: records and their metadata, Aerospike-shaped.

``get`` returns ``Record(key, meta, bins)``, which unpacks like the Aerospike client's
``(key, meta, bins)`` tuple; ``meta`` answers both ``meta.gen`` and ``meta["gen"]``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

KeyTuple = tuple[str, str, Any, bytes]  # (namespace, set, user key or None, digest)


class Meta(NamedTuple):
    gen: int
    ttl: int  # seconds until expiry; -1 never expires
    last_update_ms: int

    def __getitem__(self, item: Any) -> Any:  # type: ignore[override]
        if isinstance(item, str):
            try:
                return getattr(self, item)
            except AttributeError:
                raise KeyError(item) from None
        return tuple.__getitem__(self, item)


class Record(NamedTuple):
    key: KeyTuple
    meta: Meta
    bins: dict[str, Any]
