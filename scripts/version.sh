#!/bin/sh
# version.sh: the version lightvm and lightvmd report, on stdout.
#
# From `git describe` when the tree is a git checkout with a tag; a
# checkout without tags gives VERSION plus the commit ("0.1.0-gabc1234",
# "-dirty" with local changes); a tree without git (a release tarball)
# gives the VERSION file alone.
set -eu
top="$(cd "$(dirname "$0")/.." && pwd)"
base="$(cat "$top/VERSION" 2>/dev/null || echo unknown)"
if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
    if v="$(git -C "$top" describe --tags --dirty 2>/dev/null)"; then
        echo "${v#v}"
        exit 0
    fi
    if h="$(git -C "$top" describe --always --dirty 2>/dev/null)"; then
        echo "$base-g$h"
        exit 0
    fi
fi
echo "$base"
