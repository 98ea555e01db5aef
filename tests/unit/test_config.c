// SPDX-License-Identifier: GPL-2.0-only
/*
 * Config parse + validate: good files give the expected specs (in network
 * order), bad files give exactly the expected error lines.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "config.h"

#define NS 1000000000ull

static int parse(const char *text, struct km_cfg *cfg, struct km_cfg_errors *e)
{
	memset(e, 0, sizeof(*e));
	return km_cfg_parse_string("t.json", text, strlen(text), cfg, e);
}

static char *errors_joined(const struct km_cfg_errors *e)
{
	size_t i, len = 1;
	char *s;

	for (i = 0; i < e->n; i++)
		len += strlen(e->msg[i]) + 1;
	s = calloc(1, len);
	cr_assert_not_null(s);
	for (i = 0; i < e->n; i++) {
		strcat(s, e->msg[i]);
		strcat(s, "\n");
	}
	return s;
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	cr_assert_not_null(f, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static const char *example_path(void)
{
	const char *p = getenv("KM_EXAMPLE_CONFIG");

	return p ? p : "packaging/kilimanjaro.example.json";
}

/* ------------------------------------------------------------ good input */

#define MINIMAL "{ \"edge_addresses\": [\"198.18.0.2\"] }"

Test(config, minimal_file_gets_documented_defaults)
{
	struct km_cfg cfg;
	struct km_cfg_errors e;

	cr_assert_eq(parse(MINIMAL, &cfg, &e), 0);
	cr_assert_eq(e.n, 0);
	cr_assert_str_empty(cfg.ifname);
	cr_assert_eq(cfg.xdp_mode, KM_XDP_MODE_NATIVE);
	cr_assert(!cfg.xdp_mode_set);
	cr_assert_eq(cfg.n_edge_addrs, 1);
	cr_assert_eq(cfg.edge_addrs[0], htonl(0xc6120002));
	cr_assert_eq(cfg.punch_idle_ns, 300 * NS);
	cr_assert_eq(cfg.validated_idle_ns, 300 * NS);
	cr_assert_eq(cfg.rl_prefix_len, 24);
	cr_assert(cfg.icmp_echo);
	cr_assert_eq(cfg.map_size[KM_CFG_SZ_PREFIXES], KM_DEF_PREFIXES);
	cr_assert_eq(cfg.map_size[KM_CFG_SZ_RL_SRC], KM_DEF_RL_SRC);
	cr_assert(!cfg.map_size_set[KM_CFG_SZ_RL_SRC]);
	cr_assert_eq(cfg.n_services + cfg.n_allow + cfg.n_deny + cfg.n_blocks,
		     0);
	km_cfg_free(&cfg);
	km_cfg_errors_free(&e);
}

Test(config, example_file_is_valid)
{
	struct km_cfg cfg;
	struct km_cfg_errors e = {0};
	char *joined;
	int r;

	r = km_cfg_parse_file(example_path(), &cfg, &e);
	joined = errors_joined(&e);
	cr_assert_eq(r, 0, "example config rejected:\n%s", joined);
	cr_assert_str_eq(cfg.ifname, "eth0");
	cr_assert_eq(cfg.n_services, 3);
	cr_assert_str_eq(cfg.service_names[1], "gmod-1");
	cr_assert_eq(cfg.services[1].backend_port, htons(27015));
	cr_assert_eq(cfg.services[0].a2s.flags, KM_A2S_F_ENABLED);
	cr_assert_eq(cfg.services[1].a2s.flags, KM_A2S_F_ENABLED);
	cr_assert_eq(cfg.services[1].a2s.timeout_ns, 5000 * 1000000ull);
	cr_assert_eq(cfg.services[2].a2s.flags, 0, "the tcp service");
	cr_assert_eq(cfg.a2s_epoch_s, 30);
	cr_assert_eq(cfg.n_allow, 1);
	cr_assert_eq(cfg.n_deny, 2);
	cr_assert_eq(cfg.n_blocks, 2);
	free(joined);
	km_cfg_free(&cfg);
	km_cfg_errors_free(&e);
}

static const char *const full_config =
    "/* block comment */\n"
    "{\n"
    "  \"interface\": \"veth0\", // line comment\n"
    "  \"xdp_mode\": \"skb\",\n"
    "  \"edge_addresses\": [\"198.18.0.2\", \"198.18.0.3\"],\n"
    "  \"timeouts\": { \"punch_idle_s\": 60, \"validated_idle_s\": 90 },\n"
    "  \"rate_limit_prefix_len\": 28,\n"
    "  \"icmp_echo\": false,\n"
    "  \"map_sizes\": { \"prefixes\": 1024, \"punches\": 4096 },\n"
    "  \"defaults\": {\n"
    "    \"unvalidated\": { \"pps\": 100, \"burst_packets\": 200,\n"
    "                     \"bytes_per_s\": 1000, \"burst_bytes\": 3000,\n"
    "                     \"block_s\": 2.5 },\n"
    "    \"icmp\": { \"pps\": 5, \"burst_packets\": 10 }\n"
    "  },\n"
    "  \"services\": [\n"
    "    { \"name\": \"a\", \"protocol\": \"udp\", \"address\": "
    "\"198.18.10.1\",\n"
    "      \"port\": 27015, \"backend\": \"198.19.0.10\" },\n"
    "    { \"name\": \"b\", \"protocol\": \"tcp\", \"address\": "
    "\"198.18.10.1\",\n"
    "      \"port\": 27015, \"backend\": \"198.19.0.11\", \"backend_port\": "
    "28000,\n"
    "      \"limits\": { \"unvalidated\": { \"pps\": 7 },\n"
    "                  \"total\": { \"pps\": 1000, \"burst_packets\": 1 } } }\n"
    "  ],\n"
    "  \"allow\": [\"198.18.1.0/24\", \"198.19.0.7\", \"0.0.0.0/0\"],\n"
    "  \"deny\": [\"198.18.128.0/17\"],\n"
    "  \"blocks\": [ { \"address\": \"198.18.5.5\", \"seconds\": 30 },\n"
    "              { \"address\": \"198.18.5.6\", \"until\": "
    "\"2030-01-01T00:00:00Z\" } ]\n"
    "} /* trailing comment */\n";

