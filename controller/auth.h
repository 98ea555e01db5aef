/* SPDX-License-Identifier: GPL-2.0-only */
/* Who may use the HTTP API: users (PBKDF2-SHA256 password hashes from the
 * config), API tokens (Bearer), and login sessions (random 256-bit ids that
 * expire). Every comparison of a secret is constant time. Thread-safe. */
#ifndef KM_CTL_AUTH_H
#define KM_CTL_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl_config.h"

#define AUTH_PBKDF2_ITER 200000
#define AUTH_SESSION_ID_HEX 64 /* 256 bits */
#define AUTH_MAX_SESSIONS 4096

/* "pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>" of password, with a
 * fresh 16-byte salt. out must hold 160 bytes. */
int auth_hash_password(const char *password, char *out, size_t out_len);
/* 0 when password matches hash; -EACCES when not; -EINVAL for a hash that
 * is not of the format above. */
int auth_check_password(const char *hash, const char *password);

struct auth;

struct auth *auth_new(const struct ctl_config *cfg);
void auth_free(struct auth *a);

/* Check user/password; on success a new session whose id (hex, NUL
 * terminated) is written to id. -EACCES for an unknown user or a wrong
 * password (the same work is done for both). */
int auth_login(struct auth *a, const char *user, const char *password,
	       char id[AUTH_SESSION_ID_HEX + 1]);
void auth_logout(struct auth *a, const char *id);
/* Failed logins per client address: after AUTH_FAIL_MAX within
 * AUTH_FAIL_WINDOW_MS, that address is refused until the window ends
 * (password guessing costs a minute per ten tries; other addresses and
 * API tokens are unaffected). auth_throttled: 0, or the seconds to wait. */
#define AUTH_FAIL_MAX 10
#define AUTH_FAIL_WINDOW_MS 60000
uint32_t auth_throttled(struct auth *a, uint32_t addr, uint64_t now_ms);
void auth_failed(struct auth *a, uint32_t addr, uint64_t now_ms);
/* Is this session id live (and not expired at now_ms)? */
bool auth_session_ok(struct auth *a, const char *id, uint64_t now_ms);
bool auth_token_ok(const struct auth *a, const char *token);
uint32_t auth_session_ttl_s(const struct auth *a);

/* Clock in ms the sessions are timed with (CLOCK_MONOTONIC); settable for
 * tests through auth_session_ok's now_ms. */
uint64_t auth_now_ms(void);

#endif
