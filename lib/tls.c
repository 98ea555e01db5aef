// SPDX-License-Identifier: GPL-2.0-only
/* TLS 1.3 with mutual certificates over OpenSSL (tls.h). */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "log.h"

struct km_tls_conn {
	SSL *ssl;
	BIO *in;  /* network -> SSL */
	BIO *out; /* SSL -> network */
	bool established;
	char reason[256];
};

const char *km_tls_error(SSL *ssl)
{
	static __thread char buf[512];
	unsigned long e;
	size_t n = 0;
	long v;

	buf[0] = 0;
	if (ssl) {
		v = SSL_get_verify_result(ssl);
		if (v != X509_V_OK)
			n += snprintf(buf, sizeof(buf),
				      "certificate verification: %s",
				      X509_verify_cert_error_string(v));
	}
	while ((e = ERR_get_error()) != 0) {
		if (n < sizeof(buf) - 2) {
			if (n)
				buf[n++] = ';', buf[n++] = ' ', buf[n] = 0;
			ERR_error_string_n(e, buf + n, sizeof(buf) - n);
			n = strlen(buf);
		}
	}
	if (!buf[0])
		snprintf(buf, sizeof(buf), "unknown TLS error");
	return buf;
}

int km_tls_ctx_new(SSL_CTX **out, enum km_tls_role role, const char *ca_file,
		   const char *cert_file, const char *key_file)
{
	SSL_CTX *ctx;
	int r = -EINVAL;

	*out = NULL;
	ERR_clear_error();
	ctx = SSL_CTX_new(role == KM_TLS_SERVER ? TLS_server_method()
						: TLS_client_method());
	if (!ctx)
		return km_log_errno(-ENOMEM, "tls: cannot create a context: %s",
				    km_tls_error(NULL));
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION)) {
		km_err("tls: cannot restrict to TLS 1.3: %s",
		       km_tls_error(NULL));
		goto fail;
	}
	if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
		km_err("tls: CA file %s: %s", ca_file, km_tls_error(NULL));
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		km_err("tls: certificate %s: %s", cert_file,
		       km_tls_error(NULL));
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
		km_err("tls: key %s: %s", key_file, km_tls_error(NULL));
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		km_err("tls: key %s does not match certificate %s: %s",
		       key_file, cert_file, km_tls_error(NULL));
		goto fail;
	}
	SSL_CTX_set_verify(
	    ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	/* The controller protocol does its own keepalive; no resumption:
	 * every session proves both certificates again. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
				  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	*out = ctx;
	return 0;
fail:
	SSL_CTX_free(ctx);
	return r;
}

void km_tls_ctx_free(SSL_CTX *ctx)
{
	SSL_CTX_free(ctx);
}

int km_tls_peer_cn(SSL *ssl, char *buf, size_t len)
{
	X509 *cert = SSL_get1_peer_certificate(ssl);
	X509_NAME *name;
	int n, r = 0;

	if (!cert)
		return -ENOENT;
	name = X509_get_subject_name(cert);
	n = X509_NAME_get_text_by_NID(name, NID_commonName, buf, (int)len);
	if (n < 0)
		r = -ENOENT;
	else if ((size_t)n >= len)
		r = -ENAMETOOLONG;
	for (int i = 0; !r && i < n; i++)
		if ((unsigned char)buf[i] < 0x21 ||
		    (unsigned char)buf[i] > 0x7e)
			r = -EINVAL;
	X509_free(cert);
	if (r && len)
		buf[0] = 0;
	return r;
}

int km_tls_expect_host(SSL *ssl, const char *host)
{
	X509_VERIFY_PARAM *p = SSL_get0_param(ssl);
	unsigned char a[16];
	int ok;

	if (inet_pton(AF_INET, host, a) == 1 ||
	    inet_pton(AF_INET6, host, a) == 1) {
		ok = X509_VERIFY_PARAM_set1_ip_asc(p, host);
	} else {
		X509_VERIFY_PARAM_set_hostflags(
		    p, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		ok = X509_VERIFY_PARAM_set1_host(p, host, 0) &&
		     SSL_set_tlsext_host_name(ssl, host);
	}
	if (ok != 1)
		return km_log_errno(-EINVAL, "tls: cannot expect host %s: %s",
				    host, km_tls_error(NULL));
	return 0;
}

int km_tls_conn_new(struct km_tls_conn **out, SSL_CTX *ctx,
		    enum km_tls_role role, const char *peer_host)
{
	struct km_tls_conn *c = calloc(1, sizeof(*c));
	int r = -ENOMEM;

	*out = NULL;
	if (!c)
		return -ENOMEM;
	c->ssl = SSL_new(ctx);
	c->in = BIO_new(BIO_s_mem());
	c->out = BIO_new(BIO_s_mem());
	if (!c->ssl || !c->in || !c->out) {
		BIO_free(c->in);
		BIO_free(c->out);
		c->in = c->out = NULL;
		goto fail;
	}
	/* An empty memory BIO means "retry later", not EOF. */
	BIO_set_mem_eof_return(c->in, -1);
	SSL_set_bio(c->ssl, c->in, c->out);
	if (role == KM_TLS_SERVER) {
		SSL_set_accept_state(c->ssl);
	} else {
		SSL_set_connect_state(c->ssl);
		if (peer_host) {
			r = km_tls_expect_host(c->ssl, peer_host);
			if (r)
				goto fail;
		}
	}
	*out = c;
	return 0;
fail:
	km_tls_conn_free(c);
	return r;
}

