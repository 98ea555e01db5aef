/* SPDX-License-Identifier: GPL-2.0-only */
/* kilimanjaro-controller's configuration file (json-c, comments allowed):
 * parse and check everything before anything starts. README "Controller". */
#ifndef KM_CTL_CONFIG_H
#define KM_CTL_CONFIG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTL_DEF_AGENTS_LISTEN "0.0.0.0:7443"
#define CTL_DEF_HTTP_LISTEN "127.0.0.1:8080"
#define CTL_DEF_DB "/var/lib/kilimanjaro-controller/state.db"
#define CTL_DEF_WEB_ROOT "/usr/share/kilimanjaro/web"
#define CTL_DEF_SESSION_TTL_S 43200
#define CTL_DEF_PUNCH_TTL_S 300
#define CTL_DEF_EPOCH_S 30
#define CTL_DEF_ROTATE_S 86400
#define CTL_MAX_USERS 64
#define CTL_MAX_TOKENS 64

struct ctl_user {
	char *name;
	char *password_hash; /* auth_hash_password() format */
};

struct ctl_config {
	struct sockaddr_in agents_listen;
	struct sockaddr_in http_listen;
	char *tls_ca, *tls_cert, *tls_key; /* NULL when not given */
	bool allow_plain_tcp;		   /* loopback agents listener only */
	char *db_path;
	char *web_root;
	struct ctl_user users[CTL_MAX_USERS];
	size_t n_users;
	char *api_tokens[CTL_MAX_TOKENS];
	size_t n_tokens;
	uint32_t session_ttl_s;
	uint32_t punch_ttl_s;
	uint32_t a2s_epoch_s;
	uint32_t a2s_rotate_s; /* 0: only on request */
};

/* Parse and check `path`; every problem logged as "<file>: <field>: why".
 * -EINVAL when any was found, -errno when the file cannot be read. */
int ctl_config_load(const char *path, struct ctl_config *out);
/* The same from a string (tests); `name` is used in messages. */
int ctl_config_parse(const char *name, const char *text,
		     struct ctl_config *out);
void ctl_config_free(struct ctl_config *c);

/* "a.b.c.d:port" -> sockaddr; -EINVAL otherwise. */
int ctl_parse_hostport(const char *s, struct sockaddr_in *out);

#endif
