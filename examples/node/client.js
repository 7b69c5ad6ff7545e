// raftstore from Node.js: a stock gRPC client built from ../../proto alone (no generated
// code, no raftstore library): put, get, compare-and-set, result codes, leader hints.
//
//   node examples/node/client.js [host:port ...]        (default: $RAFTSTORE_HOSTS or
//                                                        127.0.0.1:3000)
// Needs @grpc/grpc-js and @grpc/proto-loader (examples/node/package.json):
// scripts/install_toolchains.sh node puts them in ~/.cache/raftstore-examples/node and
// examples/node/run.sh runs this file with NODE_PATH pointing there.
// RAFTSTORE_EXAMPLE_KEY sets the user key (default: a fresh one per run).
"use strict";

const path = require("path");
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");

const PROTO_DIR = path.resolve(__dirname, "..", "..", "proto");
const NAMESPACE = "test";
const SET = "examples";
const MAX_HOPS = 5; // leader hints followed per call before giving up

const definition = protoLoader.loadSync(
  ["raftstore/v1/kv.proto", "raftstore/v1/result.proto"],
  { includeDirs: [PROTO_DIR], keepCase: true, longs: Number, enums: String, oneofs: true },
);
const raftstore = grpc.loadPackageDefinition(definition).raftstore.v1;

// ResultCode number -> name, from result.proto ("RESULT_CODE_KEY_NOT_FOUND" -> "KEY_NOT_FOUND").
const RESULT_NAMES = new Map(
  definition["raftstore.v1.ResultCode"].type.value.map((v) => [v.number, v.name.replace(/^RESULT_CODE_/, "")]),
);
const GRPC_STATUS_NAMES = new Map(Object.entries(grpc.status).map(([name, n]) => [n, name]));
const PARTITION_UNAVAILABLE = 11;

class RaftstoreError extends Error {
  constructor(err) {
    const md = err.metadata ? err.metadata.getMap() : {};
    const code = md["raftstore-result-code"] === undefined ? -1 : Number(md["raftstore-result-code"]);
    super(err.details || err.message);
    this.code = code; // -1: not from raftstore (transport failure, client deadline)
    this.codeName = RESULT_NAMES.get(code) || "CLIENT_ERROR";
    this.grpcStatus = GRPC_STATUS_NAMES.get(err.code) || String(err.code);
    this.inDoubt = md["raftstore-in-doubt"] === "1";
    this.leader = md["raftstore-leader"] ? String(md["raftstore-leader"]) : ""; // "<node id>=<address>"
  }

  toString() {
    return `${this.codeName} (${this.code}) ${this.grpcStatus}: ${this.message}`;
  }
}

// Sends each command with header.no_forward to the node it believes leads, and follows the
// raftstore-leader hint of a PARTITION_UNAVAILABLE answer: the first node can be any node.
class Client {
  constructor(hosts) {
    this.hosts = hosts;
    this.address = hosts[0];
    this.stubs = new Map();
  }

  stub(address) {
    if (!this.stubs.has(address)) {
      this.stubs.set(address, new raftstore.KV(address, grpc.credentials.createInsecure()));
    }
    return this.stubs.get(address);
  }

  invoke(address, method, request) {
    const deadline = new Date(Date.now() + 10000);
    return new Promise((resolve, reject) => {
      this.stub(address)[method](request, { deadline }, (err, resp) => (err ? reject(err) : resolve(resp)));
    });
  }

  async call(method, request) {
    request.header = { no_forward: true };
    for (let hop = 0; ; hop++) {
      try {
        return await this.invoke(this.address, method, request);
      } catch (grpcErr) {
        const err = new RaftstoreError(grpcErr);
        const [nodeId, address] = err.leader.split("=");
        if (err.code !== PARTITION_UNAVAILABLE || !address || address === this.address || hop >= MAX_HOPS) {
          throw err;
        }
        console.log(`leader hint: ${method} ${this.address} -> ${address} (${nodeId})`);
        this.address = address;
      }
    }
  }

  close() {
    for (const stub of this.stubs.values()) stub.close();
  }
}

function key(userKey, namespace = NAMESPACE) {
  return { namespace, set: SET, string_key: userKey };
}

// Partition of a digest (proto/README.md): first two bytes little-endian, low 12 bits.
function partitionOf(digest) {
  return (digest[0] | (digest[1] << 8)) & 4095;
}

// A decoded Value has `kind` (oneofs: true) naming the field that is set.
function show(bins) {
  const plain = (value) => (value ? value[value.kind] : undefined);
  return `name=${plain(bins.name)} visits=${plain(bins.visits)}`;
}

async function expectError(label, promise) {
  try {
    await promise;
  } catch (err) {
    if (!(err instanceof RaftstoreError)) throw err;
    console.log(`${label}: ${err.codeName} (${err.code}) ${err.grpcStatus}`);
    return err;
  }
  throw new Error(`${label}: expected an error`);
}

async function main() {
  const argv = process.argv.slice(2);
  const hosts = argv.length ? argv : (process.env.RAFTSTORE_HOSTS || "127.0.0.1:3000").split(",");
  const userKey = process.env.RAFTSTORE_EXAMPLE_KEY || `node-${process.pid}-${Date.now()}`;
  const client = new Client(hosts);
  try {
    const bins = { name: { string_value: "Ada" }, visits: { int_value: 1 } };
    const put = await client.call("Put", { key: key(userKey), bins });
    const digest = put.key.digest;
    console.log(
      `put: key=${userKey} generation=${put.metadata.generation} ` +
        `digest=${digest.toString("hex")} partition=${partitionOf(digest)}`,
    );

    const got = await client.call("Get", { key: key(userKey) });
    const gen = got.record.metadata.generation;
    console.log(`get: generation=${gen} ${show(got.record.bins)}`);

    // Compare-and-set: write only if the generation is still the one read.
    const cas = {
      generation_policy: "GENERATION_POLICY_EXPECT_GEN_EQUAL",
      generation: gen,
    };
    const next = await client.call("Put", { key: key(userKey), bins: { visits: { int_value: 2 } }, policy: cas });
    console.log(`cas: generation ${gen} -> ${next.metadata.generation}`);
    await expectError("stale cas", client.call("Put", { key: key(userKey), bins: { visits: { int_value: 0 } }, policy: cas }));

    const after = await client.call("Get", { key: key(userKey) });
    console.log(`get: generation=${after.record.metadata.generation} ${show(after.record.bins)}`);

    await expectError("get missing", client.call("Get", { key: key(`${userKey}-absent`) }));
    await expectError("get unknown namespace", client.call("Get", { key: key(userKey, "nosuchns") }));

    await client.call("Delete", { key: key(userKey) });
    await expectError("get deleted", client.call("Get", { key: key(userKey) }));
    console.log("done");
  } finally {
    client.close();
  }
}

main().catch((err) => {
  console.error(`error: ${err}`);
  process.exit(1);
});
