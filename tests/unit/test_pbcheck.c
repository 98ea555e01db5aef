// SPDX-License-Identifier: GPL-2.0-only
/* lib/pbcheck: every refusal names the field and the reason; a valid
 * message passes. Messages go through the wire (pack, unpack) so that what
 * is checked is what a peer could send. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pbcheck.h"

#define A(a, b, c, d) ((uint32_t)(a) << 24 | (b) << 16 | (c) << 8 | (d))

/* A valid snapshot, built on the stack, that tests spoil one field of. */
struct snap {
	KmEnvelope env;
	Kilimanjaro__V1__ConfigSnapshot s;
	Kilimanjaro__V1__Service svc[2], *svcp[2];
	Kilimanjaro__V1__ServiceKey key[2];
	Kilimanjaro__V1__A2sConfig a2s;
	Kilimanjaro__V1__Limit lim;
	Kilimanjaro__V1__Prefix allow, *allowp[1];
	Kilimanjaro__V1__Block blk, *blkp[1];
	Kilimanjaro__V1__PortPunch pp, *ppp[1];
	Kilimanjaro__V1__A2sKey k;
	uint8_t keybytes[16];
};

static void snap_init(struct snap *x)
{
	memset(x, 0, sizeof(*x));
	kilimanjaro__v1__envelope__init(&x->env);
	kilimanjaro__v1__config_snapshot__init(&x->s);
	for (int i = 0; i < 2; i++) {
		kilimanjaro__v1__service__init(&x->svc[i]);
		kilimanjaro__v1__service_key__init(&x->key[i]);
		x->key[i].proto = KILIMANJARO__V1__PROTO__PROTO_UDP;
		x->key[i].addr = A(198, 18, 1, 10);
		x->key[i].port = 27015 + i;
		x->svc[i].key = &x->key[i];
		x->svc[i].backend = A(198, 19, 0, 2);
		x->svcp[i] = &x->svc[i];
	}
	kilimanjaro__v1__a2s_config__init(&x->a2s);
	x->svc[0].a2s = &x->a2s;
	kilimanjaro__v1__limit__init(&x->lim);
	x->lim.has_pps = x->lim.has_burst_pkts = 1;
	x->lim.pps = 100;
	x->lim.burst_pkts = 10;
	x->svc[1].unvalidated = &x->lim;
	kilimanjaro__v1__prefix__init(&x->allow);
	x->allow.addr = A(198, 18, 5, 0);
	x->allow.len = 24;
	x->allowp[0] = &x->allow;
	kilimanjaro__v1__block__init(&x->blk);
	x->blk.addr = A(198, 18, 9, 9);
	x->blkp[0] = &x->blk;
	kilimanjaro__v1__port_punch__init(&x->pp);
	x->pp.proto = KILIMANJARO__V1__PROTO__PROTO_UDP;
	x->pp.service_addr = A(198, 18, 1, 10);
	x->pp.service_port = 27015;
	x->pp.remote_addr = A(198, 18, 7, 7);
	x->pp.remote_port = 4000;
	x->pp.backend = A(198, 19, 0, 2);
	x->ppp[0] = &x->pp;
	kilimanjaro__v1__a2s_key__init(&x->k);
	x->k.key.len = 16;
	x->k.key.data = x->keybytes;
	x->s.version = 5;
	x->s.n_services = 2;
	x->s.services = x->svcp;
	x->s.n_allow = 1;
	x->s.allow = x->allowp;
	x->s.n_blocks = 1;
	x->s.blocks = x->blkp;
	x->s.n_punches = 1;
	x->s.punches = x->ppp;
	x->s.a2s_key = &x->k;
	x->env.schema = KM_SCHEMA_VERSION;
	x->env.body_case = KILIMANJARO__V1__ENVELOPE__BODY_SNAPSHOT;
	x->env.snapshot = &x->s;
}

