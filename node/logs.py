"""Logging of the node process: human-readable text (default) or one JSON object a line.

``raftstore node --log-format json`` (or ``RAFTSTORE_LOG_FORMAT=json``) writes lines such as::

    {"ts": "2026-11-20T10:04:05.123Z", "level": "INFO", "logger": "raftstore.node",
     "msg": "node n1 ready", "node": "n1"}

``ts`` is UTC with milliseconds; ``node`` is present once the node id is known
(``set_node_id``); ``exc`` holds a formatted traceback when there is one. Fields of the
message's ``extra`` that are JSON-serialisable are copied as they are.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

TEXT_FORMAT = "%(asctime)s.%(msecs)03d %(levelname)s %(name)s: %(message)s"
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
_node_id: str | None = None


def set_node_id(node_id: str) -> None:
    """Label every later JSON line with this node id."""
    global _node_id
    _node_id = node_id


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        doc: dict[str, Any] = {
            "ts": f"{ts}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if _node_id is not None:
            doc["node"] = _node_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                doc[key] = value if _jsonable(value) else repr(value)
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def configure(level: str, fmt: str = "text") -> None:
    """Log to stderr at ``level`` in ``fmt`` ("text" or "json"); pysyncobj only warnings."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT, datefmt="%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper()))
    logging.getLogger("pysyncobj").setLevel(logging.WARNING)