Test(config, every_key_reaches_the_struct)
{
	struct km_cfg cfg;
	struct km_cfg_errors e;

	cr_assert_eq(parse(full_config, &cfg, &e), 0, "%s",
		     e.n ? e.msg[0] : "");
	cr_assert_str_eq(cfg.ifname, "veth0");
	cr_assert_eq(cfg.xdp_mode, KM_XDP_MODE_SKB);
	cr_assert(cfg.xdp_mode_set);
	cr_assert_eq(cfg.n_edge_addrs, 2);
	cr_assert_eq(cfg.edge_addrs[1], htonl(0xc6120003));
	cr_assert_eq(cfg.punch_idle_ns, 60 * NS);
	cr_assert_eq(cfg.validated_idle_ns, 90 * NS);
	cr_assert_eq(cfg.rl_prefix_len, 28);
	cr_assert(!cfg.icmp_echo);
	cr_assert_eq(cfg.map_size[KM_CFG_SZ_PREFIXES], 1024);
	cr_assert(cfg.map_size_set[KM_CFG_SZ_PREFIXES]);
	cr_assert_eq(cfg.map_size[KM_CFG_SZ_PUNCHES], 4096);
	cr_assert_eq(cfg.map_size[KM_CFG_SZ_BLOCKS], KM_DEF_BLOCKS);
	cr_assert(!cfg.map_size_set[KM_CFG_SZ_BLOCKS]);
	cr_assert_eq(cfg.n_services, 2);
	cr_assert_eq(cfg.n_allow, 3);
	cr_assert_eq(cfg.n_deny, 1);
	cr_assert_eq(cfg.n_blocks, 2);
	km_cfg_free(&cfg);
	km_cfg_errors_free(&e);
}

Test(config, services_are_in_network_order)
{
	static const uint8_t svc_addr[4] = {198, 18, 10, 1};
	static const uint8_t backend[4] = {198, 19, 0, 11};
	static const uint8_t port[2] = {0x69, 0x87};  /* 27015 */
	static const uint8_t bport[2] = {0x6d, 0x60}; /* 28000 */
	const struct km_service_spec *s;
	struct km_cfg cfg;
	struct km_cfg_errors e;

	cr_assert_eq(parse(full_config, &cfg, &e), 0);
	s = &cfg.services[0];
	cr_assert_eq(s->proto, IPPROTO_UDP);
	cr_assert_eq(s->backend_port, 0, "no backend_port keeps the port");
	s = &cfg.services[1];
	cr_assert_eq(s->proto, IPPROTO_TCP);
	cr_assert_arr_eq(&s->addr, svc_addr, 4);
	cr_assert_arr_eq(&s->backend, backend, 4);
	cr_assert_arr_eq(&s->port, port, 2);
	cr_assert_arr_eq(&s->backend_port, bport, 2);
	km_cfg_free(&cfg);
	km_cfg_errors_free(&e);
}

Test(config, service_limits_override_defaults_field_by_field)
{
	const struct km_service_spec *a, *b;
	struct km_cfg cfg;
	struct km_cfg_errors e;

	cr_assert_eq(parse(full_config, &cfg, &e), 0);
	a = &cfg.services[0];
	b = &cfg.services[1];
	cr_assert_eq(a->unvalidated.pps, 100);
	cr_assert_eq(a->unvalidated.burst_pkts, 200);
	cr_assert_eq(a->unvalidated.bps, 1000);
	cr_assert_eq(a->unvalidated.burst_bytes, 3000);
	cr_assert_eq(a->unvalidated.block_ms, 2500);
	cr_assert_eq(a->icmp.pps, 5);
	cr_assert_eq(a->validated.pps, 0, "no default: unlimited");
	cr_assert_eq(a->total.pps, 0);
	/* b overrides only unvalidated.pps: the other fields stay default */
	cr_assert_eq(b->unvalidated.pps, 7);
	cr_assert_eq(b->unvalidated.burst_pkts, 200);
	cr_assert_eq(b->unvalidated.block_ms, 2500);
	cr_assert_eq(b->total.pps, 1000);
	cr_assert_eq(b->total.burst_pkts, 1);
	cr_assert_eq(b->icmp.burst_pkts, 10);
	km_cfg_free(&cfg);
	km_cfg_errors_free(&e);
}

Test(config, prefixes_become_lpm_keys_in_network_order)
{
	static const uint8_t p24[4] = {198, 18, 1, 0};
	static const uint8_t host[4] = {198, 19, 0, 7};
	static const uint8_t p17[4] = {198, 18, 128, 0};
	struct km_cfg cfg;
	struct km_cfg_errors e;

	cr_assert_eq(parse(full_config, &cfg, &e), 0);
	cr_assert_eq(cfg.allow[0].prefixlen, 24);
	cr_assert_arr_eq(&cfg.allow[0].addr, p24, 4);
	cr_assert_eq(cfg.allow[0].addr, htonl(0xc6120100));
	cr_assert_eq(cfg.allow[1].prefixlen, 32, "a bare address is a /32");
	cr_assert_arr_eq(&cfg.allow[1].addr, host, 4);
	cr_assert_eq(cfg.allow[2].prefixlen, 0);
	cr_assert_eq(cfg.allow[2].addr, 0);
	cr_assert_eq(cfg.deny[0].prefixlen, 17);
	cr_assert_arr_eq(&cfg.deny[0].addr, p17, 4);
	km_cfg_free(&cfg);
	km_cfg_errors_free(&e);
}

Test(config, km_config_fields)
{
	struct km_config kc = {.active_lists = 1, .test_now_ns = 77};
	struct km_cfg cfg;
	struct km_cfg_errors e;

	cr_assert_eq(parse(full_config, &cfg, &e), 0);
	km_cfg_to_km_config(&cfg, &kc);
	cr_assert_eq(kc.abi_version, KM_ABI_VERSION);
	cr_assert_eq(kc.edge_addr, htonl(0xc6120002), "first edge address");
	cr_assert_eq(kc.flags & KM_CFG_F_ICMP_ECHO, 0);
	cr_assert_eq(kc.punch_idle_ns, 60 * NS);
	cr_assert_eq(kc.validated_idle_ns, 90 * NS);
	cr_assert_eq(kc.rl_prefix_len, 28);
	cr_assert_eq(kc.active_lists, 1, "list flip state is not the file's");
	cr_assert_eq(kc.test_now_ns, 77);
	km_cfg_free(&cfg);
	km_cfg_errors_free(&e);
}

