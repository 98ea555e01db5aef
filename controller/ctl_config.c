// SPDX-License-Identifier: GPL-2.0-only
#include "ctl_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "log.h"

#define CONFIG_MAX_BYTES (1 << 20)

struct cparse {
	const char *file;
	int errors;
};

static void cfail(struct cparse *p, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void cfail(struct cparse *p, const char *field, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	km_err("%s: %s: %s", p->file, field, why);
	p->errors++;
}

int ctl_parse_hostport(const char *s, struct sockaddr_in *out)
{
	char host[INET_ADDRSTRLEN];
	const char *colon = strrchr(s, ':');
	char *end;
	unsigned long port;
	size_t hl;

	if (!colon)
		return -EINVAL;
	hl = (size_t)(colon - s);
	if (hl == 0 || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, hl);
	host[hl] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || port > 65535 || port == 0)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->sin_family = AF_INET;
	out->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &out->sin_addr) != 1)
		return -EINVAL;
	return 0;
}

static char *get_str(struct cparse *p, json_object *o, const char *field)
{
	if (!json_object_is_type(o, json_type_string) ||
	    !json_object_get_string_len(o)) {
		cfail(p, field, "must be a non-empty string");
		return NULL;
	}
	return strdup(json_object_get_string(o));
}

static void get_u32(struct cparse *p, json_object *o, const char *field,
		    uint32_t lo, uint32_t hi, uint32_t *out)
{
	int64_t v;

	if (!json_object_is_type(o, json_type_int)) {
		cfail(p, field, "must be an integer %u..%u", lo, hi);
		return;
	}
	v = json_object_get_int64(o);
	if (v < lo || v > hi) {
		cfail(p, field, "%lld is out of range %u..%u", (long long)v, lo,
		      hi);
		return;
	}
	*out = (uint32_t)v;
}

static void get_hostport(struct cparse *p, json_object *o, const char *field,
			 struct sockaddr_in *out)
{
	if (!json_object_is_type(o, json_type_string) ||
	    ctl_parse_hostport(json_object_get_string(o), out))
		cfail(p, field, "must be \"a.b.c.d:port\" (port 1..65535)");
}

static void check_keys(struct cparse *p, json_object *o, const char *where,
		       const char *const *known)
{
	json_object_object_foreach(o, k, v)
	{
		size_t i;

		(void)v;
		for (i = 0; known[i]; i++)
			if (!strcmp(k, known[i]))
				break;
		if (!known[i]) {
			char f[160];

			snprintf(f, sizeof(f), "%s%s%s", where,
				 *where ? "." : "", k);
			cfail(p, f, "unknown key");
		}
	}
}

static void parse_tls(struct cparse *p, json_object *o, struct ctl_config *c)
{
	static const char *const known[] = {"ca", "cert", "key", NULL};
	json_object *v;

	if (!json_object_is_type(o, json_type_object)) {
		cfail(p, "tls", "must be an object {ca, cert, key}");
		return;
	}
	check_keys(p, o, "tls", known);
	if (json_object_object_get_ex(o, "ca", &v))
		c->tls_ca = get_str(p, v, "tls.ca");
	if (json_object_object_get_ex(o, "cert", &v))
		c->tls_cert = get_str(p, v, "tls.cert");
	if (json_object_object_get_ex(o, "key", &v))
		c->tls_key = get_str(p, v, "tls.key");
	if (!c->tls_ca || !c->tls_cert || !c->tls_key)
		cfail(p, "tls", "needs all of ca, cert and key");
}

