#!/usr/bin/env bash
# check_format.sh - every C source and header of the project is as
# clang-format (.clang-format at the root) would write it; lists the files
# that are not. Needs AN_SOURCE_ROOT (set by meson test) and clang-format.
set -euo pipefail
cd "$AN_SOURCE_ROOT"
mapfile -t files < <(find apps bench include runtime tests tools \
    \( -name '*.c' -o -name '*.h' -o -name '*.cc' \) -not -path '*/corpus/*' -print 2>/dev/null | sort)
bad=0
for f in "${files[@]}"; do
    if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
        echo "not formatted: $f (run: clang-format -i $f)"
        bad=1
    fi
done
echo "${#files[@]} files checked"
exit $bad
