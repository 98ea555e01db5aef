// SPDX-License-Identifier: GPL-2.0-only
#include "auth.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define SALT_LEN 16
#define HASH_LEN 32
#define ITER_MIN 10000
#define ITER_MAX 10000000

struct session {
	char id[AUTH_SESSION_ID_HEX + 1];
	uint64_t expires_ms;
};

#define FAIL_SLOTS 256

struct fail_slot {
	uint32_t addr;
	uint32_t count;
	uint64_t start_ms;
};

struct auth {
	const struct ctl_config *cfg;
	pthread_mutex_t lock;
	struct fail_slot fails[FAIL_SLOTS];
	struct session sessions[AUTH_MAX_SESSIONS];
	size_t n_sessions;
	/* A real hash checked for unknown users, so that a wrong name costs
	 * the same time as a wrong password. */
	char dummy_hash[160];
};

uint64_t auth_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void hex(const uint8_t *b, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[b[i] >> 4];
		out[2 * i + 1] = d[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static int unhex(const char *s, size_t slen, uint8_t *out, size_t n)
{
	if (slen != 2 * n)
		return -EINVAL;
	for (size_t i = 0; i < 2 * n; i++) {
		char c = s[i];
		int v = c >= '0' && c <= '9'   ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10
					       : -1;

		if (v < 0)
			return -EINVAL;
		if (i % 2)
			out[i / 2] |= (uint8_t)v;
		else
			out[i / 2] = (uint8_t)(v << 4);
	}
	return 0;
}

static int pbkdf2(const char *pw, const uint8_t *salt, unsigned int iter,
		  uint8_t out[HASH_LEN])
{
	if (PKCS5_PBKDF2_HMAC(pw, (int)strlen(pw), salt, SALT_LEN, (int)iter,
			      EVP_sha256(), HASH_LEN, out) != 1)
		return -EIO;
	return 0;
}

int auth_hash_password(const char *password, char *out, size_t out_len)
{
	uint8_t salt[SALT_LEN], h[HASH_LEN];
	char sh[2 * SALT_LEN + 1], hh[2 * HASH_LEN + 1];
	int r;

	if (RAND_bytes(salt, sizeof(salt)) != 1)
		return -EIO;
	r = pbkdf2(password, salt, AUTH_PBKDF2_ITER, h);
	if (r)
		return r;
	hex(salt, SALT_LEN, sh);
	hex(h, HASH_LEN, hh);
	if ((size_t)snprintf(out, out_len, "pbkdf2-sha256$%u$%s$%s",
			     AUTH_PBKDF2_ITER, sh, hh) >= out_len)
		return -ENOSPC;
	return 0;
}

int auth_check_password(const char *hash, const char *password)
{
	uint8_t salt[SALT_LEN], want[HASH_LEN], got[HASH_LEN];
	const char *p, *s, *h;
	unsigned long iter;
	char *end;
	int r;

	if (strncmp(hash, "pbkdf2-sha256$", 14))
		return -EINVAL;
	p = hash + 14;
	iter = strtoul(p, &end, 10);
	if (end == p || *end != '$' || iter < ITER_MIN || iter > ITER_MAX)
		return -EINVAL;
	s = end + 1;
	h = strchr(s, '$');
	if (!h || unhex(s, (size_t)(h - s), salt, SALT_LEN) ||
	    unhex(h + 1, strlen(h + 1), want, HASH_LEN))
		return -EINVAL;
	r = pbkdf2(password, salt, (unsigned int)iter, got);
	if (r)
		return r;
	return CRYPTO_memcmp(got, want, HASH_LEN) ? -EACCES : 0;
}

struct auth *auth_new(const struct ctl_config *cfg)
{
	struct auth *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->cfg = cfg;
	pthread_mutex_init(&a->lock, NULL);
	if (auth_hash_password("kilimanjaro-no-such-user", a->dummy_hash,
			       sizeof(a->dummy_hash))) {
		free(a);
		return NULL;
	}
	return a;
}

void auth_free(struct auth *a)
{
	if (!a)
		return;
	pthread_mutex_destroy(&a->lock);
	OPENSSL_cleanse(a->sessions, sizeof(a->sessions));
	free(a);
}

uint32_t auth_session_ttl_s(const struct auth *a)
{
	return a->cfg->session_ttl_s;
}

/* Drop expired sessions; when still full, the one closest to expiry. */
static void sessions_make_room(struct auth *a, uint64_t now)
{
	size_t i = 0, oldest = 0;

	while (i < a->n_sessions) {
		if (a->sessions[i].expires_ms <= now)
			a->sessions[i] = a->sessions[--a->n_sessions];
		else
			i++;
	}
	if (a->n_sessions < AUTH_MAX_SESSIONS)
		return;
	for (i = 1; i < a->n_sessions; i++)
		if (a->sessions[i].expires_ms < a->sessions[oldest].expires_ms)
			oldest = i;
	a->sessions[oldest] = a->sessions[--a->n_sessions];
}

int auth_login(struct auth *a, const char *user, const char *password,
	       char id[AUTH_SESSION_ID_HEX + 1])
{
	const struct ctl_user *u = NULL;
	uint8_t rnd[AUTH_SESSION_ID_HEX / 2];
	uint64_t now;
	int r;

	for (size_t i = 0; i < a->cfg->n_users; i++)
		if (!strcmp(a->cfg->users[i].name, user))
			u = &a->cfg->users[i];
	r = auth_check_password(u ? u->password_hash : a->dummy_hash, password);
	if (!u || r)
		return -EACCES;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -EIO;
	hex(rnd, sizeof(rnd), id);
	now = auth_now_ms();
	pthread_mutex_lock(&a->lock);
	sessions_make_room(a, now);
	memcpy(a->sessions[a->n_sessions].id, id, AUTH_SESSION_ID_HEX + 1);
	a->sessions[a->n_sessions].expires_ms =
	    now + (uint64_t)a->cfg->session_ttl_s * 1000;
	a->n_sessions++;
	pthread_mutex_unlock(&a->lock);
	return 0;
}

/* Index of a session with this id, or -1; constant time per entry. */
static long session_find(struct auth *a, const char *id)
{
	if (strlen(id) != AUTH_SESSION_ID_HEX)
		return -1;
	for (size_t i = 0; i < a->n_sessions; i++)
		if (!CRYPTO_memcmp(a->sessions[i].id, id, AUTH_SESSION_ID_HEX))
			return (long)i;
	return -1;
}

void auth_logout(struct auth *a, const char *id)
{
	long i;

	pthread_mutex_lock(&a->lock);
	i = session_find(a, id);
	if (i >= 0)
		a->sessions[i] = a->sessions[--a->n_sessions];
	pthread_mutex_unlock(&a->lock);
}

bool auth_session_ok(struct auth *a, const char *id, uint64_t now_ms)
{
	bool ok;
	long i;

	pthread_mutex_lock(&a->lock);
	i = session_find(a, id);
	ok = i >= 0 && a->sessions[i].expires_ms > now_ms;
	if (i >= 0 && !ok)
		a->sessions[i] = a->sessions[--a->n_sessions];
	pthread_mutex_unlock(&a->lock);
	return ok;
}

bool auth_token_ok(const struct auth *a, const char *token)
{
	size_t tl = strlen(token);
	bool ok = false;

	for (size_t i = 0; i < a->cfg->n_tokens; i++) {
		const char *t = a->cfg->api_tokens[i];

		/* The lengths of configured tokens are not secret; their
		 * bytes are. */
		if (strlen(t) == tl && !CRYPTO_memcmp(t, token, tl))
			ok = true;
	}
	return ok;
}

/* The slot of addr, or the one whose window ended longest ago. */
static struct fail_slot *fail_slot(struct auth *a, uint32_t addr)
{
	struct fail_slot *old = &a->fails[0];

	for (size_t i = 0; i < FAIL_SLOTS; i++) {
		if (a->fails[i].count && a->fails[i].addr == addr)
			return &a->fails[i];
		if (a->fails[i].start_ms < old->start_ms)
			old = &a->fails[i];
	}
	return old;
}

uint32_t auth_throttled(struct auth *a, uint32_t addr, uint64_t now_ms)
{
	struct fail_slot *f;
	uint32_t wait = 0;

	pthread_mutex_lock(&a->lock);
	f = fail_slot(a, addr);
	if (f->count >= AUTH_FAIL_MAX && f->addr == addr &&
	    now_ms < f->start_ms + AUTH_FAIL_WINDOW_MS)
		wait = (uint32_t)((f->start_ms + AUTH_FAIL_WINDOW_MS - now_ms +
				   999) /
				  1000);
	pthread_mutex_unlock(&a->lock);
	return wait;
}

void auth_failed(struct auth *a, uint32_t addr, uint64_t now_ms)
{
	struct fail_slot *f;

	pthread_mutex_lock(&a->lock);
	f = fail_slot(a, addr);
	if (f->addr != addr || !f->count ||
	    now_ms >= f->start_ms + AUTH_FAIL_WINDOW_MS) {
		f->addr = addr;
		f->count = 0;
		f->start_ms = now_ms;
	}
	f->count++;
	pthread_mutex_unlock(&a->lock);
}
