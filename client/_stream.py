"""One ``KV.Stream`` call to a node, multiplexing many commands (``AsyncClient``).

``execute`` queues a command under a fresh id; one writer task sends everything queued in
``StreamRequest`` messages of about ``MESSAGE_BYTES``, one reader task hands each
``StreamResult`` to the command with its id. A command's error is raised as
``StreamFailure`` holding exactly the ``Translated`` its unary call would have produced,
so the caller's retry, leader-hint and in-doubt rules apply unchanged:

- a ``StreamError`` (the node's answer for that command) is translated like the status
  and trailing metadata of a unary call;
- no answer within the command's timeout: ``Timeout``, in doubt for a write (as gRPC's
  DEADLINE_EXCEEDED);
- the stream breaks (node gone, connection reset, the node could not read a message):
  every command still waiting fails as a transport failure, ``ServerNotAvailable``, in
  doubt for a write (the node may have applied it; nothing it started is cancelled).
  A broken stream is replaced by the caller on its next command.

At most ``max_in_flight`` commands wait on one stream; ``execute`` waits for room beyond.

Thread: the client's event loop only.
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
from raftstore_client._errors import Translated, translate, translate_stream_error

from raftstore.errors import ServerNotAvailable, Timeout
from raftstore.v1 import kv_pb2

# unary method -> StreamCommand field
KINDS = {
    "Put": "put",
    "Get": "get",
    "Exists": "exists",
    "Delete": "delete",
    "Touch": "touch",
    "Operate": "operate",
}
MAX_IN_FLIGHT = 1024
MAX_COMMAND_BYTES = 1024 * 1024
"""A larger command goes as a unary call (``AsyncClient._attempt``): a message over the
node's receive limit would end the whole stream, not just the command."""
MESSAGE_BYTES = 1024 * 1024  # commands are packed into messages of about this size


class StreamFailure(Exception):
    """A command sent on a stream failed: ``translated`` as for its unary call."""

    def __init__(self, translated: Translated) -> None:
        super().__init__(translated.error.message)
        self.translated = translated


class CommandStream:
    """A bidirectional ``KV.Stream`` call to ``address`` (opened at construction)."""

    def __init__(
        self,
        stub: Any,
        address: str,
        metadata: tuple[tuple[str, str], ...] = (),
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        self.address = address
        self.metadata = metadata
        self.broken = False
        self._retiring = False
        self._call = stub.Stream(metadata=metadata or None)  # no deadline: per command
        self._next_id = 1
        self._waiting: dict[int, tuple[asyncio.Future[Any], bool, asyncio.TimerHandle]] = {}
        self._outgoing = [kv_pb2.StreamRequest()]  # the last one is being filled
        self._filling = 0  # bytes of commands in the last one
        self._wake = asyncio.Event()
        self._room = asyncio.Semaphore(max_in_flight)
        self._writer = asyncio.ensure_future(self._write())
        self._reader = asyncio.ensure_future(self._read())

    async def execute(self, method: str, request: Any, write: bool, timeout: float) -> Any:
        """The response of ``method`` for ``request`` (a unary request message); raises
        ``StreamFailure``."""
        async with self._room:
            if self.broken or self._retiring:
                raise StreamFailure(self._unavailable("stream closed", False))  # not sent
            cid = self._next_id
            self._next_id += 1
            size = request.ByteSize()
            if self._filling + size > MESSAGE_BYTES and self._outgoing[-1].commands:
                self._outgoing.append(kv_pb2.StreamRequest())
                self._filling = 0
            self._filling += size
            cmd = self._outgoing[-1].commands.add(id=cid, timeout_ms=max(1, int(timeout * 1000)))
            getattr(cmd, KINDS[method]).CopyFrom(request)
            loop = asyncio.get_running_loop()
            fut = loop.create_future()
            timer = loop.call_later(timeout, self._expire, cid)
            self._waiting[cid] = (fut, write, timer)
            self._wake.set()
            result = await fut
        kind = result.WhichOneof("result")
        if kind == "error":
            raise StreamFailure(
                translate_stream_error(result.error, write=write, address=self.address)
            )
        return getattr(result, kind)

    def close(self) -> None:
        """End the stream now; commands still waiting fail (in doubt for writes)."""
        self._break("stream closed by the client")

    def retire(self) -> None:
        """Take no more commands; close once those waiting are answered."""
        self._retiring = True
        if not self._waiting:
            self.close()

    # --- internals ----------------------------------------------------------------------

    async def _write(self) -> None:
        try:
            while not self.broken:
                await self._wake.wait()
                self._wake.clear()
                while self._outgoing[0].commands:  # all queued, in messages of ~1 MiB
                    batch = self._outgoing.pop(0)
                    if not self._outgoing:
                        self._outgoing.append(kv_pb2.StreamRequest())
                        self._filling = 0
                    await self._call.write(batch)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self._break(f"sending: {e}")

    async def _read(self) -> None:
        reason = "the node ended the stream"
        try:
            async for response in self._call:
                for result in response.results:
                    entry = self._waiting.pop(result.id, None)
                    if entry is not None:
                        entry[2].cancel()
                        if not entry[0].done():
                            entry[0].set_result(result)
                        if self._retiring and not self._waiting:
                            return
                    elif result.id == 0:  # the node could not read a message of ours
                        reason = f"the node could not read a message: {result.error.message}"
                        return
        except grpc.RpcError as e:
            reason = translate(e, write=False, address=self.address).error.message
        except asyncio.CancelledError:
            reason = "stream closed by the client"
        finally:
            self._break(reason)

    def _expire(self, cid: int) -> None:
        entry = self._waiting.pop(cid, None)
        if entry is not None and not entry[0].done():
            error = Timeout(f"{self.address}: no answer on the stream in time", in_doubt=entry[1])
            entry[0].set_exception(StreamFailure(Translated(error, None, False)))
        if self._retiring and not self._waiting:
            self.close()

    def _unavailable(self, reason: str, write: bool) -> Translated:
        return Translated(
            ServerNotAvailable(f"{self.address}: {reason}", in_doubt=write), None, False
        )

    def _break(self, reason: str) -> None:
        """Fail every command still waiting (in doubt for writes) and stop."""
        if not self.broken:
            self.broken = True
            self._wake.set()
            self._call.cancel()
        waiting, self._waiting = self._waiting, {}
        for fut, write, timer in waiting.values():
            timer.cancel()
            if not fut.done():
                fut.set_exception(StreamFailure(self._unavailable(reason, write)))