static void parse_users(struct cparse *p, json_object *o, struct ctl_config *c)
{
	static const char *const known[] = {"name", "password_hash", NULL};
	char f[64];

	if (!json_object_is_type(o, json_type_array) ||
	    json_object_array_length(o) > CTL_MAX_USERS) {
		cfail(p, "users", "must be a list of at most %d users",
		      CTL_MAX_USERS);
		return;
	}
	for (size_t i = 0; i < json_object_array_length(o); i++) {
		json_object *u = json_object_array_get_idx(o, i), *v;
		struct ctl_user *cu = &c->users[c->n_users];

		snprintf(f, sizeof(f), "users[%zu]", i);
		if (!json_object_is_type(u, json_type_object)) {
			cfail(p, f, "must be an object {name, password_hash}");
			continue;
		}
		check_keys(p, u, f, known);
		snprintf(f, sizeof(f), "users[%zu].name", i);
		if (json_object_object_get_ex(u, "name", &v))
			cu->name = get_str(p, v, f);
		else
			cfail(p, f, "required");
		snprintf(f, sizeof(f), "users[%zu].password_hash", i);
		if (json_object_object_get_ex(u, "password_hash", &v))
			cu->password_hash = get_str(p, v, f);
		else
			cfail(p, f,
			      "required (kilimanjaro-controller "
			      "--hash-password prints one)");
		if (cu->password_hash &&
		    strncmp(cu->password_hash, "pbkdf2-sha256$", 14))
			cfail(p, f,
			      "not a pbkdf2-sha256$... hash "
			      "(kilimanjaro-controller --hash-password)");
		for (size_t j = 0; cu->name && j < c->n_users; j++)
			if (c->users[j].name &&
			    !strcmp(c->users[j].name, cu->name))
				cfail(p, f, "user \"%s\" given twice",
				      cu->name);
		c->n_users++;
	}
}

static void parse_tokens(struct cparse *p, json_object *o, struct ctl_config *c)
{
	char f[64];

	if (!json_object_is_type(o, json_type_array) ||
	    json_object_array_length(o) > CTL_MAX_TOKENS) {
		cfail(p, "api_tokens", "must be a list of at most %d strings",
		      CTL_MAX_TOKENS);
		return;
	}
	for (size_t i = 0; i < json_object_array_length(o); i++) {
		json_object *t = json_object_array_get_idx(o, i);

		snprintf(f, sizeof(f), "api_tokens[%zu]", i);
		if (!json_object_is_type(t, json_type_string) ||
		    json_object_get_string_len(t) < 32) {
			cfail(p, f,
			      "must be a string of at least 32 "
			      "characters (e.g. openssl rand -hex 32)");
			continue;
		}
		c->api_tokens[c->n_tokens++] =
		    strdup(json_object_get_string(t));
	}
}

static void parse_a2s(struct cparse *p, json_object *o, struct ctl_config *c)
{
	static const char *const known[] = {"epoch_s", "rotate_s", NULL};
	json_object *v;

	if (!json_object_is_type(o, json_type_object)) {
		cfail(p, "a2s", "must be an object {epoch_s, rotate_s}");
		return;
	}
	check_keys(p, o, "a2s", known);
	if (json_object_object_get_ex(o, "epoch_s", &v))
		get_u32(p, v, "a2s.epoch_s", 1, 3600, &c->a2s_epoch_s);
	if (json_object_object_get_ex(o, "rotate_s", &v))
		get_u32(p, v, "a2s.rotate_s", 0, 31536000, &c->a2s_rotate_s);
	if (c->a2s_rotate_s && c->a2s_rotate_s < 2 * c->a2s_epoch_s)
		cfail(p, "a2s.rotate_s",
		      "%u is shorter than two epochs (2 x %u s): challenges "
		      "issued under the previous key would break",
		      c->a2s_rotate_s, c->a2s_epoch_s);
}

static void defaults(struct ctl_config *c)
{
	memset(c, 0, sizeof(*c));
	ctl_parse_hostport(CTL_DEF_AGENTS_LISTEN, &c->agents_listen);
	ctl_parse_hostport(CTL_DEF_HTTP_LISTEN, &c->http_listen);
	c->session_ttl_s = CTL_DEF_SESSION_TTL_S;
	c->punch_ttl_s = CTL_DEF_PUNCH_TTL_S;
	c->a2s_epoch_s = CTL_DEF_EPOCH_S;
	c->a2s_rotate_s = CTL_DEF_ROTATE_S;
}

