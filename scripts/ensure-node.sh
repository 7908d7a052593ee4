#!/usr/bin/env bash
# Puts Node 24 first on PATH when the system's Node is older than 22.
# Node comes from the npm registry's `node` package, installed into the ignored .tools/ folder,
# so nothing outside the repository is touched. Source this file: `. scripts/ensure-node.sh`.
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$repo_root/.tools"
node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ -x "$tools/node_modules/node/bin/node" ]; then
  export PATH="$tools/node_modules/node/bin:$PATH"
elif [ "$(node_major node)" -lt 22 ]; then
  echo "ensure-node: system Node is $(node --version 2>/dev/null || echo missing); installing Node 24 into .tools/" >&2
  mkdir -p "$tools"
  npm install --prefix "$tools" --no-save --no-package-lock --loglevel=error node@24 >&2
  export PATH="$tools/node_modules/node/bin:$PATH"
fi
