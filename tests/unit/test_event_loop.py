"""``raftstore node --event-loop``: uvloop when asked for or installed, asyncio's loop
otherwise, and a clear error when uvloop is asked for but missing."""

from __future__ import annotations

import asyncio
import sys

import pytest
import uvloop  # the server extra installs it
from raftstore_node.main import build_parser, loop_factory

from raftstore.namespaces import ConfigError


def test_auto_and_uvloop_choose_uvloop_asyncio_its_own() -> None:
    assert loop_factory("auto") is uvloop.new_event_loop
    assert loop_factory("uvloop") is uvloop.new_event_loop
    assert loop_factory("asyncio") is asyncio.new_event_loop
    assert loop_factory("auto", tls=True) is asyncio.new_event_loop  # peer TLS: asyncio's
    assert loop_factory("uvloop", tls=True) is uvloop.new_event_loop  # unless forced
    loop = loop_factory("auto")()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


def test_without_uvloop_auto_falls_back_and_uvloop_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import fails as if not installed
    assert loop_factory("auto") is asyncio.new_event_loop
    with pytest.raises(ConfigError, match="uvloop is not installed"):
        loop_factory("uvloop")


def test_the_flag_and_its_environment_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert build_parser().parse_args(["--config", "x"]).event_loop == "auto"
    monkeypatch.setenv("RAFTSTORE_EVENT_LOOP", "asyncio")
    assert build_parser().parse_args(["--config", "x"]).event_loop == "asyncio"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--config", "x", "--event-loop", "trio"])
