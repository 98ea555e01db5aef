/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Controller protocol framing (docs/design.md "Controller protocol"): a
 * frame is a 4-byte big-endian length, then that many bytes of one
 * serialized kilimanjaro.v1.Envelope. Shared by the agent and the
 * controller; transport-agnostic (bytes in, bytes out), so it sits under
 * TLS, plain TCP and the fuzzer alike.
 *
 * The length is checked against the reader's cap before anything is
 * allocated: a peer cannot make us reserve 4 GiB by sending four bytes.
 */
#ifndef KM_FRAME_H
#define KM_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "kilimanjaro.pb-c.h"

/* Envelope.schema this build speaks. Fields are only ever added. */
#define KM_SCHEMA_VERSION 1
/* Largest frame payload either side accepts (a ConfigSnapshot of the
 * maximum number of services and a few thousand prefixes fits easily). */
#define KM_FRAME_MAX (4u << 20)
#define KM_FRAME_HDR 4

typedef Kilimanjaro__V1__Envelope KmEnvelope;

/* Incremental reader: feed it whatever the transport delivered. */
struct km_frame_reader {
	uint32_t max; /* cap on the payload length */
	uint8_t hdr[KM_FRAME_HDR];
	uint32_t hdr_got; /* header bytes so far */
	uint32_t len;	  /* payload length (valid when hdr_got == 4) */
	uint32_t got;	  /* payload bytes so far */
	uint8_t *buf;	  /* payload, allocated once len is known */
	uint64_t frames;  /* complete frames returned */
};

/* max 0 means KM_FRAME_MAX. */
void km_frame_reader_init(struct km_frame_reader *r, uint32_t max);
/* Drops a partial frame; the reader can be initialised again. NULL ok. */
void km_frame_reader_free(struct km_frame_reader *r);

/*
 * Consume bytes from data[0..len) until one frame is complete or data is
 * used up; *used says how many bytes were taken (call again with the rest).
 * Returns:
 *   1   a frame is complete: *frame and *frame_len hold its payload, valid
 *       until the next call (the reader owns it);
 *   0   all of data consumed, no complete frame yet;
 *  -EMSGSIZE  the length prefix exceeds the cap (nothing allocated). The
 *       stream cannot be resynchronised: close the connection. *why (when
 *       not NULL) points to a static reason;
 *  -ENOMEM.
 * After -EMSGSIZE the reader stays failed (every later call repeats it).
 */
int km_frame_feed(struct km_frame_reader *r, const uint8_t *data, size_t len,
		  size_t *used, const uint8_t **frame, uint32_t *frame_len,
		  const char **why);

/* True when a frame has been started but not completed (for a truncated
 * stream at EOF: "connection closed inside a frame"). */
int km_frame_partial(const struct km_frame_reader *r);

/*
 * Serialise env as one frame into a new buffer (*out, free() it; *out_len
 * bytes including the header). Sets env->schema when it is 0.
 * -EMSGSIZE (logged) when the payload would exceed max (0: KM_FRAME_MAX).
 */
int km_frame_encode(KmEnvelope *env, uint32_t max, uint8_t **out,
		    size_t *out_len);

/*
 * Decode a frame's payload. 0 with *env set (free with km_envelope_free),
 * or -EBADMSG with *why a static reason ("not a valid Envelope protobuf").
 * Semantic checks are lib/pbcheck's.
 */
int km_envelope_decode(const uint8_t *buf, size_t len, KmEnvelope **env,
		       const char **why);
void km_envelope_free(KmEnvelope *env);

/* Name of the message an envelope carries ("hello", "snapshot", ...). */
const char *km_envelope_kind(const KmEnvelope *env);

#endif
