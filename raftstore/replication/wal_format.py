"""The on-disk format of the node's write-ahead log (``wal.py``): segments and records.

A segment is one file ``<seq as 16 hex digits>.wal``; the sequence numbers of a WAL's
segments are consecutive (reclamation deletes the oldest ones)::

    header  = magic b"RSWAL\\r\\n\\0" | u16 format version | u16 flags (0) | u64 seq
              | u32 crc32 of the above                          (24 bytes)
    record  = u32 payload length | u32 crc32(payload) | payload
    payload = u8 kind | u16 length of the group id | group id (UTF-8) | body

    kind      body                                        meaning for the group
    ENTRY     u64 idx | u64 term | command                append one log entry
    TRUNCATE  u64 idx                                     drop its entries with index >= idx
    COMPACT   u64 idx                                     drop its entries with index < idx
    TERM      u64 term | vote                             current term and vote
    COMMIT    u64 commit index                            the commit-index hint
    RESET     u64 term | u64 commit | u32 n | vote        its whole state: the n ENTRY
                                                          records of the group that follow
                                                          are its entries
    DROP      (empty)                                     forget the group

    vote = u8 0 (none) | u8 1, node id (UTF-8, the rest of the body)

Everything is little-endian. A RESET and its n entries are written together and always sit
in one segment; recovery applies them only once the n-th entry has been read.

Thread: pure functions, any thread.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterator
from enum import IntEnum
from pathlib import Path

from raftstore.replication.journal import JournalCorruptError

MAGIC = b"RSWAL\r\n\x00"
FORMAT_VERSION = 1
MAX_PAYLOAD = 64 * 1024 * 1024
"""Largest record payload written or accepted on recovery."""
SEGMENT_SUFFIX = ".wal"
SEGMENT_NAME = re.compile(r"^([0-9a-f]{16})\.wal$")

HEADER = struct.Struct("<8sHHQI")
_HEADER_BODY = struct.Struct("<8sHHQ")
FRAME = struct.Struct("<II")  # payload length, crc32(payload)
_KIND_GID = struct.Struct("<BH")
U64 = struct.Struct("<Q")
IDX_TERM = struct.Struct("<QQ")
RESET_HEAD = struct.Struct("<QQI")
ENTRY_OVERHEAD = FRAME.size + _KIND_GID.size + IDX_TERM.size
"""Bytes of an ENTRY record besides its group id and command."""


class Kind(IntEnum):
    ENTRY = 1
    TRUNCATE = 2
    COMPACT = 3
    TERM = 4
    COMMIT = 5
    RESET = 6
    DROP = 7


class RecordError(ValueError):
    """A record whose payload does not decode (treated like a checksum failure)."""


def segment_name(seq: int) -> str:
    return f"{seq:016x}{SEGMENT_SUFFIX}"


def segment_seq(name: str) -> int | None:
    """The sequence number a segment file name carries; None for any other name."""
    match = SEGMENT_NAME.match(name)
    return int(match.group(1), 16) if match else None


def header(seq: int) -> bytes:
    body = _HEADER_BODY.pack(MAGIC, FORMAT_VERSION, 0, seq)
    return body + struct.pack("<I", zlib.crc32(body))


def check_header(data: bytes, path: Path, seq: int) -> None:
    """Raises JournalCorruptError unless ``data`` starts with segment ``seq``'s header."""
    if len(data) < HEADER.size:
        raise JournalCorruptError(f"{path}: segment header truncated ({len(data)} bytes)")
    magic, version, _flags, found, crc = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise JournalCorruptError(f"{path}: not a raftstore WAL segment (magic {magic!r})")
    if crc != zlib.crc32(data[: _HEADER_BODY.size]):
        raise JournalCorruptError(f"{path}: segment header checksum mismatch")
    if version != FORMAT_VERSION:
        raise JournalCorruptError(
            f"{path}: unsupported WAL format version {version} "
            f"(this build reads version {FORMAT_VERSION})"
        )
    if found != seq:
        raise JournalCorruptError(f"{path}: header names segment {found}, file name {seq}")


def prefix(kind: Kind, gid: bytes) -> bytes:
    """The start of every payload of ``kind`` for the group whose UTF-8 id is ``gid``."""
    return _KIND_GID.pack(kind, len(gid)) + gid


def frame(payload: bytes) -> bytes:
    return FRAME.pack(len(payload), zlib.crc32(payload)) + payload


def entry_record(entry_prefix: bytes, command: bytes, idx: int, term: int) -> bytes:
    head = entry_prefix + IDX_TERM.pack(idx, term)
    crc = zlib.crc32(command, zlib.crc32(head))
    return FRAME.pack(len(head) + len(command), crc) + head + command


def encode_vote(voted_for: str | None) -> bytes:
    return b"\x00" if voted_for is None else b"\x01" + voted_for.encode()


def decode_vote(body: bytes) -> str | None:
    if body[:1] == b"\x00" and len(body) == 1:
        return None
    if body[:1] == b"\x01":
        try:
            return body[1:].decode()
        except UnicodeDecodeError as exc:
            raise RecordError(f"vote is not UTF-8: {exc}") from None
    raise RecordError(f"bad vote field {body[:8]!r}")


class SegmentReader:
    """Iterates over the records after a segment's header.

    ``records()`` yields (offset, kind, group id, body) for every record that is whole and
    passes its checksum; afterwards ``end`` is the offset where the valid prefix ends and
    ``reason`` says why it ended ("" when the segment ended cleanly).
    """

    def __init__(self, data: bytes) -> None:
        self._data = data
        self.end = HEADER.size
        self.reason = ""

    def records(self) -> Iterator[tuple[int, Kind, str, bytes]]:
        data, view, size = self._data, memoryview(self._data), len(self._data)
        pos = HEADER.size
        while pos < size:
            self.end = pos
            if size - pos < FRAME.size + _KIND_GID.size:
                self.reason = "short record"
                return
            length, crc = FRAME.unpack_from(data, pos)
            end = pos + FRAME.size + length
            if length < _KIND_GID.size or length > MAX_PAYLOAD or end > size:
                self.reason = f"bad record length {length}"
                return
            if zlib.crc32(view[pos + FRAME.size : end]) != crc:
                self.reason = "checksum mismatch"
                return
            kind, gid_len = _KIND_GID.unpack_from(data, pos + FRAME.size)
            body_at = pos + FRAME.size + _KIND_GID.size + gid_len
            try:
                if body_at > end:
                    raise RecordError("group id longer than the record")
                gid = data[pos + FRAME.size + _KIND_GID.size : body_at].decode()
                record_kind = Kind(kind)
            except ValueError as exc:  # RecordError, UnicodeDecodeError, unknown kind
                self.reason = f"undecodable record ({exc})"
                return
            yield pos, record_kind, gid, data[body_at:end]
            pos = end
        self.end = pos