Test(config, blocks_resolve_to_monotonic_expiry)
{
	struct km_block_spec out[2];
	struct km_cfg cfg;
	struct km_cfg_errors e;
	int64_t until, now_real;
	uint64_t now = 5000 * NS;

	cr_assert_eq(parse(full_config, &cfg, &e), 0);
	cr_assert_eq(km_cfg_parse_rfc3339("2030-01-01T00:00:00Z", &until), 0);
	now_real = until - 100;
	cr_assert_eq(km_cfg_blocks_resolve(&cfg, now, now_real, out), 2);
	cr_assert_eq(out[0].addr, htonl(0xc6120505));
	cr_assert_eq(out[0].until_ns, now + 30 * NS);
	cr_assert_eq(out[1].addr, htonl(0xc6120506));
	cr_assert_eq(out[1].until_ns, now + 100 * NS);
	/* once the `until` time has passed, the entry is left out */
	cr_assert_eq(km_cfg_blocks_resolve(&cfg, now, until, out), 1);
	cr_assert_eq(out[0].addr, htonl(0xc6120505));
	km_cfg_free(&cfg);
	km_cfg_errors_free(&e);
}

Test(config, rfc3339)
{
	int64_t t;

	cr_assert_eq(km_cfg_parse_rfc3339("1970-01-01T00:00:00Z", &t), 0);
	cr_assert_eq(t, 0);
	cr_assert_eq(km_cfg_parse_rfc3339("2026-11-27T12:00:00Z", &t), 0);
	cr_assert_eq(t, 1795780800);
	cr_assert_eq(km_cfg_parse_rfc3339("2026-11-27T14:00:00.250+02:00", &t),
		     0);
	cr_assert_eq(t, 1795780800);
	cr_assert_eq(km_cfg_parse_rfc3339("2026-11-27t07:30:00-04:30", &t), 0);
	cr_assert_eq(t, 1795780800);
	cr_assert_eq(km_cfg_parse_rfc3339("2024-02-29T00:00:00Z", &t), 0);
	cr_assert_eq(km_cfg_parse_rfc3339("2023-02-29T00:00:00Z", &t), -EINVAL);
	cr_assert_eq(km_cfg_parse_rfc3339("2026-11-27T12:00:00", &t), -EINVAL);
	cr_assert_eq(km_cfg_parse_rfc3339("2026-11-27 24:00:00Z", &t), -EINVAL);
	cr_assert_eq(km_cfg_parse_rfc3339("2026-11-27T12:00:00Zx", &t),
		     -EINVAL);
	cr_assert_eq(km_cfg_parse_rfc3339("2026-1-27T12:00:00Z", &t), -EINVAL);
	cr_assert_eq(km_cfg_parse_rfc3339("", &t), -EINVAL);
}

/* ------------------------------------------------------------- bad input */

struct bad_case {
	const char *what;
	const char *json;
	const char *errors; /* every expected line, each ending in \n */
};

#define E "\"edge_addresses\": [\"198.18.0.2\"]"
#define SVC(extra)                                                             \
	"{\"protocol\": \"udp\", \"address\": \"198.18.10.1\", \"port\": "     \
	"27015, \"backend\": \"198.19.0.10\"" extra "}"

