// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: the Envelope decoder (protobuf-c) and lib/pbcheck on
 * any bytes as a frame's payload. Checks:
 *
 *  - a refusal always has a reason that names a field ("path: ...");
 *  - what pbcheck accepts is what the maps can take: converted services
 *    have a protocol, ports 1..65535, non-zero addresses and an A2S config
 *    lib/maps accepts; prefixes have length <= 32 and no host bits;
 *    punches have a protocol and ports; A2S keys are 16 bytes;
 *  - an accepted message packed again decodes to a message that is
 *    accepted again and packs to the same bytes (no value changes on the
 *    way through the agent or the controller).
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "log.h"
#include "pbcheck.h"

#define FZ_NAME "fuzz_envelope"
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	km_log_init("fuzz_envelope", LOG_EMERG);
	return 0;
}

static void check_service(const Kilimanjaro__V1__Service *s)
{
	struct km_service_spec sp;

	km_pb_service_spec(s, &sp);
	CHECK(sp.proto == 6 || sp.proto == 17, "proto %u", sp.proto);
	CHECK(sp.port != 0 && sp.addr != 0 && sp.backend != 0);
	CHECK(!km_a2s_cfg_problem(&sp.a2s, sp.proto), "%s",
	      km_a2s_cfg_problem(&sp.a2s, sp.proto));
	CHECK(!sp.unvalidated.pps || sp.unvalidated.burst_pkts);
}

static void check_prefixes(Kilimanjaro__V1__Prefix **p, size_t n)
{
	struct km_prefix_key k;

	for (size_t i = 0; i < n; i++) {
		km_pb_prefix_key(p[i], &k);
		CHECK(km_prefix_check(&k) == 0, "prefix %08x/%u", k.addr,
		      k.prefixlen);
	}
}

static void check_punches(Kilimanjaro__V1__PortPunch **p, size_t n)
{
	struct km_punch_key k;

	for (size_t i = 0; i < n; i++) {
		km_pb_punch_key(p[i], &k);
		CHECK(k.proto && k.svc_port && k.remote_port && k.svc_addr &&
		      k.remote && p[i]->backend);
	}
}

static void check_key(const Kilimanjaro__V1__A2sKey *k)
{
	if (k)
		CHECK(k->key.len == 16 &&
		      (!k->has_prev_key || k->prev_key.len == 16));
}

static void check_accepted(const KmEnvelope *e)
{
	if (e->body_case == KILIMANJARO__V1__ENVELOPE__BODY_SNAPSHOT) {
		const Kilimanjaro__V1__ConfigSnapshot *s = e->snapshot;

		for (size_t i = 0; i < s->n_services; i++)
			check_service(s->services[i]);
		check_prefixes(s->allow, s->n_allow);
		check_prefixes(s->deny, s->n_deny);
		check_punches(s->punches, s->n_punches);
		check_key(s->a2s_key);
	} else if (e->body_case == KILIMANJARO__V1__ENVELOPE__BODY_DELTA) {
		const Kilimanjaro__V1__ConfigDelta *d = e->delta;

		CHECK(d->version > d->base_version);
		for (size_t i = 0; i < d->n_add_services; i++)
			check_service(d->add_services[i]);
		check_prefixes(d->add_allow, d->n_add_allow);
		check_prefixes(d->del_allow, d->n_del_allow);
		check_prefixes(d->add_deny, d->n_add_deny);
		check_prefixes(d->del_deny, d->n_del_deny);
		check_punches(d->add_punches, d->n_add_punches);
		check_punches(d->del_punches, d->n_del_punches);
		check_key(d->a2s_key);
	} else if (e->body_case ==
		   KILIMANJARO__V1__ENVELOPE__BODY_PUNCH_LEARNED) {
		check_punches(&e->punch_learned->punch, 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[KM_PB_WHY_LEN];
	const char *derr = NULL;
	KmEnvelope *e, *e2;
	uint8_t *a, *b;
	size_t na, nb;

	if (km_envelope_decode(data, size, &e, &derr)) {
		CHECK(derr && derr[0]);
		return 0;
	}
	if (km_pb_check(e, why, sizeof(why))) {
		CHECK(strchr(why, ':') && strchr(why, ':')[1] == ' ',
		      "reason without a field path: \"%s\"", why);
		km_envelope_free(e);
		return 0;
	}
	check_accepted(e);
	na = kilimanjaro__v1__envelope__get_packed_size(e);
	a = malloc(na + 1);
	kilimanjaro__v1__envelope__pack(e, a);
	CHECK(km_envelope_decode(a, na, &e2, &derr) == 0, "repacked: %s", derr);
	CHECK(!km_pb_check(e2, why, sizeof(why)), "repacked refused: %s", why);
	nb = kilimanjaro__v1__envelope__get_packed_size(e2);
	b = malloc(nb + 1);
	kilimanjaro__v1__envelope__pack(e2, b);
	CHECK(na == nb && !memcmp(a, b, na), "repacking changed the bytes");
	free(a);
	free(b);
	km_envelope_free(e2);
	km_envelope_free(e);
	return 0;
}
