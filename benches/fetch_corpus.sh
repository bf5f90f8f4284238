#!/usr/bin/env bash
# Installs the permissively licensed sources the benchmarks read (Debian packages only).
set -euo pipefail
SRC=${CODEMILL_BENCH_SRC:-/tmp/codemill-bench-src}
apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q golang-1.19-src node-typescript
if ! grep -rqs "deb-src\|Types: deb-src" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  # Source packages from the mirrors this machine already uses for binary packages.
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
      > /etc/apt/sources.list.d/codemill-bench-src.sources
  else
    sed -n 's/^deb /deb-src /p' /etc/apt/sources.list > /etc/apt/sources.list.d/codemill-bench-src.list
  fi
  apt-get update -q
fi
mkdir -p "$SRC" && cd "$SRC"
# The default source version, else the others apt lists: the mirror can list a security update
# whose files it no longer serves (zlib's deb12u1 answered 404 here). Each try downloads into
# a folder of its own, kept only if complete, so a half-fetched version leaves no tarball behind.
fetch() {
  local v try
  for v in "" $(apt-cache showsrc "$1" | sed -n 's/^Version: //p'); do
    try=$(mktemp -d "$PWD/.fetch.XXXXXX")
    if (cd "$try" && apt-get source -q --download-only "$1${v:+=$v}"); then
      mv "$try"/* . && rmdir "$try"
      return
    fi
    rm -rf "$try"
  done
  echo "fetch_corpus.sh: no version of the source package $1 could be downloaded" >&2
  return 1
}
# The last five are held out of every training split whole (corpus.HELD_OUT).
for pkg in libcommons-lang3-java commons-io guava-libraries zlib lua5.4 fmtlib nlohmann-json3 googletest \
  node-webpack node-typescript libuv1 sqlite3 abseil; do
  fetch "$pkg"
done
for f in *.orig.tar.*; do tar xf "$f"; done
echo "sources in $SRC"
