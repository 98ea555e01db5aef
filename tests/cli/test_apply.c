// SPDX-License-Identifier: GPL-2.0-only
/*
 * kilimanjaro-agent's apply (agent/apply.c) against the maps of the real
 * XDP object (loaded, never attached): a snapshot makes the controller's
 * entries equal to it and leaves config-file, CLI and learned entries
 * alone; a refused snapshot changes nothing; deltas; the shared A2S key.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>
#include <criterion/criterion.h>

#include "apply.h"
#include "kilimanjaro.skel.h"
#include "lib/log.h"
#include "lib/maps.h"
#include "pbcheck.h"

#define A(a, b, c, d) ((uint32_t)(a) << 24 | (b) << 16 | (c) << 8 | (d))
#define CTL KM_ORIGIN_CONTROLLER

static struct kilimanjaro *skel;
static struct km_maps m;

static void setup(void)
{
	struct km_config cfg = {.abi_version = KM_ABI_VERSION,
				.rl_prefix_len = 24};

	km_log_init("test-apply", LOG_EMERG);
	skel = kilimanjaro__open_and_load();
	cr_assert_not_null(skel, "cannot load the XDP object: %s",
			   strerror(errno));
	cr_assert_eq(km_maps_from_object(&m, skel->obj), 0);
	cr_assert_eq(km_config_write(&m, &cfg), 0);
}

static void teardown(void)
{
	km_maps_close(&m);
	kilimanjaro__destroy(skel);
}

TestSuite(apply, .init = setup, .fini = teardown);

/* Messages built on the stack (as after decoding and pbcheck). */
struct cfg {
	Kilimanjaro__V1__Service svc[4], *svcp[4];
	Kilimanjaro__V1__ServiceKey key[4], *keyp[4];
	Kilimanjaro__V1__Prefix pfx[8], *allowp[4], *denyp[4];
	Kilimanjaro__V1__Block blk[2], *blkp[2];
	Kilimanjaro__V1__PortPunch pp[2], *ppp[2];
	Kilimanjaro__V1__A2sKey k;
	uint8_t kb[16], pb[16];
	size_t nsvc, nallow, ndeny, nblk, npp, npfx;
};

static void add_svc(struct cfg *c, uint32_t port)
{
	size_t i = c->nsvc++;

	kilimanjaro__v1__service__init(&c->svc[i]);
	kilimanjaro__v1__service_key__init(&c->key[i]);
	c->key[i].proto = KILIMANJARO__V1__PROTO__PROTO_UDP;
	c->key[i].addr = A(198, 18, 10, 1);
	c->key[i].port = port;
	c->svc[i].key = &c->key[i];
	c->svc[i].backend = A(198, 18, 2, 2);
	c->svcp[i] = &c->svc[i];
	c->keyp[i] = &c->key[i];
}

static Kilimanjaro__V1__Prefix *pfx(struct cfg *c, uint32_t addr, uint32_t len)
{
	Kilimanjaro__V1__Prefix *p = &c->pfx[c->npfx++];

	kilimanjaro__v1__prefix__init(p);
	p->addr = addr;
	p->len = len;
	return p;
}

static void add_punch(struct cfg *c, uint32_t rport)
{
	Kilimanjaro__V1__PortPunch *p = &c->pp[c->npp];

	kilimanjaro__v1__port_punch__init(p);
	p->proto = KILIMANJARO__V1__PROTO__PROTO_UDP;
	p->service_addr = A(198, 18, 10, 1);
	p->service_port = 40000;
	p->remote_addr = A(198, 18, 7, 2);
	p->remote_port = rport;
	p->backend = A(198, 18, 2, 2);
	c->ppp[c->npp++] = p;
}

static void snap_of(struct cfg *c, Kilimanjaro__V1__ConfigSnapshot *s,
		    uint64_t v)
{
	kilimanjaro__v1__config_snapshot__init(s);
	s->version = v;
	s->n_services = c->nsvc, s->services = c->svcp;
	s->n_allow = c->nallow, s->allow = c->allowp;
	s->n_deny = c->ndeny, s->deny = c->denyp;
	s->n_blocks = c->nblk, s->blocks = c->blkp;
	s->n_punches = c->npp, s->punches = c->ppp;
}