static const struct bad_case bad_cases[] = {
    {"malformed JSON gives line and column",
     "{\n  \"edge_addresses\" [\"198.18.0.2\"]\n}",
     "t.json: line 2, column 20: invalid JSON: object property name separator "
     "':' expected\n"},
    {"truncated JSON", "{ " E ",",
     "t.json: line 1, column 36: invalid JSON: unexpected end of data\n"},
    {"text after the object", "{ " E " } x",
     "t.json: line 1, column 38: unexpected text after the end of the "
     "top-level object\n"},
    {"empty file", "",
     "t.json: line 1, column 1: invalid JSON: unexpected end of data\n"},
    {"top level not an object", "[1, 2]",
     "t.json: the top level must be an object { ... }, not a list\n"},
    {"unknown top-level key with suggestion", "{ " E ", \"servces\": [] }",
     "t.json: servces: unknown key (did you mean \"services\"?)\n"},
    {"unknown key without close match", "{ " E ", \"colour\": 1 }",
     "t.json: colour: unknown key\n"},
    {"newline in a key stays on one line",
     "{ " E ", \"x\\n<0>forged\": 1 }",
     "t.json: x?<0>forged: unknown key\n"},
    {"missing edge addresses", "{ }",
     "t.json: edge_addresses: missing (required: this edge's own addresses, "
     "the first is the IPIP outer source)\n"},
    {"empty edge addresses", "{ \"edge_addresses\": [] }",
     "t.json: edge_addresses: is empty; at least one address is needed (the "
     "first is the IPIP outer source)\n"},
    {"edge addresses not a list", "{ \"edge_addresses\": \"198.18.0.2\" }",
     "t.json: edge_addresses: must be a list, not a string\n"},
    {"bad and duplicate edge addresses",
     "{ \"edge_addresses\": [\"198.18.0.2\", \"198.18.0.256\", 7, "
     "\"198.18.0.2\", \"224.0.0.5\", \"127.0.0.1\"] }",
     "t.json: edge_addresses[1]: \"198.18.0.256\" is not an IPv4 address "
     "(a.b.c.d)\n"
     "t.json: edge_addresses[2]: must be a string, not an integer\n"
     "t.json: edge_addresses[3]: 198.18.0.2 is listed twice\n"
     "t.json: edge_addresses[4]: 224.0.0.5 is a multicast address\n"
     "t.json: edge_addresses[5]: 127.0.0.1 is a loopback address\n"},
    {"interface name", "{ " E ", \"interface\": \"eth0:1\" }",
     "t.json: interface: \"eth0:1\": interface names cannot contain '/', ':', "
     "spaces or control characters\n"},
    {"interface name too long",
     "{ " E ", \"interface\": \"abcdefghijklmnop\" }",
     "t.json: interface: is 16 characters long, at most 15 allowed\n"},
    {"xdp mode", "{ " E ", \"xdp_mode\": \"drv\" }",
     "t.json: xdp_mode: \"drv\" is not one of \"native\", \"skb\"\n"},
    {"timeouts",
     "{ " E ", \"timeouts\": { \"punch_idle_s\": 0, \"validated_idle_s\": 1.5, "
	    "\"idle\": 1 } }",
     "t.json: timeouts.idle: unknown key\n"
     "t.json: timeouts.punch_idle_s: 0 is out of range 1..604800\n"
     "t.json: timeouts.validated_idle_s: must be an integer, not a decimal "
     "number\n"},
    {"rate limit prefix length", "{ " E ", \"rate_limit_prefix_len\": 0 }",
     "t.json: rate_limit_prefix_len: 0 is out of range 1..32\n"},
    {"icmp_echo type", "{ " E ", \"icmp_echo\": 1 }",
     "t.json: icmp_echo: must be true or false, not an integer\n"},
    {"map sizes",
     "{ " E ", \"map_sizes\": { \"prefixes\": 1, \"blocks\": 99999999999, "
	    "\"punch\": 100 } }",
     "t.json: map_sizes.punch: unknown key (did you mean \"punches\"?)\n"
     "t.json: map_sizes.prefixes: 1 is out of range 64..16777216\n"
     "t.json: map_sizes.blocks: 99999999999 is out of range 64..16777216\n"},
    {"burst missing where a rate is set",
     "{ " E ", \"defaults\": { \"unvalidated\": { \"pps\": 10, "
	    "\"bytes_per_s\": 100 } } }",
     "t.json: defaults.unvalidated.burst_packets: must be at least 1 when pps "
     "is set\n"
     "t.json: defaults.unvalidated.burst_bytes: must be at least 1 when "
     "bytes_per_s is set\n"},
    {"limit values",
     "{ " E ", \"defaults\": { \"total\": { \"pps\": -1, \"block_s\": \"10\" "
	    "}, \"icmp\": { \"block_s\": 1e9 }, \"tcp\": {} } }",
     "t.json: defaults.tcp: unknown key\n"
     "t.json: defaults.total.pps: -1 is out of range 0..4294967295\n"
     "t.json: defaults.total.block_s: must be a number of seconds, not a "
     "string\n"
     "t.json: defaults.icmp.block_s: 1e9 is out of range 0..86400\n"},
    {"duplicate services",
     "{ " E ", \"services\": [ " SVC("") ", " SVC("") " ] }",
     "t.json: services[1]: duplicate of services[0] (udp 198.18.10.1:27015)\n"},
    {"service fields",
     "{ " E ", \"services\": [ {\"protocol\": \"sctp\", \"address\": "
	    "\"198.18.10.1/32\", \"port\": 70000, \"backend\": "
	    "\"198.19.0.10\", \"backend_port\": 0, \"nmae\": \"x\"} ] }",
     "t.json: services[0].nmae: unknown key (did you mean \"name\"?)\n"
     "t.json: services[0].protocol: \"sctp\" is not one of \"udp\", \"tcp\"\n"
     "t.json: services[0].address: \"198.18.10.1/32\" is not an IPv4 address "
     "(a.b.c.d)\n"
     "t.json: services[0].port: 70000 is out of range 1..65535\n"
     "t.json: services[0].backend_port: 0 is out of range 1..65535\n"},
    {"service required fields", "{ " E ", \"services\": [ {}, 3 ] }",
     "t.json: services[0].protocol: missing (required)\n"
     "t.json: services[0].address: missing (required)\n"
     "t.json: services[0].port: missing (required)\n"
     "t.json: services[0].backend: missing (required)\n"
     "t.json: services[1]: must be an object, not an integer\n"},
    {"service address is an edge address",
     "{ " E ", \"services\": [ {\"protocol\": \"tcp\", \"address\": "
	    "\"198.18.0.2\", \"port\": 1, \"backend\": \"198.18.0.2\"} ] }",
     "t.json: services[0].address: 198.18.0.2 is an edge address; services "
     "need addresses of their own\n"
     "t.json: services[0].backend: 198.18.0.2 is an edge address, not a "
     "game-server host\n"},
    {"duplicate service names",
     "{ " E ", \"services\": [ " SVC(
	 ", \"name\": \"a\"") ", {\"name\": \"a\", \"protocol\": \"tcp\", "
			      "\"address\": \"198.18.10.1\", \"port\": 27015, "
			      "\"backend\": \"198.19.0.10\"} ] }",
     "t.json: services[1]: name \"a\" is already used by services[0]\n"},
    {"service limit override without burst",
     "{ " E ", \"services\": [ " SVC(
	 ", \"limits\": { \"validated\": { \"pps\": 5 } }") " ] }",
     "t.json: services[0].limits.validated.burst_packets: must be at least 1 "
     "when pps is set (here or in defaults.validated)\n"},
    {"same protocol and port on another address is fine, port 0 is not",
     "{ " E ", \"services\": [ " SVC(
	 "") ", {\"protocol\": \"udp\", \"address\": \"198.18.10.2\", "
	     "\"port\": 0, \"backend\": \"198.19.0.10\"} ] }",
     "t.json: services[1].port: 0 is out of range 1..65535\n"},
    {"prefixes",
     "{ " E
     ", \"allow\": [\"198.18.1.1/24\", \"198.18.0.0/33\", \"198.18.0.0/\", "
     "\"198.18.0.0/-1\", \"198.18.0.0/24x\", \"\", \"::1\"] }",
     "t.json: allow[0]: 198.18.1.1/24 has host bits set (did you mean "
     "198.18.1.0/24?)\n"
     "t.json: allow[1]: \"198.18.0.0/33\": prefix length must be 0..32\n"
     "t.json: allow[2]: \"198.18.0.0/\": prefix length must be 0..32\n"
     "t.json: allow[3]: \"198.18.0.0/-1\": prefix length must be 0..32\n"
     "t.json: allow[4]: \"198.18.0.0/24x\": prefix length must be 0..32\n"
     "t.json: allow[5]: \"\" is not an IPv4 prefix (a.b.c.d/len)\n"
     "t.json: allow[6]: \"::1\" is not an IPv4 prefix (a.b.c.d/len)\n"},
    {"duplicate prefixes within and across lists",
     "{ " E
     ", \"allow\": [\"198.18.1.0/24\", \"198.18.2.0/24\", \"198.18.1.0/24\"], "
     "\"deny\": [\"198.18.2.0/24\", \"198.18.2.0/23\"] }",
     "t.json: allow[2]: 198.18.1.0/24 is already listed at allow[0]\n"
     "t.json: deny[0]: 198.18.2.0/24 is already listed at allow[1]\n"},
    {"more prefixes than the map holds",
     "{ " E ", \"map_sizes\": { \"prefixes\": 64 }, \"deny\": ["
     "\"1.0.0.1\",\"1.0.0.2\",\"1.0.0.3\",\"1.0.0.4\",\"1.0.0.5\",\"1.0.0.6\","
     "\"1.0.0.7\",\"1.0.0.8\",\"1.0.0.9\",\"1.0.0.10\","
     "\"1.0.0.11\",\"1.0.0.12\",\"1.0.0.13\",\"1.0.0.14\",\"1.0.0.15\",\"1.0.0."
     "16\",\"1.0.0.17\",\"1.0.0.18\",\"1.0.0.19\",\"1.0.0.20\","
     "\"1.0.0.21\",\"1.0.0.22\",\"1.0.0.23\",\"1.0.0.24\",\"1.0.0.25\",\"1.0.0."
     "26\",\"1.0.0.27\",\"1.0.0.28\",\"1.0.0.29\",\"1.0.0.30\","
     "\"1.0.0.31\",\"1.0.0.32\",\"1.0.0.33\",\"1.0.0.34\",\"1.0.0.35\",\"1.0.0."
     "36\",\"1.0.0.37\",\"1.0.0.38\",\"1.0.0.39\",\"1.0.0.40\","
     "\"1.0.0.41\",\"1.0.0.42\",\"1.0.0.43\",\"1.0.0.44\",\"1.0.0.45\",\"1.0.0."
     "46\",\"1.0.0.47\",\"1.0.0.48\",\"1.0.0.49\",\"1.0.0.50\","
     "\"1.0.0.51\",\"1.0.0.52\",\"1.0.0.53\",\"1.0.0.54\",\"1.0.0.55\",\"1.0.0."
     "56\",\"1.0.0.57\",\"1.0.0.58\",\"1.0.0.59\",\"1.0.0.60\","
     "\"1.0.0.61\",\"1.0.0.62\",\"1.0.0.63\",\"1.0.0.64\",\"1.0.0.65\"] }",
     "t.json: deny: has 65 prefixes, more than map_sizes.prefixes (64)\n"},
    {"blocks",
     "{ " E
     ", \"blocks\": [ {\"address\": \"198.18.5.5\"}, {\"address\": "
     "\"198.18.5.6\", \"seconds\": 1, \"until\": \"2030-01-01T00:00:00Z\"},"
     " {\"address\": \"198.18.5.7\", \"until\": \"tomorrow\"}, {\"address\": "
     "\"198.18.5.8\", \"seconds\": 0},"
     " {\"address\": \"198.18.5.9\", \"seconds\": 5}, {\"address\": "
     "\"198.18.5.9\", \"seconds\": 6}, {\"seconds\": 5} ] }",
     "t.json: blocks[0]: needs exactly one of \"seconds\" (a duration) or "
     "\"until\" (an RFC 3339 time)\n"
     "t.json: blocks[1]: needs exactly one of \"seconds\" (a duration) or "
     "\"until\" (an RFC 3339 time)\n"
     "t.json: blocks[2].until: \"tomorrow\" is not an RFC 3339 time (e.g. "
     "\"2026-11-27T18:00:00Z\")\n"
     "t.json: blocks[3].seconds: 0 is out of range 1..316224000\n"
     "t.json: blocks[6].address: missing (required)\n"
     "t.json: blocks[5]: 198.18.5.9 is already blocked at blocks[4]\n"},
    {"string with a NUL", "{ " E ", \"interface\": \"eth\\u00000\" }",
     "t.json: interface: contains a NUL character\n"},
    {"null where an object is expected",
     "{ " E ", \"timeouts\": null, \"defaults\": [] }",
     "t.json: timeouts: must be an object, not null\n"
     "t.json: defaults: must be an object, not a list\n"},
    /* A2S (docs/config.md "A2S") */
    {"a2s of the wrong type",
     "{ " E ", \"services\": [ " SVC(", \"a2s\": 1") ", " SVC(
	 ", \"port\": 27016, \"a2s\": null") " ] }",
     "t.json: services[0].a2s: must be true, false or an object, not an "
     "integer\n"
     "t.json: services[1].a2s: must be true, false or an object, not null\n"},
    {"a2s on a tcp service",
     "{ " E ", \"services\": [ {\"protocol\": \"tcp\", \"address\": "
	    "\"198.18.10.1\", \"port\": 27015, \"backend\": \"198.19.0.10\", "
	    "\"a2s\": true} ] }",
     "t.json: services[0].a2s: A2S is UDP only; this service is tcp\n"},
    {"a2s unknown key and bad values",
     "{ " E ", \"services\": [ " SVC(
	 ", \"a2s\": { \"refesh_ms\": 1, \"refresh_ms\": 99, \"max_age_ms\": "
	 "\"10s\", \"timeout_ms\": 3600001, \"challenge\": \"none\" }") " ] }",
     "t.json: services[0].a2s.refesh_ms: unknown key (did you mean "
     "\"refresh_ms\"?)\n"
     "t.json: services[0].a2s.refresh_ms: 99 is out of range 100..3600000\n"
     "t.json: services[0].a2s.max_age_ms: must be an integer, not a string\n"
     "t.json: services[0].a2s.timeout_ms: 3600001 is out of range "
     "100..3600000\n"
     "t.json: services[0].a2s.challenge: \"none\" is not one of "
     "\"required\", \"off\"\n"},
    {"a2s challenge of the wrong type",
     "{ " E ", \"services\": [ " SVC(", \"a2s\": { \"challenge\": false }") " ] }",
     "t.json: services[0].a2s.challenge: must be a string, not a boolean\n"},
    {"a2s max_age below refresh, timeout below twice refresh",
     "{ " E ", \"services\": [ " SVC(
	 ", \"a2s\": { \"refresh_ms\": 2000, \"max_age_ms\": 1500, "
	 "\"timeout_ms\": 3999 }") " ] }",
     "t.json: services[0].a2s.max_age_ms: 1500 is less than refresh_ms "
     "(2000): an answer must stay servable until it is refreshed\n"
     "t.json: services[0].a2s.timeout_ms: 3999 is less than twice "
     "refresh_ms (2000): a healthy server would be marked down between two "
     "queries\n"},
    {"a2s defaults that a longer refresh breaks are named as defaults",
     "{ " E ", \"services\": [ " SVC(", \"a2s\": { \"refresh_ms\": 20000 }") " ] }",
     "t.json: services[0].a2s.max_age_ms: 10000 (the default) is less than "
     "refresh_ms (20000): an answer must stay servable until it is "
     "refreshed\n"
     "t.json: services[0].a2s.timeout_ms: 5000 (the default) is less than "
     "twice refresh_ms (20000): a healthy server would be marked down "
     "between two queries\n"},
    {"a2s timeout against the default refresh",
     "{ " E ", \"services\": [ " SVC(", \"a2s\": { \"timeout_ms\": 1000 }") " ] }",
     "t.json: services[0].a2s.timeout_ms: 1000 is less than twice "
     "refresh_ms (1000, the default): a healthy server would be marked "
     "down between two queries\n"},
    {"top-level a2s",
     "{ " E ", \"a2s\": { \"epoch_s\": 0, \"key_file\": \"a2s.key\", "
	    "\"key\": \"00\" } }",
     "t.json: a2s.key: unknown key\n"
     "t.json: a2s.epoch_s: 0 is out of range 1..3600\n"
     "t.json: a2s.key_file: \"a2s.key\" is not an absolute path\n"},
    {"top-level a2s values",
     "{ " E ", \"a2s\": { \"epoch_s\": 3601, \"key_file\": 5 } }",
     "t.json: a2s.epoch_s: 3601 is out of range 1..3600\n"
     "t.json: a2s.key_file: must be a string, not an integer\n"},
    {"top-level a2s not an object", "{ " E ", \"a2s\": true }",
     "t.json: a2s: must be an object, not a boolean\n"},
};