static void parse_top(struct cparse *p, json_object *root, struct ctl_config *c)
{
	static const char *const known[] = {
	    "agents_listen",   "http_listen", "tls",
	    "allow_plain_tcp", "db",	      "web_root",
	    "users",	       "api_tokens",  "session_ttl_s",
	    "punch_ttl_s",     "a2s",	      NULL};
	json_object *v;

	check_keys(p, root, "", known);
	if (json_object_object_get_ex(root, "agents_listen", &v))
		get_hostport(p, v, "agents_listen", &c->agents_listen);
	if (json_object_object_get_ex(root, "http_listen", &v))
		get_hostport(p, v, "http_listen", &c->http_listen);
	if (json_object_object_get_ex(root, "tls", &v))
		parse_tls(p, v, c);
	if (json_object_object_get_ex(root, "allow_plain_tcp", &v)) {
		if (!json_object_is_type(v, json_type_boolean))
			cfail(p, "allow_plain_tcp", "must be true or false");
		c->allow_plain_tcp = json_object_get_boolean(v);
	}
	if (json_object_object_get_ex(root, "db", &v))
		c->db_path = get_str(p, v, "db");
	if (json_object_object_get_ex(root, "web_root", &v))
		c->web_root = get_str(p, v, "web_root");
	if (json_object_object_get_ex(root, "users", &v))
		parse_users(p, v, c);
	if (json_object_object_get_ex(root, "api_tokens", &v))
		parse_tokens(p, v, c);
	if (json_object_object_get_ex(root, "session_ttl_s", &v))
		get_u32(p, v, "session_ttl_s", 60, 2592000, &c->session_ttl_s);
	if (json_object_object_get_ex(root, "punch_ttl_s", &v))
		get_u32(p, v, "punch_ttl_s", 1, 604800, &c->punch_ttl_s);
	if (json_object_object_get_ex(root, "a2s", &v))
		parse_a2s(p, v, c);
}

static void check_whole(struct cparse *p, struct ctl_config *c)
{
	if (c->allow_plain_tcp &&
	    (ntohl(c->agents_listen.sin_addr.s_addr) >> 24) != 127)
		cfail(p, "allow_plain_tcp",
		      "plain TCP is only for a loopback agents_listen "
		      "(127.0.0.0/8), not %s",
		      inet_ntoa(c->agents_listen.sin_addr));
	if (!c->tls_ca && !c->allow_plain_tcp)
		cfail(p, "tls",
		      "required (agents authenticate with "
		      "certificates; plain TCP only with "
		      "allow_plain_tcp on loopback)");
	if (!c->n_users && !c->n_tokens)
		cfail(p, "users",
		      "no users and no api_tokens: nobody could "
		      "use the API");
	if (!c->db_path)
		c->db_path = strdup(CTL_DEF_DB);
	if (!c->web_root)
		c->web_root = strdup(CTL_DEF_WEB_ROOT);
}

int ctl_config_parse(const char *name, const char *text, struct ctl_config *out)
{
	struct cparse p = {.file = name};
	struct json_tokener *tok;
	json_object *root;
	size_t len = strlen(text);

	defaults(out);
	tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	root = json_tokener_parse_ex(tok, text, (int)len);
	if (!root || tok->char_offset < (int)len) {
		enum json_tokener_error e = json_tokener_get_error(tok);

		km_err("%s: offset %d: invalid JSON: %s", name,
		       tok->char_offset,
		       root ? "trailing characters after the object"
			    : json_tokener_error_desc(e));
		json_object_put(root);
		json_tokener_free(tok);
		return -EINVAL;
	}
	json_tokener_free(tok);
	if (!json_object_is_type(root, json_type_object)) {
		cfail(&p, "(top)", "must be a JSON object");
	} else {
		parse_top(&p, root, out);
		check_whole(&p, out);
	}
	json_object_put(root);
	if (p.errors) {
		ctl_config_free(out);
		return -EINVAL;
	}
	return 0;
}

int ctl_config_load(const char *path, struct ctl_config *out)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;
	int r;

	if (!f)
		return km_log_errno(-errno, "%s: cannot open: %s", path,
				    strerror(errno));
	buf = malloc(CONFIG_MAX_BYTES + 1);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(buf, 1, CONFIG_MAX_BYTES + 1, f);
	fclose(f);
	if (n > CONFIG_MAX_BYTES || memchr(buf, '\0', n)) {
		free(buf);
		return km_log_errno(-EINVAL,
				    "%s: larger than %d bytes or "
				    "contains a NUL byte",
				    path, CONFIG_MAX_BYTES);
	}
	buf[n] = '\0';
	r = ctl_config_parse(path, buf, out);
	free(buf);
	return r;
}

void ctl_config_free(struct ctl_config *c)
{
	if (!c)
		return;
	free(c->tls_ca);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->db_path);
	free(c->web_root);
	for (size_t i = 0; i < c->n_users; i++) {
		free(c->users[i].name);
		free(c->users[i].password_hash);
	}
	for (size_t i = 0; i < c->n_tokens; i++)
		free(c->api_tokens[i]);
	memset(c, 0, sizeof(*c));
}
