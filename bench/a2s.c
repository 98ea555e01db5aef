// SPDX-License-Identifier: GPL-2.0-only
/*
 * The A2S cache-hit scenario (live_a2s_hit): service 3 caches A2S, a fixed
 * challenge key is installed, km_a2s_info holds a fresh answer (the lab
 * fixture's A2S_INFO), and the template is an A2S_INFO request carrying the
 * challenge the program computes for the player, so every frame is
 * answered from the cache with XDP_TX (counted tx_a2s_cached).
 */
#include "kmbench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "a2s_wire.h"
#include "kilimanjaro.skel.h"
#include "kmtest.h"
#include "log.h"
#include "siphash.bpf.h"

/* A fixed key and epoch: the template's challenge is computed from them
 * here, and no loader advances the epoch during the bench. */
#define KMB_A2S_K0 0x0706050403020100ULL
#define KMB_A2S_K1 0x0f0e0d0c0b0a0908ULL
#define KMB_A2S_EPOCH 1
#define KMB_A2S_SPORT 40000

void kmb_a2s_cfg(struct km_a2s_cfg *a)
{
	/* Long enough that the entry stays fresh for the whole bench. */
	a->flags = KM_A2S_F_ENABLED;
	a->refresh_ns = 1800ULL * 1000000000ULL;
	a->max_age_ns = 3600ULL * 1000000000ULL;
	a->timeout_ns = 3600ULL * 1000000000ULL;
}

/* The challenge as bpf/a2s.bpf.h computes it: SipHash-2-4 of (player
 * address, port, service address, port, epoch), fields in packet byte
 * order; 0 and FFFFFFFF become 1. */
static uint32_t challenge(void)
{
	uint32_t saddr = htonl(KMB_PLAYER), daddr = htonl(KMB_SVC);
	uint16_t sport = htons(KMB_A2S_SPORT), dport = htons(KMB_PORT_A2S);
	uint64_t m0 = (uint64_t)saddr | (uint64_t)sport << 32 |
		      (uint64_t)(daddr & 0xffff) << 48;
	uint64_t m1 = (uint64_t)(daddr >> 16) | (uint64_t)dport << 16 |
		      (uint64_t)KMB_A2S_EPOCH << 32;
	uint32_t c = (uint32_t)km_siphash16(KMB_A2S_K0, KMB_A2S_K1, m0, m1);

	return c + 1 <= 1 ? 1 : c;
}

/* Sum of data as big-endian 16-bit words, odd byte padded with 0,
 * unfolded (km_a2s_entry.csum). */
static uint32_t data_sum(const uint8_t *d, size_t len)
{
	uint32_t sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)d[i] << 8 | d[i + 1];
	if (len & 1)
		sum += (uint32_t)d[len - 1] << 8;
	return sum;
}

static const struct a2s_server srv = {
    .name = "Kilimanjaro bench",
    .map = "ctf_2fort",
    .folder = "tf",
    .game = "Team Fortress",
    .version = "8835751",
    .keywords = "kilimanjaro,bench",
    .app_id = 440,
    .game_port = KMB_PORT_A2S,
    .players = 12,
    .max_players = 24,
    .serial = -1,
};

int kmb_a2s_populate(const struct kmb_km *k)
{
	struct km_a2s_key key = {
	    .k0 = KMB_A2S_K0,
	    .k1 = KMB_A2S_K1,
	    .prev_k0 = KMB_A2S_K0,
	    .prev_k1 = KMB_A2S_K1,
	    .epoch = KMB_A2S_EPOCH,
	    .key_id = 1,
	    .flags = KM_A2S_KEY_F_VALID,
	    .epoch_s = 3600,
	};
	static struct km_a2s_entry e;
	struct bpf_map *mk, *mi;
	struct timespec ts;
	__u32 zero = 0, id = k->svc_id[KMB_SVC_A2S];
	int n;

	mk = bpf_object__find_map_by_name(k->skel->obj, KM_MAP_A2S_KEY);
	mi = bpf_object__find_map_by_name(k->skel->obj, KM_MAP_A2S_INFO);
	if (!mk || !mi)
		return km_log_errno(-ENOENT,
				    "kilimanjaro.bpf.o has no A2S maps");
	n = a2s_build_info(&srv, e.data, sizeof(e.data));
	if (n < 0)
		return km_log_errno(n, "cannot build the cached A2S_INFO");
	clock_gettime(CLOCK_MONOTONIC, &ts);
	e.seq = 0;
	e.flags = KM_A2S_E_VALID;
	/* A second in the past: younger than refresh whichever clock
	 * granularity the program reads. */
	e.updated_ns =
	    (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec - 1000000000ULL;
	e.svc.proto = IPPROTO_UDP;
	e.svc.port = htons(KMB_PORT_A2S);
	e.svc.addr = htonl(KMB_SVC);
	e.len = (__u16)n;
	e.csum = data_sum(e.data, n);
	if (bpf_map_update_elem(bpf_map__fd(mk), &zero, &key, BPF_ANY))
		return km_log_errno(-errno, "cannot write %s", KM_MAP_A2S_KEY);
	if (bpf_map_update_elem(bpf_map__fd(mi), &id, &e, BPF_ANY))
		return km_log_errno(-errno, "cannot write %s", KM_MAP_A2S_INFO);
	return 0;
}

int kmb_a2s_template(struct kmt_pkt *p)
{
	uint8_t req[A2S_INFO_REQ_LEN + 4];
	int n = a2s_build_request(A2S_KIND_INFO, challenge(), req, sizeof(req));

	if (n < 0)
		return n;
	p->ip.saddr = htonl(KMB_PLAYER);
	p->sport = KMB_A2S_SPORT;
	p->dport = KMB_PORT_A2S;
	p->pad = KMB_PKT_LEN - (14 + 20 + 8 + (size_t)n);
	return kmt_pkt_payload(p, req, n);
}

void kmb_a2s_key(__u64 *k0, __u64 *k1, __u32 *epoch)
{
	*k0 = KMB_A2S_K0;
	*k1 = KMB_A2S_K1;
	*epoch = KMB_A2S_EPOCH;
}

/* S2C_CHALLENGE: FF FF FF FF 41 and the template player's challenge as
 * its little-endian bytes. */
bool kmb_a2s_challenge_ok(const uint8_t *payload, size_t len)
{
	uint32_t c = challenge();
	uint8_t want[9] = {0xff,
			   0xff,
			   0xff,
			   0xff,
			   0x41,
			   (uint8_t)c,
			   (uint8_t)(c >> 8),
			   (uint8_t)(c >> 16),
			   (uint8_t)(c >> 24)};

	return len == sizeof(want) && !memcmp(payload, want, len);
}

bool kmb_a2s_answer_ok(const uint8_t *payload, size_t len)
{
	uint8_t want[KM_A2S_INFO_MAX];
	int n = a2s_build_info(&srv, want, sizeof(want));

	return n > 0 && len == (size_t)n && !memcmp(payload, want, len);
}