/* One test over the table (criterion's parameterized tests run in a fresh
 * process where pointers into the table are not valid): every case is
 * checked and reported, not only the first failing one. */
Test(config, bad_configs_give_exactly_the_expected_errors)
{
	size_t i;

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct km_cfg cfg;
		struct km_cfg_errors e;
		char *got;
		int r;

		r = parse(c->json, &cfg, &e);
		got = errors_joined(&e);
		cr_expect_eq(r, -EINVAL, "%s: accepted", c->what);
		cr_expect_str_eq(got, c->errors,
				 "%s:\n--- got ---\n%s--- want ---\n%s",
				 c->what, got, c->errors);
		free(got);
		km_cfg_free(&cfg);
		km_cfg_errors_free(&e);
	}
}

Test(config, every_error_is_collected_up_to_the_cap)
{
	struct km_cfg cfg;
	struct km_cfg_errors e;
	size_t i, len = 0, cap = 64 + 400 * 8;
	char *text = malloc(cap);

	cr_assert_not_null(text);
	len += (size_t)snprintf(text, cap, "{ " E ", \"deny\": [");
	for (i = 0; i < 300; i++)
		len += (size_t)snprintf(text + len, cap - len, "%s\"x%zu\"",
					i ? "," : "", i);
	snprintf(text + len, cap - len, "] }");
	cr_assert_eq(parse(text, &cfg, &e), -EINVAL);
	cr_assert_eq(e.n, KM_CFG_MAX_ERRORS);
	cr_assert_eq(e.dropped, 300 - KM_CFG_MAX_ERRORS);
	cr_assert_str_eq(
	    e.msg[0],
	    "t.json: deny[0]: \"x0\" is not an IPv4 prefix (a.b.c.d/len)");
	free(text);
	km_cfg_free(&cfg);
	km_cfg_errors_free(&e);
}

