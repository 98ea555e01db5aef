/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The configuration file (docs/config.md): JSON with comments, parsed with
 * json-c, validated completely before anything is touched.
 *
 * km_cfg_parse*() never stop at the first problem: every error is collected
 * as one line "<file>: <field path>: <reason>", e.g.
 * "kilimanjaro.json: services[2].port: 70000 is out of range 1..65535".
 * The result is only usable when the error list is empty.
 *
 * Addresses, ports and prefix keys in the result are in network order, as
 * the maps want them (lib/maps.h).
 */
#ifndef KM_CONFIG_H
#define KM_CONFIG_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kilimanjaro_abi.h"
#include "maps.h"

/*
 * Reading and parsing a JSON file, shared with kilimanjaro-mapper's
 * --config: each caller words its own messages from what failed.
 */
enum km_file_fail {
	KM_FILE_OK = 0,
	KM_FILE_OPEN,	     /* err: errno of open() */
	KM_FILE_NOT_REGULAR, /* only with KM_FILE_REGULAR_ONLY */
	KM_FILE_TOO_BIG,     /* size: bytes seen, > max */
	KM_FILE_READ,	     /* err: errno of read() */
	KM_FILE_NOMEM,
};
struct km_file_err {
	enum km_file_fail fail;
	int err;
	uint64_t size;
};
/* Refuse what is not a regular file (a FIFO could block the reader). */
#define KM_FILE_REGULAR_ONLY 1u
/*
 * Read at most max bytes of path into a malloc'd, NUL-terminated *text of
 * *len bytes. 0, or -EINVAL/-ENOMEM with *e saying why.
 */
int km_file_read(const char *path, size_t max, unsigned int flags,
		 char **text, size_t *len, struct km_file_err *e);

enum km_json_fail {
	KM_JSON_OK = 0,
	KM_JSON_NOMEM,
	KM_JSON_NUL,	   /* a NUL byte at off */
	KM_JSON_INVALID,   /* desc: json-c's words (or "no value") */
	KM_JSON_TRUNCATED, /* the text ends inside the value */
	KM_JSON_TRAILER,   /* more than whitespace and comments after it */
};
struct km_json_err {
	enum km_json_fail fail;
	size_t off, line, col; /* where, line and column from 1 */
	const char *desc;      /* static text */
};
struct json_object;
/*
 * Parse text (len bytes, need not be NUL-terminated) as one JSON value,
 * comments allowed, also after it. NULL with *e filled on failure.
 */
struct json_object *km_json_parse(const char *text, size_t len,
				  struct km_json_err *e);

/* Files larger than this are refused before parsing. */
#define KM_CFG_MAX_FILE_BYTES (16u << 20)
/* Error lines kept; the rest are counted in km_cfg_errors.dropped. */
#define KM_CFG_MAX_ERRORS 200

enum km_xdp_mode {
	KM_XDP_MODE_NATIVE = 0,
	KM_XDP_MODE_SKB = 1,
};

struct km_cfg_errors {
	char **msg; /* n lines, without trailing newline */
	size_t n;
	size_t cap;
	size_t dropped; /* errors beyond KM_CFG_MAX_ERRORS */
	int oom;	/* an allocation failed while recording */
};

/* One entry of "blocks": either a duration counted from the moment the
 * config is applied, or an absolute wall-clock time. */
struct km_cfg_block {
	uint32_t addr;	    /* __be32 */
	uint64_t seconds;   /* > 0 for a duration, 0 when `until` is used */
	int64_t until_unix; /* seconds since the epoch (UTC), for `until` */
};

/* Map sizes (max_entries) that the config may set before the first load. */
enum km_cfg_size {
	KM_CFG_SZ_PREFIXES = 0, /* each of km_allow_a/_b, km_deny_a/_b */
	KM_CFG_SZ_BLOCKS,	/* km_blocks */
	KM_CFG_SZ_RL_SRC,	/* km_rl_src */
	KM_CFG_SZ_VALIDATED,	/* km_validated */
	KM_CFG_SZ_PUNCHES,	/* km_punches */
	KM_CFG_SZ_MAX,
};

struct km_cfg {
	char ifname[IF_NAMESIZE]; /* "" when the file names none */
	enum km_xdp_mode xdp_mode;
	bool xdp_mode_set; /* the file names a mode */

	uint32_t *edge_addrs; /* __be32; [0] is the IPIP outer source */
	size_t n_edge_addrs;

