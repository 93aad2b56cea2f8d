#!/bin/sh
# pjdfstest in a busybox guest (scripts/pjdfstest.ts packs this next to the pjdfstest binary and its tests/ tree).
#   sh run.sh WORKDIR DIR...
# runs every tests/DIR/*.t in a fresh directory under WORKDIR (the file system under test), as the suite expects
# (root, umask 022), and prints for each file a "### DIR/FILE" line followed by its TAP lines (the plan, "ok" and
# "not ok"); the host counts them (scripts/pjdfstest/tap.ts). A file gets at most 300 s.
suite=$(cd "$(dirname "$0")" && pwd)
work=$1
shift
# The suite's namegen runs `openssl md5`: bin/openssl does it with busybox's md5sum.
PATH="$suite/bin:$PATH"
export PATH
umask 022
for d in "$@"; do
	for t in "$suite/tests/$d"/*.t; do
		echo "### $d/${t##*/}"
		rm -rf "$work/pjd.run"
		if ! mkdir "$work/pjd.run"; then
			echo "not ok - cannot make $work/pjd.run"
			continue
		fi
		(cd "$work/pjd.run" && timeout 300 sh "$t" 2>&1) | grep -E '^(1\.\.[0-9]+|ok|not ok)'
		rm -rf "$work/pjd.run"
	done
done