/* ------------------------------------------------------------------ A2S */

Test(config, a2s_defaults_overrides_and_off)
{
	static const char text[] =
	    "{ " E ", \"services\": [ " SVC(", \"a2s\": true") ", " SVC(
		", \"port\": 27016, \"a2s\": { \"refresh_ms\": 500, "
		"\"max_age_ms\": 500, \"timeout_ms\": 1000, \"challenge\": "
		"\"off\" }") ", " SVC(", \"port\": 27017, \"a2s\": false") ", " SVC(
		", \"port\": 27018, \"a2s\": { \"challenge\": \"required\" "
		"}") ", " SVC(", \"port\": 27019") " ] }";
	const struct km_service_spec *s;
	struct km_cfg cfg;
	struct km_cfg_errors e;

	cr_assert_eq(parse(text, &cfg, &e), 0, "%s", e.n ? e.msg[0] : "");
	s = cfg.services;
	cr_assert_eq(s[0].a2s.flags, KM_A2S_F_ENABLED);
	cr_assert_eq(s[0].flags & KM_SVC_F_A2S, KM_SVC_F_A2S);
	cr_assert_eq(s[0].a2s.refresh_ns, 1000 * 1000000ull);
	cr_assert_eq(s[0].a2s.max_age_ns, 10000 * 1000000ull);
	cr_assert_eq(s[0].a2s.timeout_ns, 5000 * 1000000ull);
	cr_assert_eq(s[1].a2s.flags, KM_A2S_F_ENABLED | KM_A2S_F_NO_CHALLENGE);
	cr_assert_eq(s[1].a2s.refresh_ns, 500 * 1000000ull);
	cr_assert_eq(s[1].a2s.max_age_ns, 500 * 1000000ull);
	cr_assert_eq(s[1].a2s.timeout_ns, 1000 * 1000000ull);
	cr_assert_eq(s[2].a2s.flags, 0, "a2s: false is off");
	cr_assert_eq(s[2].flags & KM_SVC_F_A2S, 0);
	cr_assert_eq(s[2].a2s.refresh_ns, 0);
	cr_assert_eq(s[3].a2s.flags, KM_A2S_F_ENABLED);
	cr_assert_eq(s[3].a2s.max_age_ns, 10000 * 1000000ull);
	cr_assert_eq(s[4].a2s.flags, 0, "no a2s key is off");
	for (size_t i = 0; i < cfg.n_services; i++)
		cr_assert_null(km_a2s_cfg_problem(&s[i].a2s, s[i].proto),
			       "services[%zu]: the library refuses what the "
			       "config accepted",
			       i);
	cr_assert_eq(cfg.a2s_epoch_s, KM_CFG_DEF_A2S_EPOCH_S);
	cr_assert_null(cfg.a2s_key_file);
	cr_assert(!cfg.a2s_key_loaded);
	km_cfg_free(&cfg);
	km_cfg_errors_free(&e);
}

