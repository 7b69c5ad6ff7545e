#!/usr/bin/env bash
# Install what the other-language examples need (examples/node, examples/go); only what is
# missing, so a second run does nothing. Exits non-zero, saying what is missing, when it
# cannot install something (no root, no package manager, no network).
#
#   Node.js:  node >= 18 and npm (Debian: nodejs npm), then @grpc/grpc-js and
#             @grpc/proto-loader at the versions of examples/node/package-lock.json, installed
#             with `npm ci` into $RAFTSTORE_EXAMPLES_CACHE/node (never into the repository).
#   Go:       the Go toolchain and Debian's Go sources of grpc-go and protobuf-go (built
#             offline in GOPATH mode, no module proxy), protoc-gen-go, protoc-gen-go-grpc.
#             protoc itself is grpcio-tools' (the `test` extra), as for the Python code.
#             grpc-go is compiled once into $RAFTSTORE_EXAMPLES_CACHE/go-build.
#
# RAFTSTORE_EXAMPLES_CACHE defaults to ${XDG_CACHE_HOME:-~/.cache}/raftstore-examples.
# Usage: scripts/install_toolchains.sh [node|go ...]   (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${RAFTSTORE_EXAMPLES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/raftstore-examples}
# golang-github-golang-protobuf-1-5-dev: grpc-go's codec needs the APIv2-backed github.com/golang/protobuf
# (1.4+); Debian's grpc package is also satisfied by 1.3, which cannot marshal protoc-gen-go 1.28's code.
GO_PACKAGES=(golang-go golang-google-grpc-dev golang-google-protobuf-dev golang-github-golang-protobuf-1-5-dev
    protoc-gen-go protoc-gen-go-grpc)
NODE_PACKAGES=(nodejs npm)
GOCODE_SRC=/usr/share/gocode/src  # Debian's Go sources (examples/go/run.sh: $GOCODE)

log() { echo "install_toolchains: $*" >&2; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo -n "$@"
    else log "need root to run: $*"; return 1
    fi
}

APT_UPDATED=0
apt_install() {
    command -v apt-get >/dev/null || { log "no apt-get: install $* by hand"; return 1; }
    if [ "$APT_UPDATED" = 0 ]; then
        as_root apt-get update -qq >/dev/null || { log "apt-get update failed"; return 1; }
        APT_UPDATED=1
    fi
    log "apt-get install $*"
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

node_ok() {
    command -v node >/dev/null && command -v npm >/dev/null \
        && node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 18 ? 1 : 0)'
}

install_node() {
    node_ok || apt_install "${NODE_PACKAGES[@]}" || return 1
    node_ok || { log "node >= 18 with npm is required (found: $(node --version 2>&1))"; return 1; }
    local dir="$CACHE/node"
    if cmp -s examples/node/package-lock.json "$dir/package-lock.json" \
        && [ -d "$dir/node_modules/@grpc/grpc-js" ] && [ -d "$dir/node_modules/@grpc/proto-loader" ]; then
        return 0
    fi
    mkdir -p "$dir"
    cp examples/node/package.json examples/node/package-lock.json "$dir/"
    log "npm ci into $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) \
        || { rm -f "$dir/package-lock.json"; log "npm ci failed"; return 1; }
}

go_ok() {
    command -v go >/dev/null && command -v protoc-gen-go >/dev/null \
        && command -v protoc-gen-go-grpc >/dev/null \
        && [ -d "$GOCODE_SRC/google.golang.org/grpc" ] && [ -d "$GOCODE_SRC/google.golang.org/protobuf" ] \
        && grep -qs '"google.golang.org/protobuf/' "$GOCODE_SRC"/github.com/golang/protobuf/proto/*.go
}

# Compile grpc-go and protobuf-go once into the build cache examples/go/run.sh uses, so
# that the example (and its test) compiles only itself.
GO_DEPS=(google.golang.org/grpc google.golang.org/grpc/status google.golang.org/grpc/metadata
    google.golang.org/protobuf/runtime/protoimpl google.golang.org/protobuf/types/known/structpb)
warm_go_cache() {
    local gocache=${GOCACHE:-$CACHE/go-build} stamp
    stamp="$gocache/raftstore-warm-$(go env GOVERSION)"
    [ -e "$stamp" ] && return 0
    log "compiling grpc-go into $gocache"
    mkdir -p "$gocache"
    GO111MODULE=off GOFLAGS= GOPATH="${GOCODE_SRC%/src}" GOCACHE="$gocache" go build "${GO_DEPS[@]}" \
        && touch "$stamp"
}

install_go() {
    go_ok || apt_install "${GO_PACKAGES[@]}" || return 1
    go_ok || { log "go, protoc-gen-go, protoc-gen-go-grpc and $GOCODE_SRC are required"; return 1; }
    warm_go_cache || { log "could not compile grpc-go from $GOCODE_SRC"; return 1; }
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(node go)
status=0
for t in "${targets[@]}"; do
    case "$t" in
        node) install_node || status=1 ;;
        go) install_go || status=1 ;;
        *) log "unknown toolchain '$t' (node, go)"; exit 2 ;;
    esac
done
exit $status
