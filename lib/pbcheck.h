/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Semantic validation of a decoded controller-protocol Envelope, shared by
 * the agent and the controller. protobuf-c checks the wire format and the
 * required fields; it accepts any integer for an enum and any value for a
 * port or a prefix length. Everything that could reach a map or be relayed
 * to other edges is checked here first, so that a message is either wholly
 * valid or refused before anything changes (docs/design.md "Agent").
 *
 * Every refusal is one sentence naming the field by its path
 * ("snapshot.services[2].key.port: 0 is not a port (1..65535)").
 */
#ifndef KM_PBCHECK_H
#define KM_PBCHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "frame.h"
#include "maps.h"

/* Bounds on repeated fields and strings (beyond them: refused). */
#define KM_PB_MAX_PREFIXES (1u << 20)
#define KM_PB_MAX_BLOCKS (1u << 20)
#define KM_PB_MAX_PUNCHES (1u << 20)
#define KM_PB_MAX_STATS_ITEMS 8192
#define KM_PB_MAX_NAME 64  /* service name, edge id, reason, map name */
#define KM_PB_MAX_TEXT 512 /* Ack.error, software_version */
#define KM_PB_BLOCK_MAX_MS (10ull * 366 * 24 * 3600 * 1000)
#define KM_PB_LIMIT_BLOCK_MAX_MS (24u * 3600 * 1000)
#define KM_PB_A2S_KEY_LEN 16
#define KM_PB_EPOCH_S_MAX 86400u

/* Size of a reason buffer that holds any message of this module. */
#define KM_PB_WHY_LEN 256

/*
 * NULL when env may be acted on; else why[] (len bytes, KM_PB_WHY_LEN is
 * enough) holds the reason and is returned. Checks every message kind:
 * which kinds a side accepts is the receiver's decision.
 */
const char *km_pb_check(const KmEnvelope *env, char *why, size_t len);

/* Proto enum -> IPPROTO_* (0 for anything else). */
uint8_t km_pb_ipproto(int proto);

/*
 * A checked Service as lib/maps.h wants it (network order; A2S defaults
 * of docs/config.md filled in for absent fields). Only for a Service that
 * km_pb_check accepted.
 */
void km_pb_service_spec(const Kilimanjaro__V1__Service *s,
			struct km_service_spec *out);
void km_pb_prefix_key(const Kilimanjaro__V1__Prefix *p,
		      struct km_prefix_key *out);
void km_pb_punch_key(const Kilimanjaro__V1__PortPunch *p,
		     struct km_punch_key *out);

#endif