Test(config, a2s_library_check_agrees_with_the_config_rules)
{
	const uint64_t ms = 1000000ull;
	struct km_a2s_cfg a = {KM_A2S_F_ENABLED, 0, 1000 * ms, 10000 * ms,
			       5000 * ms};

	cr_assert_null(km_a2s_cfg_problem(&a, IPPROTO_UDP));
	cr_assert_str_eq(km_a2s_cfg_problem(&a, IPPROTO_TCP),
			 "A2S is UDP only");
	a.timeout_ns = 1999 * ms;
	cr_assert_str_eq(km_a2s_cfg_problem(&a, IPPROTO_UDP),
			 "A2S timeout is less than twice refresh");
	a.timeout_ns = 2000 * ms;
	a.max_age_ns = 999 * ms;
	cr_assert_str_eq(km_a2s_cfg_problem(&a, IPPROTO_UDP),
			 "A2S max_age is less than refresh");
	a.max_age_ns = 1000 * ms;
	a.refresh_ns = 99 * ms;
	cr_assert_str_eq(km_a2s_cfg_problem(&a, IPPROTO_UDP),
			 "A2S times must be 100..3600000 ms");
	a = (struct km_a2s_cfg){KM_A2S_F_NO_CHALLENGE, 0, 0, 0, 0};
	cr_assert_str_eq(km_a2s_cfg_problem(&a, IPPROTO_UDP),
			 "A2S options without A2S enabled");
	a.flags = 0x100 | KM_A2S_F_ENABLED;
	cr_assert_str_eq(km_a2s_cfg_problem(&a, IPPROTO_UDP),
			 "unknown A2S flags");
	a = (struct km_a2s_cfg){0};
	cr_assert_null(km_a2s_cfg_problem(&a, IPPROTO_TCP), "off is fine");
}

/* A config file naming a key file, both in a fresh directory. */
struct keyfix {
	char dir[64], cfg[96], key[96];
};

static void keyfix_make(struct keyfix *f, const char *key_text, mode_t mode)
{
	FILE *c;
	int fd;

	snprintf(f->dir, sizeof(f->dir), "/tmp/km-unit-key-XXXXXX");
	cr_assert_not_null(mkdtemp(f->dir));
	snprintf(f->cfg, sizeof(f->cfg), "%s/km.json", f->dir);
	snprintf(f->key, sizeof(f->key), "%s/a2s.key", f->dir);
	c = fopen(f->cfg, "w");
	cr_assert_not_null(c);
	fprintf(c,
		"{ " E ", \"a2s\": { \"epoch_s\": 10, \"key_file\": \"%s\" } }",
		f->key);
	fclose(c);
	if (!key_text)
		return;
	fd = open(f->key, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, key_text, strlen(key_text)),
		     (ssize_t)strlen(key_text));
	cr_assert_eq(fchmod(fd, mode), 0);
	close(fd);
}

static void keyfix_clean(struct keyfix *f)
{
	unlink(f->key);
	unlink(f->cfg);
	rmdir(f->dir);
}

/* Parse the fixture; the one error line (or "" when valid). */
static char *keyfix_parse(struct keyfix *f, struct km_cfg *cfg)
{
	struct km_cfg_errors e = {0};
	char *got;
	int r;

	r = km_cfg_parse_file(f->cfg, cfg, &e);
	got = errors_joined(&e);
	cr_assert_eq(r == 0, e.n == 0, "r=%d with %zu errors", r, e.n);
	km_cfg_errors_free(&e);
	return got;
}

Test(config, a2s_key_file_is_read_with_the_config)
{
	static const uint8_t want[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55,
					 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
					 0xcc, 0xdd, 0xee, 0xff};
	struct keyfix f;
	struct km_cfg cfg;
	char *got;

	keyfix_make(&f, "  00112233445566778899AABBccddeeff\n", 0600);
	got = keyfix_parse(&f, &cfg);
	cr_assert_str_empty(got);
	cr_assert(cfg.a2s_key_loaded);
	cr_assert_arr_eq(cfg.a2s_key, want, 16);
	cr_assert_eq(cfg.a2s_epoch_s, 10);
	cr_assert_str_eq(cfg.a2s_key_file, f.key);
	free(got);
	km_cfg_free(&cfg);
	keyfix_clean(&f);
}