/* Through the wire, then checked: the reason, or NULL. */
static const char *wire_check(KmEnvelope *env, char *why)
{
	size_t n = kilimanjaro__v1__envelope__get_packed_size(env);
	uint8_t *buf = malloc(n);
	KmEnvelope *got;
	const char *r, *derr = NULL;
	static char copy[KM_PB_WHY_LEN];

	kilimanjaro__v1__envelope__pack(env, buf);
	cr_assert_eq(km_envelope_decode(buf, n, &got, &derr), 0, "%s", derr);
	r = km_pb_check(got, why, KM_PB_WHY_LEN);
	if (r) {
		snprintf(copy, sizeof(copy), "%s", r);
		r = copy;
	}
	km_envelope_free(got);
	free(buf);
	return r;
}

static void expect(KmEnvelope *env, const char *want)
{
	char why[KM_PB_WHY_LEN];
	const char *r = wire_check(env, why);

	cr_assert_not_null(r, "accepted, wanted \"%s\"", want);
	cr_assert(strstr(r, want), "reason \"%s\" lacks \"%s\"", r, want);
}

Test(pbcheck, valid_snapshot_passes)
{
	struct snap x;
	char why[KM_PB_WHY_LEN];

	snap_init(&x);
	cr_assert_null(wire_check(&x.env, why), "%s", why);
}

Test(pbcheck, prefix_length_40)
{
	struct snap x;

	snap_init(&x);
	x.allow.len = 40;
	expect(&x.env, "snapshot.allow[0].len: 40 is not a prefix length");
}

Test(pbcheck, prefix_host_bits)
{
	struct snap x;

	snap_init(&x);
	x.allow.addr = A(198, 18, 5, 1);
	expect(&x.env, "snapshot.allow[0].addr: 198.18.5.1 has bits set");
}

Test(pbcheck, port_0)
{
	struct snap x;

	snap_init(&x);
	x.key[1].port = 0;
	expect(&x.env, "snapshot.services[1].key.port: 0 is not a port");
}

Test(pbcheck, port_65536)
{
	struct snap x;

	snap_init(&x);
	x.pp.remote_port = 65536;
	expect(&x.env, "snapshot.punches[0].remote_port: 65536 is not a port");
}

Test(pbcheck, unknown_proto_enum)
{
	struct snap x;

	snap_init(&x);
	x.key[0].proto = 99;
	expect(&x.env, "snapshot.services[0].key.proto: 99 is not a protocol");
}

Test(pbcheck, unspecified_proto_enum)
{
	struct snap x;

	snap_init(&x);
	x.pp.proto = KILIMANJARO__V1__PROTO__PROTO_UNSPECIFIED;
	expect(&x.env, "snapshot.punches[0].proto: 0 is not a protocol");
}

Test(pbcheck, unknown_challenge_enum)
{
	struct snap x;

	snap_init(&x);
	x.a2s.has_challenge = 1;
	x.a2s.challenge = 7;
	expect(&x.env, "snapshot.services[0].a2s.challenge: 7 is not a "
		       "ChallengePolicy");
}

Test(pbcheck, a2s_on_tcp)
{
	struct snap x;

	snap_init(&x);
	x.key[0].proto = KILIMANJARO__V1__PROTO__PROTO_TCP;
	expect(&x.env, "snapshot.services[0].a2s: A2S is UDP only");
}

Test(pbcheck, a2s_times)
{
	struct snap x;

	snap_init(&x);
	x.a2s.has_refresh_ms = 1;
	x.a2s.refresh_ms = 50;
	expect(&x.env, "A2S times must be");
}

Test(pbcheck, burst_missing)
{
	struct snap x;

	snap_init(&x);
	x.lim.burst_pkts = 0;
	expect(&x.env, "snapshot.services[1].unvalidated.burst_pkts: must be "
		       "at least 1");
}

Test(pbcheck, duplicate_service)
{
	struct snap x;

	snap_init(&x);
	x.key[1].port = x.key[0].port;
	expect(&x.env, "udp 198.18.1.10:27015 is listed twice");
}

Test(pbcheck, backend_zero)
{
	struct snap x;

	snap_init(&x);
	x.svc[0].backend = 0;
	expect(&x.env,
	       "snapshot.services[0].backend: 0.0.0.0 is not a unicast");
}