static int origin_of_svc(uint32_t port)
{
	struct km_service v;

	if (km_service_get(&m, IPPROTO_UDP, htonl(A(198, 18, 10, 1)),
			   htons((uint16_t)port), &v))
		return -1;
	return v.origin;
}

static int origin_of_deny(uint32_t addr, uint32_t len)
{
	struct km_prefix_key k = {.prefixlen = len, .addr = htonl(addr)};
	struct km_prefix_val v;

	if (km_prefix_get(&m, KM_LIST_DENY, &k, &v))
		return -1;
	return v.origin;
}

static int origin_of_punch(uint16_t rport)
{
	struct km_punch_key k = {.proto = IPPROTO_UDP,
				 .svc_addr = htonl(A(198, 18, 10, 1)),
				 .remote = htonl(A(198, 18, 7, 2)),
				 .svc_port = htons(40000),
				 .remote_port = htons(rport)};
	struct km_punch v;

	if (km_punch_get(&m, &k, &v))
		return -1;
	return v.origin;
}

static void config_entries(void)
{
	struct km_service_spec s = {.proto = IPPROTO_UDP,
				    .addr = htonl(A(198, 18, 10, 1)),
				    .port = htons(27015),
				    .backend = htonl(A(198, 18, 2, 2))};
	struct km_prefix_key d = {.prefixlen = 24,
				  .addr = htonl(A(198, 18, 4, 0))};
	struct km_punch_key k = {.proto = IPPROTO_UDP,
				 .svc_addr = htonl(A(198, 18, 10, 1)),
				 .remote = htonl(A(198, 18, 7, 2)),
				 .svc_port = htons(40000),
				 .remote_port = htons(7000)};

	cr_assert_eq(km_service_put(&m, &s, KM_ORIGIN_CONFIG), 0);
	cr_assert_eq(km_prefixes_sync(&m, NULL, 0, &d, 1, KM_ORIGIN_CONFIG), 0);
	cr_assert_eq(
	    km_punch_put(&m, &k, htonl(A(198, 18, 2, 2)), KM_ORIGIN_LEARNED),
	    0);
}

