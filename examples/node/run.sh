#!/usr/bin/env bash
# Run the Node.js example with the packages scripts/install_toolchains.sh installed.
#   examples/node/run.sh [host:port ...]
set -euo pipefail
CACHE=${RAFTSTORE_EXAMPLES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/raftstore-examples}
if [ ! -d "$CACHE/node/node_modules/@grpc/grpc-js" ]; then
    echo "examples/node: @grpc/grpc-js is not installed; run scripts/install_toolchains.sh node" >&2
    exit 3
fi
export NODE_PATH="$CACHE/node/node_modules${NODE_PATH:+:$NODE_PATH}"
exec node "$(dirname "$0")/client.js" "$@"