Test(pbcheck, a2s_key_length)
{
	struct snap x;

	snap_init(&x);
	x.k.key.len = 15;
	expect(&x.env, "snapshot.a2s_key.key: 15 bytes, not 16");
}

Test(pbcheck, delta_version_not_after_base)
{
	Kilimanjaro__V1__ConfigDelta d = KILIMANJARO__V1__CONFIG_DELTA__INIT;
	KmEnvelope env = KILIMANJARO__V1__ENVELOPE__INIT;

	env.schema = 1;
	env.body_case = KILIMANJARO__V1__ENVELOPE__BODY_DELTA;
	env.delta = &d;
	d.version = 4;
	d.base_version = 4;
	expect(&env, "delta.version: 4 is not after base_version 4");
}

Test(pbcheck, delta_del_prefix_checked)
{
	Kilimanjaro__V1__ConfigDelta d = KILIMANJARO__V1__CONFIG_DELTA__INIT;
	KmEnvelope env = KILIMANJARO__V1__ENVELOPE__INIT;
	Kilimanjaro__V1__Prefix p = KILIMANJARO__V1__PREFIX__INIT, *pp = &p;

	p.addr = A(198, 18, 0, 0);
	p.len = 33;
	env.schema = 1;
	env.body_case = KILIMANJARO__V1__ENVELOPE__BODY_DELTA;
	env.delta = &d;
	d.version = 5;
	d.base_version = 4;
	d.n_del_deny = 1;
	d.del_deny = &pp;
	expect(&env, "delta.del_deny[0].len: 33 is not a prefix length");
}

Test(pbcheck, hello_checks)
{
	Kilimanjaro__V1__Hello h = KILIMANJARO__V1__HELLO__INIT;
	KmEnvelope env = KILIMANJARO__V1__ENVELOPE__INIT;
	char why[KM_PB_WHY_LEN];

	env.schema = 1;
	env.body_case = KILIMANJARO__V1__ENVELOPE__BODY_HELLO;
	env.hello = &h;
	h.edge_id = "edge a";
	expect(&env, "hello.edge_id: byte 4 (0x20) is not printable");
	h.edge_id = "edge-a";
	cr_assert_null(wire_check(&env, why), "%s", why);
	env.schema = KM_SCHEMA_VERSION + 1;
	expect(&env, "envelope.schema: 2 is newer than this build's 1");
}

Test(pbcheck, schema_0_and_no_body)
{
	KmEnvelope env = KILIMANJARO__V1__ENVELOPE__INIT;
	char why[KM_PB_WHY_LEN];

	env.schema = 1;
	expect(&env, "envelope.body: no message");
	env.schema = 0;
	cr_assert_not_null(km_pb_check(&env, why, sizeof(why)));
	cr_assert(strstr(why, "envelope.schema: 0"), "%s", why);
}

Test(pbcheck, conversion_to_map_spec)
{
	struct snap x;
	struct km_service_spec s;
	struct km_prefix_key k;
	struct km_punch_key pk;

	snap_init(&x);
	x.svc[1].has_backend_port = 1;
	x.svc[1].backend_port = 27000;
	km_pb_service_spec(&x.svc[1], &s);
	cr_assert_eq(s.proto, IPPROTO_UDP);
	cr_assert_eq(s.addr, htonl(A(198, 18, 1, 10)));
	cr_assert_eq(s.port, htons(27016));
	cr_assert_eq(s.backend_port, htons(27000));
	cr_assert_eq(s.unvalidated.pps, 100);
	cr_assert_eq(s.a2s.flags, 0);
	km_pb_service_spec(&x.svc[0], &s);
	cr_assert_eq(s.a2s.flags, KM_A2S_F_ENABLED);
	cr_assert_eq(s.a2s.refresh_ns, 1000ull * 1000000);
	km_pb_prefix_key(&x.allow, &k);
	cr_assert_eq(k.prefixlen, 24);
	cr_assert_eq(k.addr, htonl(A(198, 18, 5, 0)));
	km_pb_punch_key(&x.pp, &pk);
	cr_assert_eq(pk.remote_port, htons(4000));
	cr_assert_eq(pk.svc_addr, htonl(A(198, 18, 1, 10)));
}
