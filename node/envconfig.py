"""``raftstore node --from-env``: a node's configuration from a StatefulSet pod's environment.

A pod named ``<statefulset>-<ordinal>`` is member ``<statefulset>-<ordinal>`` (its node id is
its pod name); its peers are ``<statefulset>-<i>`` for i < ``RAFTSTORE_REPLICAS``, reached
at ``<statefulset>-<i>.<service>.<namespace>.svc`` (the headless Service's DNS names). Every
pod derives the same member list, so the pods form the cluster by themselves.

| variable | meaning | default |
| --- | --- | --- |
| ``POD_NAME`` | the pod's name (downward API ``metadata.name``) | required |
| ``POD_NAMESPACE`` | its Kubernetes namespace (``metadata.namespace``) | ``default`` |
| ``RAFTSTORE_REPLICAS`` | the StatefulSet's replica count | required |
| ``RAFTSTORE_FOUNDING_REPLICAS`` | pods that founded the cluster (never changes) | replicas |
| ``RAFTSTORE_PEER_SERVICE`` | the headless Service's name | required |
| ``RAFTSTORE_CLUSTER_DOMAIN`` | appended to ``.svc`` when set (``cluster.local``) | none |
| ``RAFTSTORE_CLIENT_PORT``, ``RAFTSTORE_PEER_PORT`` | ports of every pod | 3000, 3001 |
| ``RAFTSTORE_METRICS_PORT`` | Prometheus ``/metrics`` port (0: none) | 9145 |
| ``RAFTSTORE_LISTEN_HOST`` | where the ports bind | ``0.0.0.0`` |
| ``RAFTSTORE_DATA_DIR`` | the persistent volume's mount | ``/var/lib/raftstore`` |
| ``RAFTSTORE_CLUSTER_ID`` | cluster id (letters, digits, ``-``, ``_``) | ``raftstore`` |
| ``RAFTSTORE_CLUSTER_SECRET[_FILE]`` | the cluster secret, or a file holding it | required |
| ``RAFTSTORE_NAMESPACES`` | JSON list of ``[[namespace]]`` tables | ``test``, RF min(3, replicas) |
| ``RAFTSTORE_REPLICATION_FACTOR`` | for namespaces that do not set one | min(3, replicas) |
| ``RAFTSTORE_RAFT`` | JSON object of ``[raft]`` settings | defaults |
| ``RAFTSTORE_SECURITY`` | JSON object of ``[security]`` settings (``{"enabled": true}``) | off |
| ``RAFTSTORE_TLS`` | JSON object of ``[tls]`` settings (file paths: the mounted Secret) | off |
| ``RAFTSTORE_RACKS`` | comma-separated racks; member i gets rack i mod count | no racks |
| ``RAFTSTORE_ZONE`` | this pod's zone, checked against its rack (a warning) | unchecked |
| ``RAFTSTORE_ADDRESS_OVERRIDES`` | JSON ``{"name:port": "host:port"}`` (tests) | none |

``RAFTSTORE_CLUSTER_SECRET`` and the first user's ``RAFTSTORE_ADMIN_PASSWORD`` (security on,
founding only) are read from the process environment (as for ``--config``);
the chart mounts the Secret as a file and sets ``RAFTSTORE_CLUSTER_SECRET_FILE`` instead.
``RAFTSTORE_ADDRESS_OVERRIDES`` exists for tests that run the pods as processes on one machine
(every DNS name mapped to a 127.0.0.1 port) and for networks where the Service's names do not
resolve; a node binds ``RAFTSTORE_LISTEN_HOST`` on its own (overridden) ports.

Scaling. ``RAFTSTORE_FOUNDING_REPLICAS`` (default ``RAFTSTORE_REPLICAS``; the chart's
``foundingReplicas``) is the number of pods that founded the cluster: pods
``<statefulset>-0 .. <founding - 1>`` list each other and found it on their first start.
A pod with a higher ordinal (the StatefulSet scaled up) lists only itself and, on its first
start, joins through pod 0 (``--join``, proving the cluster secret); the rebalancer then
moves replicas to it. Scaling down: drain the highest pods first (``raftstore admin
remove-node <pod>``; a drained node stops once it holds nothing), then lower ``replicas``.
The founding count is recorded in the data directory's ``statefulset.json`` on first start;
a different one later is refused (ConfigError).
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from raftstore_node.config import NodeConfig, build_config

from raftstore.namespaces import ConfigError

log = logging.getLogger("raftstore.node")
_POD_RE = re.compile(r"^(?P<set>[a-z0-9]([-a-z0-9]*[a-z0-9])?)-(?P<ordinal>\d+)$")
DEFAULT_DATA_DIR = "/var/lib/raftstore"


def load_from_env(env: Mapping[str, str], **overrides: Any) -> NodeConfig:
    """The node configuration the environment describes; raises ConfigError with the reason."""
    doc, founding = config_doc(env)
    if doc.get("join") and not overrides.get("join"):
        overrides["join"] = doc["join"]  # a pod added by scaling up joins through pod 0
    doc.pop("join", None)
    config = build_config(doc, base=Path("/"), **overrides)
    check_scaling(config, founding)
    return config


def config_doc(env: Mapping[str, str]) -> tuple[dict[str, Any], int]:
    """The TOML-equivalent document of ``node.toml`` (with ``join`` for a pod added after
    the founding), and the founding replica count."""
    pod = _required(env, "POD_NAME")
    m = _POD_RE.match(pod)
    if not m:
        raise ConfigError(f"POD_NAME {pod!r}: expected <statefulset>-<ordinal>")
    statefulset, ordinal = m["set"], int(m["ordinal"])
    replicas = _int(env, "RAFTSTORE_REPLICAS", None, 1, 99)
    # `kubectl scale` changes the StatefulSet's replicas, not this variable: a pod beyond
    # it is a pod added by scaling up, like any pod beyond the founders.
    founding = _int(env, "RAFTSTORE_FOUNDING_REPLICAS", replicas, 1, 99)
    founders = _members(env, statefulset, founding)
    joining = ordinal >= founding
    doc: dict[str, Any] = {
        "node_id": pod,
        "data_dir": env.get("RAFTSTORE_DATA_DIR", DEFAULT_DATA_DIR),
        "cluster_id": env.get("RAFTSTORE_CLUSTER_ID", "raftstore"),
        # A founder lists the founders; a pod added later lists itself and joins through
        # pod 0 on its first start (the roster and namespaces come from the cluster).
        "member": _members(env, statefulset, ordinal + 1)[ordinal:] if joining else founders,
        "metrics_port": _int(env, "RAFTSTORE_METRICS_PORT", 9145, 0, 65535),
        "listen_host": env.get("RAFTSTORE_LISTEN_HOST", "0.0.0.0"),
    }
    if env.get("RAFTSTORE_CLUSTER_SECRET_FILE"):
        doc["secret_file"] = env["RAFTSTORE_CLUSTER_SECRET_FILE"]
    if env.get("RAFTSTORE_RAFT"):
        doc["raft"] = _json(env, "RAFTSTORE_RAFT", dict)
    if env.get("RAFTSTORE_SECURITY"):
        doc["security"] = _json(env, "RAFTSTORE_SECURITY", dict)
    if env.get("RAFTSTORE_TLS"):
        doc["tls"] = _json(env, "RAFTSTORE_TLS", dict)
    namespaces = _namespaces(env)
    if namespaces is not None and not joining:
        doc["namespace"] = namespaces
    if joining:
        doc["join"] = founders[0]["client"]
    _check_zone(env, doc["member"][0 if joining else ordinal])
    return doc, founding


def _members(env: Mapping[str, str], statefulset: str, replicas: int) -> list[dict[str, str]]:
    service = _required(env, "RAFTSTORE_PEER_SERVICE")
    domain = f"{service}.{env.get('POD_NAMESPACE', 'default')}.svc"
    if env.get("RAFTSTORE_CLUSTER_DOMAIN"):
        domain += "." + env["RAFTSTORE_CLUSTER_DOMAIN"]
    client = _int(env, "RAFTSTORE_CLIENT_PORT", 3000, 1, 65535)
    peer = _int(env, "RAFTSTORE_PEER_PORT", 3001, 1, 65535)
    overrides = (
        _json(env, "RAFTSTORE_ADDRESS_OVERRIDES", dict)
        if env.get("RAFTSTORE_ADDRESS_OVERRIDES")
        else {}
    )
    racks = [r.strip() for r in env.get("RAFTSTORE_RACKS", "").split(",") if r.strip()]
    members = []
    for i in range(replicas):
        host = f"{statefulset}-{i}.{domain}"
        member = {
            "id": f"{statefulset}-{i}",
            "client": overrides.get(f"{host}:{client}", f"{host}:{client}"),
            "peer": overrides.get(f"{host}:{peer}", f"{host}:{peer}"),
        }
        if racks:
            member["rack"] = racks[i % len(racks)]
        members.append(member)
    return members


def _namespaces(env: Mapping[str, str]) -> list[Any] | None:
    """RAFTSTORE_NAMESPACES; RAFTSTORE_REPLICATION_FACTOR fills in missing factors."""
    rf = _int(env, "RAFTSTORE_REPLICATION_FACTOR", 0, 1, 99)
    if env.get("RAFTSTORE_NAMESPACES"):
        namespaces = _json(env, "RAFTSTORE_NAMESPACES", list)
    else:
        namespaces = [{"name": "test"}] if rf else None
    for ns in namespaces or []:
        if rf and isinstance(ns, dict):
            ns.setdefault("replication_factor", rf)
    return namespaces


def _check_zone(env: Mapping[str, str], me: dict[str, str]) -> None:
    zone = env.get("RAFTSTORE_ZONE", "")
    if zone and me.get("rack") and zone != me["rack"]:
        log.warning(
            "pod %s runs in zone %s but RAFTSTORE_RACKS gives it rack %s: rack-aware placement "
            "assumes the wrong zone for it",
            me["id"],
            zone,
            me["rack"],
        )


SCALE_RECORD = "statefulset.json"


def check_scaling(config: NodeConfig, founding: int) -> None:
    """Record the founding replica count in the data directory on first start; refuse a
    different one later (the founders' member list would no longer match the cluster the
    data directory belongs to). The replica count itself may change: pods beyond the
    founders join, and draining shrinks the cluster.

    Raises:
        ConfigError: the data directory was created with another founding count.
    """
    record = config.data_dir / SCALE_RECORD
    try:
        doc = json.loads(record.read_text())
        have = doc.get("founding", doc.get("replicas"))  # "replicas": written by 0.1
        if not isinstance(have, int):
            raise ValueError(f"no founding count in {doc!r}")
    except FileNotFoundError:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        tmp = record.with_suffix(".tmp")
        tmp.write_text(json.dumps({"founding": founding}) + "\n")
        os.replace(tmp, record)
        return
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise ConfigError(f"{record}: unreadable ({e}); it records the founding replica count")
    if have != founding:
        raise ConfigError(
            f"{config.data_dir} belongs to a cluster founded by {have} pods but "
            f"RAFTSTORE_FOUNDING_REPLICAS is {founding}: set foundingReplicas back to {have} "
            "(scale with replicas; the founding count never changes)"
        )


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "")
    if not value:
        raise ConfigError(f"{name} is required with --from-env")
    return value


def _int(env: Mapping[str, str], name: str, default: int | None, low: int, high: int) -> int:
    raw = env.get(name, "")
    if raw == "" and default is not None:
        return default
    if not raw.strip().isdigit() or not low <= int(raw) <= high:
        raise ConfigError(f"{name}: expected an integer {low}..{high}, got {raw!r}")
    return int(raw)


def _json(env: Mapping[str, str], name: str, kind: type) -> Any:
    try:
        value = json.loads(env[name])
    except ValueError as e:
        raise ConfigError(f"{name}: invalid JSON: {e}") from None
    if not isinstance(value, kind):
        raise ConfigError(f"{name}: expected a JSON {'list' if kind is list else 'object'}")
    return value
