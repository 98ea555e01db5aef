// SPDX-License-Identifier: GPL-2.0-only
#include "edge_common.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "lib/log.h"
#include "lib/maps.h"

struct kmt_env env;
uint32_t if0, if1;

static uint32_t env_ifindex(const char *name)
{
	const char *v = getenv(name);

	cr_assert(v && *v,
		  "%s not set: run through tests/bpf/run-in-netns.sh (needs "
		  "its namespace for bpf_fib_lookup)",
		  name);
	return (uint32_t)strtoul(v, NULL, 10);
}

void world_setup(void)
{
	world_setup_sized(NULL, 0);
}

void world_setup_sized(const struct kmt_map_size *sizes, size_t n)
{
	struct km_config c;

	if0 = env_ifindex("KMT_IFINDEX0");
	if1 = env_ifindex("KMT_IFINDEX1");
	cr_assert_eq(kmt_env_open(&env, sizes, n), 0,
		     "cannot load the XDP object");
	cr_assert_eq(kmt_config_read(&env, &c), 0);
	c.edge_addr = EDGE;
	c.flags = KM_CFG_F_ICMP_ECHO;
	c.punch_idle_ns = PUNCH_IDLE_NS;
	c.validated_idle_ns = VALIDATED_IDLE_NS;
	c.rl_prefix_len = 24;
	c.active_lists = 0;
	cr_assert_eq(kmt_config_write(&env, &c), 0);
	cr_assert_eq(kmt_edge_add(&env, EDGE), 0);
	cr_assert_eq(kmt_edge_add(&env, EDGE2), 0);
	cr_assert_eq(kmt_service_add(&env, IPPROTO_UDP, SVC1, 27015, BE_TX, 0,
				     ID_SVC1_UDP, NULL),
		     0);
	cr_assert_eq(kmt_service_add(&env, IPPROTO_UDP, SVC1, 27016, BE_TX,
				     28016, ID_SVC1_UDP_RW, NULL),
		     0);
	cr_assert_eq(kmt_service_add(&env, IPPROTO_TCP, SVC1, 27015, BE_TX,
				     28015, ID_SVC1_TCP, NULL),
		     0);
	cr_assert_eq(kmt_service_add(&env, IPPROTO_UDP, SVC2, 27015, BE_RD, 0,
				     ID_SVC2, NULL),
		     0);
	cr_assert_eq(kmt_service_add(&env, IPPROTO_UDP, SVC3, 27015, BE_NR, 0,
				     ID_SVC3, NULL),
		     0);
	cr_assert_eq(kmt_service_add(&env, IPPROTO_UDP, SVC4, 27015, BE_OTHER,
				     0, ID_SVC4, NULL),
		     0);
	services_derive();
}

static struct km_maps lib_m;
static int lib_m_open;

const struct km_maps *lib_maps(void)
{
	if (!lib_m_open) {
		km_log_init("bpf-edge", LOG_ERR);
		cr_assert_eq(km_maps_from_object(&lib_m, env.obj), 0);
		lib_m_open = 1;
	}
	return &lib_m;
}

/* kmt_service_add writes the derived maps it knows; km_svc_rev comes from
 * lib/maps.c itself, as the loader and the CLI derive it. */
void services_derive(void)
{
	cr_assert_eq(km_services_derive(lib_maps()), 0,
		     "cannot derive service maps");
}

void world_teardown(void)
{
	if (lib_m_open)
		km_maps_close(&lib_m);
	lib_m_open = 0;
	kmt_env_close(&env);
}

void player_pkt(struct kmt_pkt *p)
{
	kmt_pkt_init(p);
	p->ip.saddr = PLAYER;
	p->ip.daddr = SVC1;
	p->ip.id = 0x4242;
	p->sport = 40000;
	p->dport = 27015;
	kmt_pkt_payload_fill(p, 32);
}

void backend_pkt(struct kmt_pkt *p)
{
	kmt_pkt_init(p);
	p->ipip = 1;
	p->outer.saddr = BE_TX;
	p->outer.daddr = EDGE;
	p->outer.id = 0x0101;
	p->ip.saddr = SVC1;
	p->ip.daddr = PLAYER;
	p->ip.id = 0x5151;
	p->sport = 27015;
	p->dport = 40000;
	kmt_pkt_payload_fill(p, 40);
}

