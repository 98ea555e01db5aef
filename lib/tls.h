/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * TLS for the controller protocol (docs/design.md "Controller protocol"),
 * shared by the agent (client) and the controller (server): TLS 1.3 only,
 * mutual certificates, both verified against one CA file.
 *
 * Two ways to drive a connection:
 *  - km_tls_conn: memory BIOs, so that any event loop (io_uring in the
 *    agent) moves the ciphertext itself: feed what the socket delivered,
 *    take what must be sent;
 *  - or SSL_new(ctx) + SSL_set_fd() directly, for a plain poll/epoll loop.
 */
#ifndef KM_TLS_H
#define KM_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <openssl/ssl.h>

enum km_tls_role { KM_TLS_CLIENT = 0, KM_TLS_SERVER = 1 };

/*
 * A context for role: TLS 1.3 only, our certificate and key (the key must
 * match the certificate), the peer must present a certificate signed by
 * the CA in ca_file (servers require one from clients too). 0 or -errno,
 * logged with OpenSSL's reason and the file concerned.
 */
int km_tls_ctx_new(SSL_CTX **out, enum km_tls_role role, const char *ca_file,
		   const char *cert_file, const char *key_file);
void km_tls_ctx_free(SSL_CTX *ctx);

/* The CN of the peer's verified certificate into buf. -ENOENT without a
 * certificate, -ENAMETOOLONG, -EINVAL when the CN has bytes outside
 * printable ASCII (it names an edge in logs and the API). */
int km_tls_peer_cn(SSL *ssl, char *buf, size_t len);

/*
 * Client side: the name the server's certificate must carry (a hostname
 * matched against SAN DNS / CN, or an IPv4/IPv6 literal matched against
 * SAN IP). Call before the handshake.
 */
int km_tls_expect_host(SSL *ssl, const char *host);

/* The reason of the last failure on this thread: OpenSSL's error queue
 * (emptied) and, when ssl is given and the peer's certificate failed,
 * the verification result. Static buffer per thread. */
const char *km_tls_error(SSL *ssl);

/* ---- connection over memory BIOs ---- */
struct km_tls_conn;

/* peer_host: for clients, the expected server name (km_tls_expect_host). */
int km_tls_conn_new(struct km_tls_conn **out, SSL_CTX *ctx,
		    enum km_tls_role role, const char *peer_host);
void km_tls_conn_free(struct km_tls_conn *c);
SSL *km_tls_conn_ssl(struct km_tls_conn *c);

/* Ciphertext the socket delivered. */
int km_tls_conn_feed(struct km_tls_conn *c, const void *buf, size_t len);
/* Ciphertext waiting to be sent: bytes pending, and copy (and drop) up to
 * cap of them; returns bytes copied. */
size_t km_tls_conn_out_pending(struct km_tls_conn *c);
size_t km_tls_conn_take(struct km_tls_conn *c, void *buf, size_t cap);

/* Advance the handshake: 1 done, 0 needs more input (send what is
 * pending), -EPROTO failed (km_tls_conn_reason says why). */
int km_tls_conn_handshake(struct km_tls_conn *c);
bool km_tls_conn_established(const struct km_tls_conn *c);

/* Plaintext in: >0 bytes, 0 nothing decrypted yet (feed more), -ECONNRESET
 * the peer closed the session (close_notify), -EPROTO an error. */
ssize_t km_tls_conn_read(struct km_tls_conn *c, void *buf, size_t cap);
/* Plaintext out, all of it (memory BIOs do not block). 0 or -EPROTO. */
int km_tls_conn_write(struct km_tls_conn *c, const void *buf, size_t len);
/* Queue a close_notify. */
void km_tls_conn_shutdown(struct km_tls_conn *c);
/* Why the last -EPROTO happened (empty when none). */
const char *km_tls_conn_reason(const struct km_tls_conn *c);

#endif
