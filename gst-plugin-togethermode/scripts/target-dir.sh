# shellcheck shell=bash
# Sourced by the plugin's scripts: sets REPO (the workspace root) and TARGET_DIR (cargo's
# target directory: $CARGO_TARGET_DIR when set, a relative one taken from the directory the
# script was started from, else the workspace's target/). A set CARGO_TARGET_DIR is exported
# as the absolute path, so cargo run from elsewhere builds into the same directory.
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [ -n "${CARGO_TARGET_DIR:-}" ]; then
  case "$CARGO_TARGET_DIR" in
    /*) TARGET_DIR=$CARGO_TARGET_DIR ;;
    *) TARGET_DIR=$PWD/$CARGO_TARGET_DIR ;;
  esac
  export CARGO_TARGET_DIR=$TARGET_DIR
else
  TARGET_DIR=$REPO/target
fi