Test(apply, snapshot_makes_controller_entries_equal_and_keeps_others)
{
	Kilimanjaro__V1__ConfigSnapshot s;
	struct cfg c = {0};
	char why[KM_PB_WHY_LEN];
	struct km_block b;

	config_entries();
	add_svc(&c, 7777);
	add_svc(&c, 7778);
	c.denyp[c.ndeny++] = pfx(&c, A(198, 18, 6, 0), 24);
	c.allowp[c.nallow++] = pfx(&c, A(198, 18, 5, 0), 24);
	kilimanjaro__v1__block__init(&c.blk[0]);
	c.blk[0].addr = A(198, 18, 9, 9);
	c.blkp[c.nblk++] = &c.blk[0];
	add_punch(&c, 6000);
	snap_of(&c, &s, 1);
	cr_assert_eq(ka_apply_snapshot(&m, &s, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(origin_of_svc(7777), CTL);
	cr_assert_eq(origin_of_svc(7778), CTL);
	cr_assert_eq(origin_of_svc(27015), KM_ORIGIN_CONFIG);
	cr_assert_eq(origin_of_deny(A(198, 18, 6, 0), 24), CTL);
	cr_assert_eq(origin_of_deny(A(198, 18, 4, 0), 24), KM_ORIGIN_CONFIG);
	cr_assert_eq(origin_of_punch(6000), CTL);
	cr_assert_eq(origin_of_punch(7000), KM_ORIGIN_LEARNED);
	cr_assert_eq(km_block_get(&m, htonl(A(198, 18, 9, 9)), &b), 0);
	cr_assert_eq(b.origin, CTL);
	cr_assert_eq(b.until_ns, UINT64_MAX, "no duration: until removed");

	/* The next snapshot lists less: the rest of the controller's goes,
	 * nothing of the others. */
	memset(&c, 0, sizeof(c));
	add_svc(&c, 7778);
	snap_of(&c, &s, 2);
	cr_assert_eq(ka_apply_snapshot(&m, &s, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(origin_of_svc(7777), -1);
	cr_assert_eq(origin_of_svc(7778), CTL);
	cr_assert_eq(origin_of_svc(27015), KM_ORIGIN_CONFIG);
	cr_assert_eq(origin_of_deny(A(198, 18, 6, 0), 24), -1);
	cr_assert_eq(origin_of_deny(A(198, 18, 4, 0), 24), KM_ORIGIN_CONFIG);
	cr_assert_eq(origin_of_punch(6000), -1);
	cr_assert_eq(origin_of_punch(7000), KM_ORIGIN_LEARNED);
	cr_assert_eq(km_block_get(&m, htonl(A(198, 18, 9, 9)), &b), -ENOENT);
}

Test(apply, refused_snapshot_changes_nothing)
{
	Kilimanjaro__V1__ConfigSnapshot s;
	struct cfg c = {0};
	char why[KM_PB_WHY_LEN];

	config_entries();
	add_svc(&c, 7777);
	c.denyp[c.ndeny++] = pfx(&c, A(198, 18, 6, 0), 24);
	snap_of(&c, &s, 1);
	cr_assert_eq(ka_apply_snapshot(&m, &s, why, sizeof(why)), 0, "%s", why);

	/* Collides with the config file's service 27015. */
	memset(&c, 0, sizeof(c));
	add_svc(&c, 27015);
	c.denyp[c.ndeny++] = pfx(&c, A(198, 18, 3, 0), 24);
	snap_of(&c, &s, 2);
	cr_assert_eq(ka_apply_snapshot(&m, &s, why, sizeof(why)), -EEXIST);
	cr_assert(strstr(why, "snapshot.services[0]: service udp "
			      "198.18.10.1:27015 is already installed by "
			      "config"),
		  "%s", why);
	cr_assert_eq(origin_of_svc(7777), CTL, "the old snapshot is kept");
	cr_assert_eq(origin_of_deny(A(198, 18, 6, 0), 24), CTL);
	cr_assert_eq(origin_of_deny(A(198, 18, 3, 0), 24), -1);
	cr_assert_eq(origin_of_svc(27015), KM_ORIGIN_CONFIG);
}

Test(apply, delta)
{
	Kilimanjaro__V1__ConfigSnapshot s;
	Kilimanjaro__V1__ConfigDelta d = KILIMANJARO__V1__CONFIG_DELTA__INIT;
	struct cfg c = {0}, e = {0};
	char why[KM_PB_WHY_LEN];
	Kilimanjaro__V1__Prefix *del[2];
	uint32_t delblk = A(198, 18, 9, 9);
	struct km_block b;

	config_entries();
	add_svc(&c, 7777);
	c.denyp[c.ndeny++] = pfx(&c, A(198, 18, 6, 0), 24);
	kilimanjaro__v1__block__init(&c.blk[0]);
	c.blk[0].addr = A(198, 18, 9, 9);
	c.blkp[c.nblk++] = &c.blk[0];
	snap_of(&c, &s, 1);
	cr_assert_eq(ka_apply_snapshot(&m, &s, why, sizeof(why)), 0, "%s", why);

	add_svc(&e, 7779);
	e.denyp[e.ndeny++] = pfx(&e, A(198, 18, 3, 0), 24);
	del[0] = pfx(&e, A(198, 18, 6, 0), 24);
	del[1] = pfx(&e, A(198, 18, 4, 0), 24); /* the config file's: kept */
	kilimanjaro__v1__block__init(&e.blk[0]);
	e.blk[0].addr = A(198, 18, 9, 8);
	e.blk[0].has_duration_ms = 1;
	e.blk[0].duration_ms = 60000;
	e.blkp[e.nblk++] = &e.blk[0];
	add_punch(&e, 6001);
	d.version = 2;
	d.base_version = 1;
	d.n_add_services = 1, d.add_services = e.svcp;
	d.n_del_services = 1, d.del_services = c.keyp;
	d.n_add_deny = 1, d.add_deny = e.denyp;
	d.n_del_deny = 2, d.del_deny = del;
	d.n_add_blocks = 1, d.add_blocks = e.blkp;
	d.n_del_blocks = 1, d.del_blocks = &delblk;
	d.n_add_punches = 1, d.add_punches = e.ppp;
	cr_assert_eq(ka_apply_delta(&m, &d, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(origin_of_svc(7777), -1);
	cr_assert_eq(origin_of_svc(7779), CTL);
	cr_assert_eq(origin_of_deny(A(198, 18, 6, 0), 24), -1);
	cr_assert_eq(origin_of_deny(A(198, 18, 3, 0), 24), CTL);
	cr_assert_eq(origin_of_deny(A(198, 18, 4, 0), 24), KM_ORIGIN_CONFIG,
		     "a delta never deletes another origin's entry");
	cr_assert_eq(origin_of_punch(6001), CTL);
	cr_assert_eq(km_block_get(&m, htonl(A(198, 18, 9, 9)), &b), -ENOENT);
	cr_assert_eq(km_block_get(&m, htonl(A(198, 18, 9, 8)), &b), 0);
	cr_assert(b.until_ns > km_mono_ns() + 50000000000ull &&
		      b.until_ns < km_mono_ns() + 61000000000ull,
		  "60 s block");
}

static void key_bytes(const struct km_a2s_key *k, int prev, uint8_t out[16])
{
	uint64_t a = prev ? k->prev_k0 : k->k0, b = prev ? k->prev_k1 : k->k1;

	for (int i = 0; i < 8; i++) {
		out[i] = (uint8_t)(a >> (8 * i));
		out[8 + i] = (uint8_t)(b >> (8 * i));
	}
}

Test(apply, a2s_key_current_and_previous)
{
	Kilimanjaro__V1__ConfigSnapshot s;
	struct cfg c = {0};
	char why[KM_PB_WHY_LEN];
	struct km_a2s_key k;
	uint8_t got[16], k1[16], k2[16], k3[16];
	enum km_a2s_key_action act;

	for (int i = 0; i < 16; i++)
		k1[i] = (uint8_t)i, k2[i] = (uint8_t)(0x40 + i),
		k3[i] = (uint8_t)(0x80 + i);
	/* The loader's own random key is there first. */
	cr_assert_eq(km_a2s_key_install(&m, NULL, 30, &act), 0);
	kilimanjaro__v1__a2s_key__init(&c.k);
	c.k.key.data = k2, c.k.key.len = 16;
	c.k.has_prev_key = 1;
	c.k.prev_key.data = k1, c.k.prev_key.len = 16;
	snap_of(&c, &s, 1);
	s.a2s_key = &c.k;
	cr_assert_eq(ka_apply_snapshot(&m, &s, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(km_a2s_key_read(&m, &k), 0);
	key_bytes(&k, 0, got);
	cr_assert_eq(memcmp(got, k2, 16), 0, "current = the controller's key");
	key_bytes(&k, 1, got);
	cr_assert_eq(memcmp(got, k1, 16), 0, "previous = its previous key");

	/* A resync with the same key changes nothing; a rotation moves the
	 * current key to previous. */
	s.version = 2;
	cr_assert_eq(ka_apply_snapshot(&m, &s, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(km_a2s_key_read(&m, &k), 0);
	key_bytes(&k, 1, got);
	cr_assert_eq(memcmp(got, k1, 16), 0);
	c.k.key.data = k3;
	c.k.prev_key.data = k2;
	s.version = 3;
	cr_assert_eq(ka_apply_snapshot(&m, &s, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(km_a2s_key_read(&m, &k), 0);
	key_bytes(&k, 0, got);
	cr_assert_eq(memcmp(got, k3, 16), 0);
	key_bytes(&k, 1, got);
	cr_assert_eq(memcmp(got, k2, 16), 0);
}