void km_tls_conn_free(struct km_tls_conn *c)
{
	if (!c)
		return;
	SSL_free(c->ssl); /* frees both BIOs */
	free(c);
}

SSL *km_tls_conn_ssl(struct km_tls_conn *c)
{
	return c->ssl;
}

int km_tls_conn_feed(struct km_tls_conn *c, const void *buf, size_t len)
{
	while (len) {
		int n = BIO_write(c->in, buf,
				  len > INT32_MAX ? INT32_MAX : (int)len);

		if (n <= 0)
			return -ENOMEM;
		buf = (const char *)buf + n;
		len -= (size_t)n;
	}
	return 0;
}

size_t km_tls_conn_out_pending(struct km_tls_conn *c)
{
	return BIO_ctrl_pending(c->out);
}

size_t km_tls_conn_take(struct km_tls_conn *c, void *buf, size_t cap)
{
	int n = BIO_read(c->out, buf, cap > INT32_MAX ? INT32_MAX : (int)cap);

	return n > 0 ? (size_t)n : 0;
}

static int conn_fail(struct km_tls_conn *c, const char *what)
{
	snprintf(c->reason, sizeof(c->reason), "%s: %s", what,
		 km_tls_error(c->ssl));
	return -EPROTO;
}

int km_tls_conn_handshake(struct km_tls_conn *c)
{
	int n, e;

	if (c->established)
		return 1;
	ERR_clear_error();
	n = SSL_do_handshake(c->ssl);
	if (n == 1) {
		c->established = true;
		return 1;
	}
	e = SSL_get_error(c->ssl, n);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 0;
	return conn_fail(c, "TLS handshake failed");
}

bool km_tls_conn_established(const struct km_tls_conn *c)
{
	return c->established;
}

ssize_t km_tls_conn_read(struct km_tls_conn *c, void *buf, size_t cap)
{
	int n, e;

	ERR_clear_error();
	n = SSL_read(c->ssl, buf, cap > INT32_MAX ? INT32_MAX : (int)cap);
	if (n > 0)
		return n;
	e = SSL_get_error(c->ssl, n);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 0;
	if (e == SSL_ERROR_ZERO_RETURN) {
		snprintf(c->reason, sizeof(c->reason),
			 "peer closed the TLS session");
		return -ECONNRESET;
	}
	return conn_fail(c, "TLS read failed");
}

int km_tls_conn_write(struct km_tls_conn *c, const void *buf, size_t len)
{
	while (len) {
		int n;

		ERR_clear_error();
		n = SSL_write(c->ssl, buf,
			      len > INT32_MAX ? INT32_MAX : (int)len);
		if (n <= 0)
			return conn_fail(c, "TLS write failed");
		buf = (const char *)buf + n;
		len -= (size_t)n;
	}
	return 0;
}

void km_tls_conn_shutdown(struct km_tls_conn *c)
{
	ERR_clear_error();
	SSL_shutdown(c->ssl);
	ERR_clear_error();
}

const char *km_tls_conn_reason(const struct km_tls_conn *c)
{
	return c->reason;
}
