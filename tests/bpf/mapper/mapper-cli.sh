#!/bin/bash
# kilimanjaro-mapper's command line: every bad argument (and bad config
# file) exits 2 with exactly one line that names it; nothing is touched.
# No privileges needed: validation happens before any BPF call.
#
# usage: mapper-cli.sh MAPPER-BINARY EXAMPLE-CONFIG
set -uo pipefail

mapper=$1
example=$2
dir=$(mktemp -d /tmp/kmb5-cli.XXXXXX)
trap 'rm -rf "$dir"' EXIT
failed=0
ok=(-i lo -a 198.18.20.2 -e 198.18.20.1 -s 198.18.30.1
	--pin-root /nonexistent/kmb5-cli)

# expect_bad "message part" args...
expect_bad() {
	local want=$1 out rc lines
	shift
	out=$("$mapper" "$@" 2>&1 >/dev/null)
	rc=$?
	lines=$(printf '%s\n' "$out" | grep -c .)
	if ((rc != 2)) || ((lines != 1)) || [[ $out != *"$want"* ]]; then
		echo "FAIL: $* -> rc $rc, $lines line(s): $out (want '$want')"
		failed=1
	fi
}

expect_bad "--address: '1.2.3' is not an IPv4 address" \
	-i lo -a 1.2.3 -e 198.18.20.1 -s 198.18.30.1
expect_bad "--edge: 'x' is not an IPv4 address" "${ok[@]}" -e x
expect_bad "--default-edge: '' is not an IPv4 address" "${ok[@]}" -d ''
expect_bad "--service: '198.18.30.1/24' has host bits set" "${ok[@]}" \
	-s 198.18.30.1/24
expect_bad "--service: '198.18.30.0/33': prefix length must be 1..32" \
	"${ok[@]}" -s 198.18.30.0/33
expect_bad "--service: '198.18.30.0/': prefix length" "${ok[@]}" \
	-s 198.18.30.0/
expect_bad "--idle-seconds: '0' is not a number of seconds" "${ok[@]}" \
	--idle-seconds 0
expect_bad "--idle-seconds: '5s' is not a number of seconds" "${ok[@]}" \
	--idle-seconds 5s
expect_bad "--xdp-mode: 'hw' is not native or skb" "${ok[@]}" --xdp-mode hw
expect_bad "--next-hop: 'x' is not route or player" "${ok[@]}" --next-hop x
expect_bad "--pin-root: 'rel' is not an absolute path" "${ok[@]}" \
	--pin-root rel
expect_bad "--interface: 'averyveryverylongname' is not an interface" \
	"${ok[@]}" -i averyveryverylongname
expect_bad "unknown option '--bogus'" "${ok[@]}" --bogus
expect_bad "--edge needs an argument" -i lo --edge
expect_bad "unexpected argument 'extra'" "${ok[@]}" extra
expect_bad "--detach, --attach-only, --show and --check-config exclude" \
	"${ok[@]}" --detach --show
expect_bad "--json only applies to --show" "${ok[@]}" --json
expect_bad "--interface is required" -a 198.18.20.2
expect_bad "--address is required" -i lo -e 198.18.20.1 -s 198.18.30.1
expect_bad "at least one --edge is required" -i lo -a 198.18.20.2 \
	-s 198.18.30.1
expect_bad "at least one --service is required" -i lo -a 198.18.20.2 \
	-e 198.18.20.1
expect_bad "--address 198.18.30.5 lies in service prefix 198.18.30.0/24" \
	-i lo -a 198.18.30.5 -e 198.18.20.1 -s 198.18.30.0/24

cfg="$dir/m.json"
echo '{ "interface": "lo", "edges": "198.18.20.1" }' >"$cfg"
expect_bad "$cfg: field 'edges': expected an array of strings" \
	--config "$cfg"
echo '{ "interface": "lo", "edge": ["198.18.20.1"] }' >"$cfg"
expect_bad "$cfg: unknown field 'edge'" --config "$cfg"
echo '{ "interface": "lo", "services": ["198.18.30.0/24", 5] }' >"$cfg"
expect_bad "$cfg: field 'services[1]': expected a string" --config "$cfg"
echo '{ "interface": "lo", ' >"$cfg"
expect_bad "$cfg: unexpected end of file" --config "$cfg"
printf '{\n "interface": "lo",\n "x": tru }' >"$cfg"
expect_bad "$cfg:3:10: boolean expected" --config "$cfg"
expect_bad "$dir/missing.json: No such file" --config "$dir/missing.json"
printf '{ "interface": "lo" }\0{ "bogus": 1 }' >"$cfg"
expect_bad "$cfg: contains a NUL byte at offset 21" --config "$cfg"

out=$("$mapper" --help) || { echo "FAIL: --help exit $?"; failed=1; }
for o in interface address edge default-edge service idle-seconds pin-root \
	xdp-mode next-hop config check-config attach-only detach show json; do
	[[ $out == *"--$o"* ]] || { echo "FAIL: --help lacks --$o"; failed=1; }
done

# The shipped example is valid, and the command line wins over it.
out=$("$mapper" --config "$example" -i eth0 --idle-seconds 60 \
	--check-config 2>&1) || { echo "FAIL: example config: $out"; failed=1; }
[[ $out == *"idle-seconds 60"* && $out == *"interface eth0"* ]] ||
	{ echo "FAIL: command line does not win over the file: $out"; failed=1; }
# A default edge is an edge.
out=$("$mapper" "${ok[@]}" -d 198.18.20.9 --check-config 2>&1)
[[ $out == *"edge 198.18.20.9"*"default-edge 198.18.20.9"* ]] ||
	{ echo "FAIL: default edge not added to the edges: $out"; failed=1; }

((failed)) && exit 1
echo "PASS"
