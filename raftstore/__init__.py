"""raftstore core: keys, partitions, records, the state machine, storage, replication.

Importing this package loads nothing heavy: the Python client imports ``raftstore.keys``,
``raftstore.errors`` and the generated ``raftstore.v1`` messages without RocksDB or
pysyncobj installed.
"""

__version__ = "0.1.0"
