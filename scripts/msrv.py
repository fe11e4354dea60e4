#!/usr/bin/env python3
"""The minimum Rust version per feature set, derived from the lockfile.

For each feature set, the packages the crate builds with (`cargo tree`, normal and build
dependencies, as locked) are looked up in `cargo metadata`, and the highest `rust-version`
they declare is printed beside the floor the crate's own code needs (LANGUAGE_FLOOR, kept by
hand: see the README's "Minimum Rust version"). Only one toolchain can be had on the project's
machines, so this is derived, not tried with older compilers.

Usage: scripts/msrv.py   (from anywhere in the repository)
"""
import json
import subprocess
import sys
from pathlib import Path

# What the crate's own code needs: safe `#[target_feature]` functions and calls of
# `#[target_feature]` functions from matching contexts (Rust 1.86's target_feature_11), and
# `core::arch` intrinsics that are safe inside `#[target_feature]` functions (Rust 1.87).
LANGUAGE_FLOOR = (1, 87)

FEATURE_SETS = [
    ("library only (default-features = false)", ["--no-default-features"]),
    ("library with ml (default-features = false, features = [\"ml\"])", ["--no-default-features", "--features", "ml"]),
    ("CLI without ml (--no-default-features --features cli)", ["--no-default-features", "--features", "cli"]),
    ("default (cli, ml)", []),
    ("ml-ort", ["--features", "ml-ort"]),
    ("serve (default plus the service)", ["--features", "serve"]),
]

ROOT = Path(__file__).resolve().parent.parent


def version(v):
    parts = [int(x) for x in v.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def main():
    meta = json.loads(
        subprocess.check_output(
            ["cargo", "metadata", "--format-version", "1", "--locked", "--all-features"],
            cwd=ROOT,
        )
    )
    declared = {(p["name"], p["version"]): p.get("rust_version") for p in meta["packages"]}
    floor = LANGUAGE_FLOOR + (0,)
    print(f"crate's own code: {floor[0]}.{floor[1]}")
    for name, args in FEATURE_SETS:
        tree = subprocess.check_output(
            ["cargo", "tree", "--locked", "-p", "together-mode", "-e", "normal,build",
             "--prefix", "none", "--format", "{p}"] + args,
            cwd=ROOT,
            text=True,
        )
        best, who = floor, "the crate's own code"
        for line in tree.splitlines():
            fields = line.split()
            if len(fields) < 2:
                continue
            pkg = (fields[0], fields[1].lstrip("v"))
            if pkg[0] == "together-mode":
                continue  # its own rust-version is what this script derives
            rv = declared.get(pkg)
            if rv and version(rv) > best:
                best, who = version(rv), f"{pkg[0]} {pkg[1]}"
        print(f"{name}: {best[0]}.{best[1]} (set by {who})")


if __name__ == "__main__":
    sys.exit(main())