	uint64_t punch_idle_ns;
	uint64_t validated_idle_ns;
	uint8_t rl_prefix_len;
	bool icmp_echo;

	uint32_t map_size[KM_CFG_SZ_MAX];
	bool map_size_set[KM_CFG_SZ_MAX]; /* given explicitly in the file */

	struct km_svc_cfg defaults; /* limits of "defaults" (flags unused) */

	struct km_service_spec *services;
	char **service_names; /* same index as services */
	size_t n_services;

	struct km_prefix_key *allow;
	size_t n_allow;
	struct km_prefix_key *deny;
	size_t n_deny;

	struct km_cfg_block *blocks;
	size_t n_blocks;

	/* Top-level "a2s" (docs/config.md "A2S"). */
	uint32_t a2s_epoch_s;
	char *a2s_key_file;  /* NULL: a random key per edge */
	uint8_t a2s_key[16]; /* read from a2s_key_file by km_cfg_parse_file */
	bool a2s_key_loaded;
};

/* Built-in values of every optional key (see docs/config.md). */
#define KM_CFG_DEF_PUNCH_IDLE_S 300
#define KM_CFG_DEF_VALIDATED_IDLE_S 300
#define KM_CFG_DEF_RL_PREFIX_LEN 24
#define KM_CFG_DEF_A2S_REFRESH_MS 1000
#define KM_CFG_DEF_A2S_MAX_AGE_MS 10000
#define KM_CFG_DEF_A2S_TIMEOUT_MS 5000
#define KM_CFG_DEF_A2S_EPOCH_S 30
/* Bounds of the A2S keys (docs/config.md). */
#define KM_CFG_A2S_MIN_MS KM_A2S_MIN_MS
#define KM_CFG_A2S_MAX_MS KM_A2S_MAX_MS
#define KM_CFG_A2S_EPOCH_MAX_S 3600

/* Name of each map size key ("prefixes", ...), indexed by enum km_cfg_size. */
extern const char *const km_cfg_size_names[KM_CFG_SZ_MAX];

/*
 * Parse and validate text (len bytes, need not be NUL-terminated); `name`
 * is the file name used in error lines. Returns 0 when valid, -EINVAL when
 * errors were recorded in *errs, -ENOMEM. *cfg is reset first and must be
 * released with km_cfg_free() in every case.
 */
int km_cfg_parse_string(const char *name, const char *text, size_t len,
			struct km_cfg *cfg, struct km_cfg_errors *errs);
/* Read `path` (missing, unreadable, not a regular file, larger than
 * KM_CFG_MAX_FILE_BYTES: one error line) and parse it. When the file is
 * valid and names an a2s.key_file, the key is read too (km_cfg_a2s_key_read),
 * so a start or a reload refuses a bad key file before touching anything. */
int km_cfg_parse_file(const char *path, struct km_cfg *cfg,
		      struct km_cfg_errors *errs);

/*
 * Read an A2S key file: 32 hex digits (16 bytes; surrounding whitespace
 * allowed), a regular file no wider than 0600. Errors are recorded as
 * "<cfg_name>: a2s.key_file: <path>: <reason>". 0 or -EINVAL/-ENOMEM.
 */
int km_cfg_a2s_key_read(const char *cfg_name, const char *path, uint8_t key[16],
			struct km_cfg_errors *errs);

void km_cfg_free(struct km_cfg *cfg);
void km_cfg_errors_free(struct km_cfg_errors *errs);
/* Log every error line at LOG_ERR (and how many were not kept). */
void km_cfg_errors_log(const struct km_cfg_errors *errs);

/* Fill the config-owned fields of a km_config (abi_version, edge_addr,
 * timeouts, rl_prefix_len, flags); active_lists and test_now_ns are left as
 * they are in *out. */
void km_cfg_to_km_config(const struct km_cfg *cfg, struct km_config *out);

/*
 * Turn the blocks into map entries: durations count from now_mono_ns,
 * `until` times are converted from the wall clock (now_real_s) to
 * CLOCK_MONOTONIC. Blocks that already ended are left out. out must hold
 * n_blocks entries; returns how many were written.
 */
size_t km_cfg_blocks_resolve(const struct km_cfg *cfg, uint64_t now_mono_ns,
			     int64_t now_real_s, struct km_block_spec *out);

/* Parse an RFC 3339 date-time ("2026-11-27T12:00:00Z", offsets and
 * fractions allowed) into seconds since the epoch; 0 or -EINVAL. */
int km_cfg_parse_rfc3339(const char *s, int64_t *out);

#endif
