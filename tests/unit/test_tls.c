// SPDX-License-Identifier: GPL-2.0-only
/* lib/tls: a client and a server over memory BIOs, in one process, with
 * the certificates tests/lib/gen-certs.sh makes (KM_TEST_CERTS). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "log.h"
#include "tls.h"

static char dir[256];

static const char *path(const char *name)
{
	static char buf[4][400];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

static void setup(void)
{
	const char *d = getenv("KM_TEST_CERTS");
	char cmd[600];

	km_log_init("test-tls", LOG_WARNING);
	cr_assert_not_null(d, "KM_TEST_CERTS (gen-certs.sh) not set");
	snprintf(dir, sizeof(dir), "%s", d);
	snprintf(cmd, sizeof(cmd), "%s/gen-certs.sh %s", getenv("KM_TEST_LIB"),
		 dir);
	cr_assert_eq(system(cmd), 0, "%s failed", cmd);
}

static SSL_CTX *ctx(enum km_tls_role role, const char *ca, const char *who)
{
	SSL_CTX *c;
	char cert[64], key[64];

	snprintf(cert, sizeof(cert), "%s.pem", who);
	snprintf(key, sizeof(key), "%s.key", who);
	cr_assert_eq(km_tls_ctx_new(&c, role, path(ca), path(cert), path(key)),
		     0);
	return c;
}

/* Move ciphertext both ways until both handshakes end. */
static void pump(struct km_tls_conn *cl, struct km_tls_conn *sv, int *rc,
		 int *rs)
{
	uint8_t buf[16384];

	*rc = *rs = 0;
	for (int round = 0; round < 20; round++) {
		size_t n;

		if (*rc == 0)
			*rc = km_tls_conn_handshake(cl);
		while ((n = km_tls_conn_take(cl, buf, sizeof(buf))))
			km_tls_conn_feed(sv, buf, n);
		if (*rs == 0)
			*rs = km_tls_conn_handshake(sv);
		while ((n = km_tls_conn_take(sv, buf, sizeof(buf))))
			km_tls_conn_feed(cl, buf, n);
		if (*rc != 0 && *rs != 0)
			return;
	}
}

TestSuite(tls, .init = setup);

Test(tls, mutual_handshake_and_data)
{
	SSL_CTX *sc = ctx(KM_TLS_SERVER, "ca.pem", "controller");
	SSL_CTX *cc = ctx(KM_TLS_CLIENT, "ca.pem", "edge-a");
	struct km_tls_conn *cl, *sv;
	char cn[64], got[32];
	uint8_t buf[16384];
	size_t n;
	int rc, rs;

	cr_assert_eq(km_tls_conn_new(&cl, cc, KM_TLS_CLIENT, "127.0.0.1"), 0);
	cr_assert_eq(km_tls_conn_new(&sv, sc, KM_TLS_SERVER, NULL), 0);
	pump(cl, sv, &rc, &rs);
	cr_assert_eq(rc, 1, "client: %s", km_tls_conn_reason(cl));
	cr_assert_eq(rs, 1, "server: %s", km_tls_conn_reason(sv));
	cr_assert_str_eq(SSL_get_version(km_tls_conn_ssl(cl)), "TLSv1.3");
	cr_assert_eq(km_tls_peer_cn(km_tls_conn_ssl(sv), cn, sizeof(cn)), 0);
	cr_assert_str_eq(cn, "edge-a");
	cr_assert_eq(km_tls_peer_cn(km_tls_conn_ssl(cl), cn, sizeof(cn)), 0);
	cr_assert_str_eq(cn, "controller");

	cr_assert_eq(km_tls_conn_write(cl, "hello", 5), 0);
	while ((n = km_tls_conn_take(cl, buf, sizeof(buf))))
		km_tls_conn_feed(sv, buf, n);
	cr_assert_eq(km_tls_conn_read(sv, got, sizeof(got)), 5);
	cr_assert_eq(memcmp(got, "hello", 5), 0);
	cr_assert_eq(km_tls_conn_read(sv, got, sizeof(got)), 0);

	km_tls_conn_shutdown(cl);
	while ((n = km_tls_conn_take(cl, buf, sizeof(buf))))
		km_tls_conn_feed(sv, buf, n);
	cr_assert_eq(km_tls_conn_read(sv, got, sizeof(got)), -ECONNRESET);
	km_tls_conn_free(cl);
	km_tls_conn_free(sv);
	km_tls_ctx_free(sc);
	km_tls_ctx_free(cc);
}