static const char *const action_names[] = {
    "XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX", "XDP_REDIRECT",
};

const char *xdp_action_name(uint32_t a)
{
	return a < 5 ? action_names[a] : "XDP_?";
}

static const char *const reason_names[KM_R_MAX] = {
    [KM_R_PASS_NOT_IPV4] = "PASS_NOT_IPV4",
    [KM_R_PASS_NOT_OURS] = "PASS_NOT_OURS",
    [KM_R_PASS_EDGE] = "PASS_EDGE",
    [KM_R_PASS_FIB] = "PASS_FIB",
    [KM_R_FWD_SERVICE] = "FWD_SERVICE",
    [KM_R_FWD_PUNCH] = "FWD_PUNCH",
    [KM_R_FWD_DECAP] = "FWD_DECAP",
    [KM_R_TX_ICMP_ECHO] = "TX_ICMP_ECHO",
    [KM_R_DROP_TRUNCATED] = "DROP_TRUNCATED",
    [KM_R_DROP_BAD_IP] = "DROP_BAD_IP",
    [KM_R_DROP_IP_OPTIONS] = "DROP_IP_OPTIONS",
    [KM_R_DROP_FRAGMENT] = "DROP_FRAGMENT",
    [KM_R_DROP_BLOCKED] = "DROP_BLOCKED",
    [KM_R_DROP_DENIED] = "DROP_DENIED",
    [KM_R_DROP_RATELIMIT] = "DROP_RATELIMIT",
    [KM_R_DROP_RL_BLOCKED] = "DROP_RL_BLOCKED",
    [KM_R_DROP_SVC_LIMIT] = "DROP_SVC_LIMIT",
    [KM_R_DROP_NO_SERVICE] = "DROP_NO_SERVICE",
    [KM_R_DROP_ICMP] = "DROP_ICMP",
    [KM_R_DROP_IPIP_NOT_BACKEND] = "DROP_IPIP_NOT_BACKEND",
    [KM_R_DROP_IPIP_BAD_INNER] = "DROP_IPIP_BAD_INNER",
    [KM_R_DROP_TOO_BIG] = "DROP_TOO_BIG",
    [KM_R_DROP_INTERNAL] = "DROP_INTERNAL",
    [KM_R_TX_A2S_CHALLENGE] = "TX_A2S_CHALLENGE",
    [KM_R_TX_A2S_CACHED] = "TX_A2S_CACHED",
    [KM_R_REDIR_A2S_WORKER] = "REDIR_A2S_WORKER",
    [KM_R_REDIR_A2S_INGEST] = "REDIR_A2S_INGEST",
    [KM_R_PASS_A2S_INGEST] = "PASS_A2S_INGEST",
};

const char *reason_name(int r)
{
	return r >= 0 && r < KM_R_MAX && reason_names[r] ? reason_names[r]
							 : "(none)";
}

void send_pkt(const struct kmt_pkt *p, uint32_t ifindex, struct res *r)
{
	struct km_stat before[KM_R_MAX], after[KM_R_MAX];
	__u64 cb[KM_C_MAX], ca[KM_C_MAX];
	struct kmt_xdp_run run = {};
	int len, counted = 0;

	memset(r, 0, sizeof(*r));
	len = kmt_pkt_build(p, r->in, sizeof(r->in));
	cr_assert_gt(len, 0, "packet builder failed: %d", len);
	r->in_len = (size_t)len;
	cr_assert_eq(kmt_stats(&env, before), 0);
	cr_assert_eq(kmt_counters(&env, cb), 0);
	run.in = r->in;
	run.in_len = r->in_len;
	run.out = r->out;
	run.out_cap = sizeof(r->out);
	run.ifindex = ifindex;
	cr_assert_eq(kmt_env_run(&env, &run), 0, "BPF_PROG_TEST_RUN failed");
	r->action = run.retval;
	r->out_len = run.out_len;
	cr_assert_eq(kmt_stats(&env, after), 0);
	cr_assert_eq(kmt_counters(&env, ca), 0);
	r->reason = -1;
	for (int i = 0; i < KM_R_MAX; i++) {
		r->stats[i].packets = after[i].packets - before[i].packets;
		r->stats[i].bytes = after[i].bytes - before[i].bytes;
		if (r->stats[i].packets) {
			counted += (int)r->stats[i].packets;
			r->reason = i;
		}
	}
	for (int i = 0; i < KM_C_MAX; i++)
		r->ctr[i] = ca[i] - cb[i];
	cr_assert_eq(counted, 1,
		     "one packet must be counted under exactly one reason, got "
		     "%d (last %s), action %s",
		     counted, reason_name(r->reason),
		     xdp_action_name(r->action));
	cr_assert_eq(r->stats[r->reason].bytes, r->in_len,
		     "%s counted %llu bytes, the frame has %zu",
		     reason_name(r->reason),
		     (unsigned long long)r->stats[r->reason].bytes, r->in_len);
}

