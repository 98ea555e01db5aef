#!/bin/bash
# run-fuzzer.sh WORKDIR FUZZER SEEDDIR [LIBFUZZER OPTIONS...]
# Runs a libFuzzer binary on a working corpus in WORKDIR/corpus (created,
# kept between runs) plus the committed seeds in SEEDDIR (read only: new
# inputs are written to the first directory). A crash input is saved as
# WORKDIR/crash-* (the path is printed) and the exit status is non-zero.
set -euo pipefail

if (($# < 3)); then
	echo "usage: $0 WORKDIR FUZZER SEEDDIR [OPTIONS...]" >&2
	exit 2
fi
work=$1 fuzzer=$2 seeds=$3
shift 3
mkdir -p "$work/corpus"
# libFuzzer's default error exit code, 77, means "skipped" to meson test.
exec "$fuzzer" -error_exitcode=1 -timeout_exitcode=1 \
	-artifact_prefix="$work/" -print_final_stats=1 "$@" \
	"$work/corpus" "$seeds"
