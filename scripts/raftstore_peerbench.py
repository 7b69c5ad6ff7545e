"""Top-level shim for peerbench's plug-in loader (it imports MODULE with __import__, which
returns top-level modules only): --target raftstore_peerbench:target."""

from raftstore_client.peerbench import target

__all__ = ["target"]