void send_expect(const struct kmt_pkt *p, uint32_t ifindex, uint32_t action,
		 unsigned int reason, struct res *r)
{
	char why[160];
	struct res local;

	if (!r)
		r = &local;
	send_pkt(p, ifindex, r);
	cr_assert(r->action == action && r->reason == (int)reason,
		  "expected %s/%s, got %s/%s", xdp_action_name(action),
		  reason_name((int)reason), xdp_action_name(r->action),
		  reason_name(r->reason));
	if (action == XDP_TX || action == XDP_REDIRECT)
		cr_assert_eq(kmt_verify_frame(r->out, r->out_len, NULL, why,
					      sizeof(why)),
			     0, "output frame: %s", why);
	if (action == XDP_PASS)
		expect_frame(r, r->in, r->in_len);
}

void expect_frame(const struct res *r, const uint8_t *exp, size_t exp_len)
{
	int same = r->out_len == exp_len && !memcmp(r->out, exp, exp_len);

	if (!same)
		kmt_hexdiff("output (left) vs expected (right)", r->out,
			    r->out_len, exp, exp_len);
	cr_assert(same, "output frame differs from the expected bytes");
}

static void set_macs(struct kmt_pkt *p, int egress)
{
	memcpy(p->eth_src, egress ? KMT_MAC_EDGE2 : KMT_MAC_EDGE, 6);
	memcpy(p->eth_dst, egress ? KMT_MAC_NEIGH2 : KMT_MAC_NEIGH, 6);
}

/*
 * The outer header of an encapsulated frame. docs/design.md fixes source
 * (edge_addr), destination (backend), protocol 4 and length; checked here
 * beyond that, as an operator reading RFC 2003 would expect: TOS copied
 * from the inner header, DF set when the inner packet has DF, never a
 * fragment, a TTL fit to reach the backend (>= 2). The ID is free.
 */
static void check_outer(const uint8_t *o, const uint8_t *inner)
{
	unsigned int frag = (unsigned int)o[6] << 8 | o[7];
	unsigned int ifrag = (unsigned int)inner[6] << 8 | inner[7];

	cr_assert_eq(o[0], 0x45, "outer version/IHL 0x%02x", o[0]);
	cr_assert_eq(o[1], inner[1], "outer TOS 0x%02x, inner 0x%02x", o[1],
		     inner[1]);
	cr_assert_eq(frag & 0x3fff, 0, "outer header is a fragment (0x%04x)",
		     frag);
	if (ifrag & 0x4000)
		cr_assert(frag & 0x4000, "inner DF set, outer DF clear");
	cr_assert_geq(o[8], 2, "outer TTL %u", o[8]);
	cr_assert_eq(o[9], 4, "outer protocol %u", o[9]);
}

