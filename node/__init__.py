"""raftstore node: the server process (gRPC services, routing, membership)."""