Test(tls, client_from_another_ca_refused)
{
	SSL_CTX *sc = ctx(KM_TLS_SERVER, "ca.pem", "controller");
	SSL_CTX *cc = ctx(KM_TLS_CLIENT, "ca.pem", "rogue");
	struct km_tls_conn *cl, *sv;
	int rc, rs;

	cr_assert_eq(km_tls_conn_new(&cl, cc, KM_TLS_CLIENT, "localhost"), 0);
	cr_assert_eq(km_tls_conn_new(&sv, sc, KM_TLS_SERVER, NULL), 0);
	pump(cl, sv, &rc, &rs);
	cr_assert_eq(rs, -EPROTO);
	cr_assert(strstr(km_tls_conn_reason(sv), "certificate"), "%s",
		  km_tls_conn_reason(sv));
	km_tls_conn_free(cl);
	km_tls_conn_free(sv);
	km_tls_ctx_free(sc);
	km_tls_ctx_free(cc);
}

Test(tls, server_name_mismatch_refused)
{
	SSL_CTX *sc = ctx(KM_TLS_SERVER, "ca.pem", "controller");
	SSL_CTX *cc = ctx(KM_TLS_CLIENT, "ca.pem", "edge-a");
	struct km_tls_conn *cl, *sv;
	int rc, rs;

	cr_assert_eq(km_tls_conn_new(&cl, cc, KM_TLS_CLIENT, "198.18.99.1"), 0);
	cr_assert_eq(km_tls_conn_new(&sv, sc, KM_TLS_SERVER, NULL), 0);
	pump(cl, sv, &rc, &rs);
	cr_assert_eq(rc, -EPROTO);
	cr_assert(strstr(km_tls_conn_reason(cl), "IP address mismatch"), "%s",
		  km_tls_conn_reason(cl));
	km_tls_conn_free(cl);
	km_tls_conn_free(sv);
	km_tls_ctx_free(sc);
	km_tls_ctx_free(cc);
}

Test(tls, server_from_another_ca_refused_by_client)
{
	SSL_CTX *sc = ctx(KM_TLS_SERVER, "ca.pem", "controller");
	SSL_CTX *cc = ctx(KM_TLS_CLIENT, "other-ca.pem", "edge-a");
	struct km_tls_conn *cl, *sv;
	int rc, rs;

	cr_assert_eq(km_tls_conn_new(&cl, cc, KM_TLS_CLIENT, "localhost"), 0);
	cr_assert_eq(km_tls_conn_new(&sv, sc, KM_TLS_SERVER, NULL), 0);
	pump(cl, sv, &rc, &rs);
	cr_assert_eq(rc, -EPROTO);
	cr_assert(strstr(km_tls_conn_reason(cl), "certificate"), "%s",
		  km_tls_conn_reason(cl));
	km_tls_conn_free(cl);
	km_tls_conn_free(sv);
	km_tls_ctx_free(sc);
	km_tls_ctx_free(cc);
}

Test(tls, tls12_client_refused)
{
	SSL_CTX *sc = ctx(KM_TLS_SERVER, "ca.pem", "controller");
	SSL_CTX *cc = ctx(KM_TLS_CLIENT, "ca.pem", "edge-a");
	struct km_tls_conn *cl, *sv;
	int rc, rs;

	/* A client that only speaks TLS 1.2. */
	cr_assert(SSL_CTX_set_min_proto_version(cc, TLS1_2_VERSION));
	cr_assert(SSL_CTX_set_max_proto_version(cc, TLS1_2_VERSION));
	cr_assert_eq(km_tls_conn_new(&cl, cc, KM_TLS_CLIENT, "localhost"), 0);
	cr_assert_eq(km_tls_conn_new(&sv, sc, KM_TLS_SERVER, NULL), 0);
	pump(cl, sv, &rc, &rs);
	cr_assert_eq(rs, -EPROTO);
	cr_assert(strstr(km_tls_conn_reason(sv), "unsupported protocol"), "%s",
		  km_tls_conn_reason(sv));
	km_tls_conn_free(cl);
	km_tls_conn_free(sv);
	km_tls_ctx_free(sc);
	km_tls_ctx_free(cc);
}

Test(tls, key_not_matching_cert_refused)
{
	SSL_CTX *c;

	cr_assert_eq(km_tls_ctx_new(&c, KM_TLS_CLIENT, path("ca.pem"),
				    path("edge-a.pem"), path("edge-b.key")),
		     -EINVAL);
	cr_assert_null(c);
	cr_assert_eq(km_tls_ctx_new(&c, KM_TLS_CLIENT, path("nope.pem"),
				    path("edge-a.pem"), path("edge-a.key")),
		     -EINVAL);
}