Test(config, a2s_bad_key_files_are_named)
{
	static const struct {
		const char *text; /* NULL: no file */
		mode_t mode;
		const char *why; /* after "<cfg>: a2s.key_file: <key>: " */
	} cases[] = {
	    {NULL, 0600, "cannot open: No such file or directory"},
	    {"00112233445566778899aabbccddeeff", 0644,
	     "mode 0644 is wider than 0600: the key is a secret (chmod 600 "
	     "KEY)"},
	    {"00112233445566778899aabbccddeeff", 0640,
	     "mode 0640 is wider than 0600: the key is a secret (chmod 600 "
	     "KEY)"},
	    {"00112233445566778899aabbccddee", 0600,
	     "holds 30 hex digits, 32 are needed (a 128-bit key)"},
	    {"00112233445566778899aabbccddeeff00", 0600,
	     "holds 34 hex digits, 32 are needed (a 128-bit key)"},
	    {"", 0600, "holds 0 hex digits, 32 are needed (a 128-bit key)"},
	    {"0011223344556677 8899aabbccddeeff", 0600,
	     "byte 17 is not a hex digit (the file must hold 32 hex digits)"},
	    {"0x112233445566778899aabbccddeeff", 0600,
	     "byte 2 is not a hex digit (the file must hold 32 hex digits)"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char want[512], why[256], *got, *k;
		struct keyfix f;
		struct km_cfg cfg;

		keyfix_make(&f, cases[i].text, cases[i].mode);
		snprintf(why, sizeof(why), "%s", cases[i].why);
		k = strstr(why, "KEY");
		if (k)
			snprintf(k, sizeof(why) - (size_t)(k - why), "%s)",
				 f.key);
		snprintf(want, sizeof(want), "%s: a2s.key_file: %s: %s\n",
			 f.cfg, f.key, why);
		got = keyfix_parse(&f, &cfg);
		cr_expect_str_eq(got, want, "case %zu", i);
		cr_expect(!cfg.a2s_key_loaded, "case %zu", i);
		free(got);
		km_cfg_free(&cfg);
		keyfix_clean(&f);
	}
}

Test(config, a2s_key_file_that_is_a_directory)
{
	struct keyfix f;
	struct km_cfg cfg;
	char want[512], *got;

	keyfix_make(&f, NULL, 0);
	cr_assert_eq(mkdir(f.key, 0700), 0);
	got = keyfix_parse(&f, &cfg);
	snprintf(want, sizeof(want),
		 "%s: a2s.key_file: %s: not a regular file\n", f.cfg, f.key);
	cr_assert_str_eq(got, want);
	free(got);
	km_cfg_free(&cfg);
	rmdir(f.key);
	keyfix_clean(&f);
}

/* --------------------------------------------------------------- files */

Test(config, missing_file)
{
	struct km_cfg cfg;
	struct km_cfg_errors e = {0};

	cr_assert_eq(km_cfg_parse_file("/nonexistent/km.json", &cfg, &e),
		     -EINVAL);
	cr_assert_eq(e.n, 1);
	cr_assert_str_eq(
	    e.msg[0],
	    "/nonexistent/km.json: cannot open: No such file or directory");
	km_cfg_free(&cfg);
	km_cfg_errors_free(&e);
}

Test(config, directory_is_not_a_config)
{
	struct km_cfg cfg;
	struct km_cfg_errors e = {0};

	cr_assert_eq(km_cfg_parse_file("/", &cfg, &e), -EINVAL);
	cr_assert_eq(e.n, 1);
	cr_assert_str_eq(e.msg[0], "/: not a regular file");
	km_cfg_free(&cfg);
	km_cfg_errors_free(&e);
}

Test(config, too_large_file)
{
	char path[] = "/tmp/km-unit-XXXXXX", want[128];
	struct km_cfg cfg;
	struct km_cfg_errors e = {0};
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	/* sparse: costs no disk */
	cr_assert_eq(ftruncate(fd, KM_CFG_MAX_FILE_BYTES + 1), 0);
	close(fd);
	cr_assert_eq(km_cfg_parse_file(path, &cfg, &e), -EINVAL);
	unlink(path);
	snprintf(want, sizeof(want),
		 "%s: the file is %u bytes, larger than the %u byte limit",
		 path, KM_CFG_MAX_FILE_BYTES + 1, KM_CFG_MAX_FILE_BYTES);
	cr_assert_eq(e.n, 1);
	cr_assert_str_eq(e.msg[0], want);
	km_cfg_free(&cfg);
	km_cfg_errors_free(&e);
}

Test(config, file_with_nul_byte)
{
	static const char text[] = "{ " E " }\0 ";
	struct km_cfg cfg;
	struct km_cfg_errors e = {0};

	cr_assert_eq(
	    km_cfg_parse_string("t.json", text, sizeof(text) - 1, &cfg, &e),
	    -EINVAL);
	cr_assert_eq(e.n, 1);
	cr_assert_str_eq(e.msg[0],
			 "t.json: line 1, column 37: NUL byte in the file");
	km_cfg_free(&cfg);
	km_cfg_errors_free(&e);
}

/* ------------------------------------------------------------ robustness */

/* Every prefix of a valid file and many byte mutations of it: no crash, and
 * a rejected file always says why. (The fuzzer goes further.) */
Test(config, truncations_and_mutations_never_crash)
{
	static const char alphabet[] = "{}[]\":,/*\\0123456789.-e \nxtfnu";
	struct km_cfg cfg;
	struct km_cfg_errors e;
	size_t len, i;
	char *text = read_all(example_path(), &len);
	char *copy = malloc(len);
	unsigned int seed = 12345;
	int r;

	cr_assert_not_null(copy);
	for (i = 0; i < len; i += 7) {
		memset(&e, 0, sizeof(e));
		r = km_cfg_parse_string("t.json", text, i, &cfg, &e);
		cr_assert(r == 0 || e.n > 0, "prefix %zu rejected silently", i);
		km_cfg_free(&cfg);
		km_cfg_errors_free(&e);
	}
	for (i = 0; i < 3000; i++) {
		int k;

		memcpy(copy, text, len);
		for (k = 0; k < 3; k++)
			copy[rand_r(&seed) % len] =
			    alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
		memset(&e, 0, sizeof(e));
		r = km_cfg_parse_string("t.json", copy, len, &cfg, &e);
		cr_assert(r == 0 || e.n > 0, "mutation %zu rejected silently",
			  i);
		km_cfg_free(&cfg);
		km_cfg_errors_free(&e);
	}
	free(copy);
	free(text);
}
