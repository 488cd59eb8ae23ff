#!/bin/bash
# run-tests.sh SUITE...: run test suites (executables or scripts that end
# with "N passed, N failed" or cmocka's summary), then print the total as
# the last line: "N passed, N failed". Exit status 0 only if all passed.
set -u
# cmocka suites report in TAP: one "ok N" or "not ok N" line per test.
export CMOCKA_MESSAGE_OUTPUT=TAP
total_pass=0
total_fail=0
for suite in "$@"; do
    echo "=== $suite"
    out=$(mktemp)
    "$suite" 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}
    # Our runner line, or cmocka's TAP lines.
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)
    if [ -n "$line" ]; then
        p=$(echo "$line" | awk '{print $1}')
        f=$(echo "$line" | awk '{print $3}')
    else
        p=$(grep -cE '^ok [0-9]+' "$out")
        f=$(grep -cE '^not ok [0-9]+' "$out")
    fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "suite $suite exited with status $rc"
        f=1
    fi
    if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
        echo "suite $suite ran no tests"
        f=1
    fi
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    rm -f "$out"
done
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
