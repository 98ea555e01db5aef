/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Assembly of one split A2S answer (pure, unit-tested). One assembler per
 * (service, kind) in a worker: RSS sends every fragment of one answer (one
 * 5-tuple) to the same RX queue, hence to the same worker. A fragment of
 * another id restarts the assembly (the server answered a newer query);
 * fragments that disagree with the first one about the total or repeat a
 * number with other bytes make the answer bad.
 */
#ifndef KW_A2S_SPLIT_H
#define KW_A2S_SPLIT_H

#include <stddef.h>
#include <stdint.h>

#include "a2s_pkt.h"

struct a2s_split {
	uint32_t id;
	uint8_t total; /* 0: nothing collected */
	uint8_t have;  /* fragments received */
	uint16_t len[A2S_SPLIT_MAX_FRAGS];
	uint64_t started_ns; /* first fragment */
	uint8_t data[A2S_SPLIT_MAX_FRAGS][A2S_UNSPLIT_MAX];
};

void a2s_split_reset(struct a2s_split *s);

/* Add one parsed fragment (a2s_answer_parse type A2S_A_SPLIT). Returns 0
 * while incomplete, the assembled length (> 0, written to out, at most
 * cap) once every fragment is there (the assembler is then reset), or
 * -EBADMSG with the reason in *why (the assembler is reset). */
int a2s_split_add(struct a2s_split *s, const struct a2s_answer *a,
		  uint64_t now_ns, uint8_t *out, size_t cap, const char **why);

#endif
