#!/usr/bin/env bash
# Runs its arguments with a real, unlocked Secret Service (gnome-keyring) on a private D-Bus
# session bus, so the keychain tests exercise the same path as a desktop:
#
#   bash .ci/secret-service.sh cargo test --lib auth::
#
# Installs the needed packages first (Debian/Ubuntu, only those missing). The keyring lives in
# a throwaway directory and the daemon exits with the private bus, so nothing is left behind.
# Exports CRMSYNC_TEST_SECRET_SERVICE=1, which turns on the tests that need the keychain.
set -euo pipefail

if [ "$#" -eq 0 ]; then
    echo "usage: $0 COMMAND [ARGS...]" >&2
    exit 2
fi

packages=(dbus-daemon dbus-bin gnome-keyring libsecret-tools keyutils)
missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    echo "secret-service.sh: installing ${missing[*]}" >&2
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The inner script gets the command as its arguments ("$@"), so nothing is re-quoted.
# The grep drops a harmless dbus-daemon warning printed when running as root; PIPESTATUS keeps
# the command's exit code.
set +e
dbus-run-session -- bash -euo pipefail -c '
    XDG_DATA_HOME="$(mktemp -d)"
    export XDG_DATA_HOME
    trap "rm -rf \"$XDG_DATA_HOME\"" EXIT
    # An empty password is not enough: the login collection must be created and unlocked.
    # A probe can reach the bus before the daemon has created the login collection (the
    # bus then starts a second daemon, which finds none): unlock again and retry.
    probe="crmsync-probe-$$"
    stored=""
    for attempt in 1 2 3 4 5; do
        printf %s "crmsync-ci" | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1
        if printf ok | secret-tool store --label="$probe" crmsync-probe "$probe" 2>/dev/null \
            && [ "$(secret-tool lookup crmsync-probe "$probe")" = ok ]; then
            stored=yes
            break
        fi
        sleep "$attempt"
    done
    if [ -z "$stored" ]; then
        echo "secret-service.sh: the Secret Service did not store and return a probe secret" >&2
        exit 1
    fi
    secret-tool clear crmsync-probe "$probe"
    export CRMSYNC_TEST_SECRET_SERVICE=1
    # A fresh session keyring, so keyutils works too.
    keyctl session - "$@"
' secret-service "$@" 2>&1 | grep --line-buffered -v "Failed to set fd limit"
status=${PIPESTATUS[0]}
exit "$status"
