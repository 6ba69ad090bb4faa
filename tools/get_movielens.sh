#!/usr/bin/env bash
# Fetch a GroupLens MovieLens data set for the `movielens:DIR` source.
#
#   bash tools/get_movielens.sh                 # ml-100k into data/ml-100k
#   bash tools/get_movielens.sh ml-1m data      # ml-1m into data/ml-1m
#   python -m recguru_core stats movielens:data/ml-100k
#
# Needs curl or wget, and python (to unzip). The data sets are GroupLens's: see
# https://grouplens.org/datasets/movielens/ for their licence (research use, no redistribution),
# which is why the project does not ship them.
set -euo pipefail

name="${1:-ml-100k}"
dest="${2:-data}"
case "$name" in
  ml-100k) expect="u.data" ;;
  ml-1m) expect="ratings.dat" ;;
  *) echo "error: unknown data set '$name': expected ml-100k or ml-1m" >&2; exit 2 ;;
esac

if [[ -f "$dest/$name/$expect" ]]; then
  echo "$dest/$name is already there"
  exit 0
fi

url="https://files.grouplens.org/datasets/movielens/$name.zip"
mkdir -p "$dest"
tmp="$(mktemp "$dest/.$name.XXXXXX.zip")"
trap 'rm -f "$tmp"' EXIT

echo "downloading $url" >&2
if command -v curl >/dev/null 2>&1; then
  curl -fL --retry 3 -o "$tmp" "$url"
elif command -v wget >/dev/null 2>&1; then
  wget -q -O "$tmp" "$url"
else
  echo "error: neither curl nor wget is installed" >&2
  exit 2
fi

python - "$tmp" "$dest" <<'PY'
import sys, zipfile
archive, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(archive) as z:
    bad = [n for n in z.namelist() if n.startswith("/") or ".." in n.split("/")]
    if bad:
        sys.exit(f"error: unexpected path in the archive: {bad[0]}")
    z.extractall(dest)
PY

if [[ ! -f "$dest/$name/$expect" ]]; then
  echo "error: $dest/$name/$expect is missing after extraction" >&2
  exit 2
fi
echo "extracted to $dest/$name: use the source movielens:$dest/$name"
