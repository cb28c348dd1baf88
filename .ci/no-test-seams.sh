#!/usr/bin/env bash
# Checks that a build without the `test-seams` feature (what `cargo build` and `cargo install`
# make) reads none of the test-only environment variables: their names must not be in the
# binary at all. A binary to check can be given (default: a fresh `cargo build` of crmsync).
set -euo pipefail
cd "$(dirname "$0")/.."

bin="${1:-}"
if [ -z "$bin" ]; then
    # No dev-dependencies are built here, so the feature the tests turn on is off.
    cargo build --quiet --bin crmsync
    bin=target/debug/crmsync
fi

seams=(CRMSYNC_TEST_KEYRING CRMSYNC_TEST_BROWSER CRMSYNC_TEST_NOW CRMSYNC_TEST_KILL_AFTER_WRITES
       CRMSYNC_TEST_KILL_BEFORE_TOKEN_SAVE
       CRMSYNC_TEST_SECRET_SERVICE CRMSYNC_TEST_NO_SLEEP CRMSYNC_TEST_SEARCH_LIMIT)
found=0
for var in "${seams[@]}"; do
    if grep -q -a -F "$var" "$bin"; then
        echo "no-test-seams.sh: \`$bin\` still reads \`$var\`" >&2
        found=1
    fi
done
if [ "$found" -ne 0 ]; then
    exit 1
fi
echo "no-test-seams.sh: \`$bin\` has none of ${seams[*]}"