void expect_encap(const struct res *r, const struct kmt_pkt *in,
		  uint32_t backend, uint16_t dport, int egress)
{
	struct kmt_pkt e = *in;
	uint8_t exp[KMT_FRAME_MAX];
	uint8_t got[KMT_FRAME_MAX];
	int len;

	set_macs(&e, egress);
	e.pad = 0;
	e.ipip = 1;
	memset(&e.outer, 0, sizeof(e.outer));
	e.outer.saddr = EDGE;
	e.outer.daddr = backend;
	e.outer.tos = in->ip.tos;
	e.dport = dport;
	len = kmt_pkt_build(&e, exp, sizeof(exp));
	cr_assert_gt(len, 0);
	cr_assert_geq(r->out_len, 34u, "output of %zu bytes", r->out_len);
	check_outer(r->out + 14, r->out + 34);
	/* Fields checked above are free: copy them before comparing. */
	memcpy(got, r->out, r->out_len);
	memcpy(got + 14 + 4, exp + 14 + 4, 8); /* id, frag, ttl, proto, csum */
	{
		struct res cmp = *r;

		memcpy(cmp.out, got, r->out_len);
		expect_frame(&cmp, exp, (size_t)len);
	}
}

void expect_decap(const struct res *r, const struct kmt_pkt *in, int egress)
{
	struct kmt_pkt e = *in;
	uint8_t exp[KMT_FRAME_MAX];
	int len;

	set_macs(&e, egress);
	e.pad = 0;
	e.ipip = 0;
	len = kmt_pkt_build(&e, exp, sizeof(exp));
	cr_assert_gt(len, 0);
	expect_frame(r, exp, (size_t)len);
}

/*
 * Echo reply: MACs and addresses swapped, type 0, same id/sequence/data,
 * same TOS and length. TTL and IP id are the edge's own choice (TTL > 0).
 */
void expect_echo_reply(const struct res *r, const struct kmt_pkt *in)
{
	struct kmt_pkt e = *in;
	uint8_t exp[KMT_FRAME_MAX], got[KMT_FRAME_MAX];
	struct res cmp;
	int len;

	memcpy(e.eth_src, in->eth_dst, 6);
	memcpy(e.eth_dst, in->eth_src, 6);
	e.ip.saddr = in->ip.daddr;
	e.ip.daddr = in->ip.saddr;
	e.icmp_type = 0;
	e.pad = 0;
	len = kmt_pkt_build(&e, exp, sizeof(exp));
	cr_assert_gt(len, 0);
	cr_assert_geq(r->out_len, 34u);
	cr_assert_gt(r->out[14 + 8], 0, "echo reply TTL 0");
	cmp = *r;
	memcpy(got, r->out, r->out_len);
	memcpy(got + 14 + 4, exp + 14 + 4, 2);	 /* id */
	memcpy(got + 14 + 8, exp + 14 + 8, 1);	 /* ttl */
	memcpy(got + 14 + 10, exp + 14 + 10, 2); /* checksum (verified) */
	memcpy(cmp.out, got, r->out_len);
	expect_frame(&cmp, exp, (size_t)len);
}

void set_cfg(void (*edit)(struct km_config *c))
{
	struct km_config c;

	cr_assert_eq(kmt_config_read(&env, &c), 0);
	edit(&c);
	cr_assert_eq(kmt_config_write(&env, &c), 0);
}

void set_limits(uint32_t id, const struct km_svc_cfg *cfg)
{
	cr_assert_eq(kmt_svc_cfg_set(&env, id, cfg), 0);
}

void clock_set(uint64_t ns)
{
	cr_assert_eq(kmt_clock_set(&env, ns), 0);
}

void clock_add(uint64_t ns)
{
	clock_set(kmt_clock_get(&env) + ns);
}

int validated_get(uint32_t id, uint32_t player, struct km_validated *v)
{
	struct km_validated_key k = {.service_id = id, .player = player};

	return bpf_map_lookup_elem(kmt_fd(&env, KM_MAP_VALIDATED), &k, v);
}

int punch_get(const struct km_punch_key *k, struct km_punch *v)
{
	return bpf_map_lookup_elem(kmt_fd(&env, KM_MAP_PUNCHES), k, v);
}

long map_count(const char *name)
{
	long n = kmt_map_count(kmt_fd(&env, name));

	cr_assert_geq(n, 0, "cannot count %s", name);
	return n;
}

__u64 counter(unsigned int c)
{
	__u64 v[KM_C_MAX];

	cr_assert_eq(kmt_counters(&env, v), 0);
	return v[c];
}
