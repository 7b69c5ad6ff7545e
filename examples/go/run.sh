#!/usr/bin/env bash
# Generate the Go code of proto/, build the Go example and run it; everything is built
# outside the repository ($RAFTSTORE_EXAMPLES_CACHE/go-work), offline (GOPATH mode against
# Debian's /usr/share/gocode sources that scripts/install_toolchains.sh go installs; no
# module proxy).
#   examples/go/run.sh [host:port ...]
# protoc is grpcio-tools' ($PYTHON -m grpc_tools.protoc, PYTHON defaults to .venv/bin/python).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
CACHE=${RAFTSTORE_EXAMPLES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/raftstore-examples}
GOCODE=${GOCODE:-/usr/share/gocode}

for tool in go protoc-gen-go protoc-gen-go-grpc; do
    if ! command -v "$tool" >/dev/null; then
        echo "examples/go: $tool is not installed; run scripts/install_toolchains.sh go" >&2
        exit 3
    fi
done
if [ ! -d "$GOCODE/src/google.golang.org/grpc" ]; then
    echo "examples/go: no grpc-go sources in $GOCODE; run scripts/install_toolchains.sh go" >&2
    exit 3
fi

# A fixed build directory (under a lock) keeps Go's build cache valid from run to run:
# only a changed proto or main.go is compiled again.
WORK="$CACHE/go-work"
mkdir -p "$WORK"
exec 9>"$CACHE/go-work.lock"
flock 9
rm -rf "$WORK/src"
mkdir -p "$WORK/src/raftstore-example"
include=$("$PYTHON" -c 'import grpc_tools, os; print(os.path.join(os.path.dirname(grpc_tools.__file__), "_proto"))')
"$PYTHON" -m grpc_tools.protoc -I"$ROOT/proto" -I"$include" \
    --plugin=protoc-gen-go="$(command -v protoc-gen-go)" \
    --plugin=protoc-gen-go-grpc="$(command -v protoc-gen-go-grpc)" \
    --go_out="$WORK/src" --go-grpc_out="$WORK/src" "$ROOT"/proto/raftstore/v1/*.proto
cp "$HERE/main.go" "$WORK/src/raftstore-example/"
(cd "$WORK/src/raftstore-example" \
    && GO111MODULE=off GOFLAGS= GOPATH="$WORK:$GOCODE" GOCACHE="${GOCACHE:-$CACHE/go-build}" \
        go build -o "$WORK/raftstore-example" .)
"$WORK/raftstore-example" "$@"
