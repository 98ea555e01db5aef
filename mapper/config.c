// SPDX-License-Identifier: GPL-2.0-only
/* --config FILE: the same settings as the command line, as JSON (comments
 * allowed). Errors name the file, the field and why. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "lib/config.h"
#include "lib/log.h"

typedef int (*str_setter)(struct mapper_conf *c, const char *s, char *why,
			  size_t n);

static int set_host(struct mapper_conf *c, const char *s, char *why, size_t n)
{
	return mapper_set_addr(&c->host, s, why, n);
}

static int set_default_edge(struct mapper_conf *c, const char *s, char *why,
			    size_t n)
{
	return mapper_set_addr(&c->default_edge, s, why, n);
}

static int set_ifname(struct mapper_conf *c, const char *s, char *why, size_t n)
{
	if (!*s || strlen(s) >= sizeof(c->ifname)) {
		snprintf(why, n, "'%s' is not an interface name", s);
		return -EINVAL;
	}
	strcpy(c->ifname, s);
	return 0;
}

static int set_pin_root(struct mapper_conf *c, const char *s, char *why,
			size_t n)
{
	if (*s != '/' || strlen(s) >= sizeof(c->pin_root)) {
		snprintf(why, n, "'%s' is not an absolute path", s);
		return -EINVAL;
	}
	strcpy(c->pin_root, s);
	return 0;
}

static const struct {
	const char *key;
	int list; /* array of strings */
	str_setter set;
} fields[] = {
    {"interface", 0, set_ifname},	  {"address", 0, set_host},
    {"edges", 1, mapper_add_edge},	  {"default_edge", 0, set_default_edge},
    {"services", 1, mapper_add_service},  {"idle_seconds", 0, mapper_set_idle},
    {"xdp_mode", 0, mapper_set_xdp_mode}, {"next_hop", 0, mapper_set_next_hop},
    {"pin_root", 0, set_pin_root},
};

#define N_FIELDS (sizeof(fields) / sizeof(fields[0]))

static int field_set(const char *path, size_t f, json_object *v,
		     struct mapper_conf *c)
{
	char why[256];
	size_t i, len;

	if (!fields[f].list) {
		/* idle_seconds may be a number or a string of one. */
		if (!json_object_is_type(v, json_type_string) &&
		    !json_object_is_type(v, json_type_int))
			return km_log_errno(-EINVAL,
					    "%s: field '%s': expected "
					    "a string",
					    path, fields[f].key);
		if (fields[f].set(c, json_object_get_string(v), why,
				  sizeof(why)))
			return km_log_errno(-EINVAL, "%s: field '%s': %s", path,
					    fields[f].key, why);
		return 0;
	}
	if (!json_object_is_type(v, json_type_array))
		return km_log_errno(-EINVAL,
				    "%s: field '%s': expected an array "
				    "of strings",
				    path, fields[f].key);
	len = json_object_array_length(v);
	for (i = 0; i < len; i++) {
		json_object *e = json_object_array_get_idx(v, i);

		if (!json_object_is_type(e, json_type_string))
			return km_log_errno(-EINVAL,
					    "%s: field '%s[%zu]': "
					    "expected a string",
					    path, fields[f].key, i);
		if (fields[f].set(c, json_object_get_string(e), why,
				  sizeof(why)))
			return km_log_errno(-EINVAL, "%s: field '%s[%zu]': %s",
					    path, fields[f].key, i, why);
	}
	return 0;
}

#define MAX_FILE (1 << 20)

/* Read and parse with lib/config.c's reader and parser, in this program's
 * words: "FILE: why", "FILE:LINE:COLUMN: why". */
static int parse_json(const char *path, json_object **out)
{
	struct km_file_err fe;
	struct km_json_err je;
	char *text;
	size_t len;
	int r;

	*out = NULL;
	r = km_file_read(path, MAX_FILE, 0, &text, &len, &fe);
	switch (fe.fail) {
	case KM_FILE_OK:
		break;
	case KM_FILE_OPEN:
	case KM_FILE_READ:
		return km_log_errno(-EINVAL, "%s: %s", path, strerror(fe.err));
	case KM_FILE_TOO_BIG:
		return km_log_errno(-EINVAL, "%s: larger than %d bytes", path,
				    MAX_FILE);
	case KM_FILE_NOT_REGULAR:
	case KM_FILE_NOMEM:
		return r;
	}
	*out = km_json_parse(text, len, &je);
	free(text);
	switch (je.fail) {
	case KM_JSON_OK:
		return 0;
	case KM_JSON_NOMEM:
		return -ENOMEM;
	case KM_JSON_NUL:
		/* JSON text has no NUL: past one, a C parser sees nothing. */
		return km_log_errno(-EINVAL,
				    "%s: contains a NUL byte at offset %zu",
				    path, je.off);
	case KM_JSON_TRUNCATED:
		return km_log_errno(-EINVAL, "%s: unexpected end of file",
				    path);
	case KM_JSON_INVALID:
		return km_log_errno(-EINVAL, "%s:%zu:%zu: %s", path, je.line,
				    je.col, je.desc);
	case KM_JSON_TRAILER:
		break;
	}
	return km_log_errno(-EINVAL, "%s:%zu:%zu: text after the JSON object",
			    path, je.line, je.col);
}

static int parse_file(const char *path, struct mapper_conf *c)
{
	json_object *root;
	size_t f;
	int r;

	r = parse_json(path, &root);
	if (r)
		return r;
	if (!json_object_is_type(root, json_type_object)) {
		r = km_log_errno(-EINVAL, "%s: expected a JSON object", path);
		goto out;
	}
	json_object_object_foreach(root, key, val)
	{
		for (f = 0; f < N_FIELDS; f++)
			if (!strcmp(key, fields[f].key))
				break;
		if (f == N_FIELDS) {
			r = km_log_errno(-EINVAL, "%s: unknown field '%s'",
					 path, key);
			goto out;
		}
		r = field_set(path, f, val, c);
		if (r)
			goto out;
	}
out:
	json_object_put(root);
	return r;
}

int mapper_config_load(const char *path, const struct mapper_conf *cli,
		       unsigned int set, struct mapper_conf *out)
{
	int r;

	mapper_conf_defaults(out);
	r = parse_file(path, out);
	if (r)
		return r;
	if (set & MAPPER_SET_IFNAME)
		memcpy(out->ifname, cli->ifname, sizeof(out->ifname));
	if (set & MAPPER_SET_HOST)
		out->host = cli->host;
	if (set & MAPPER_SET_DEFAULT_EDGE)
		out->default_edge = cli->default_edge;
	if (set & MAPPER_SET_EDGES) {
		memcpy(out->edges, cli->edges, sizeof(out->edges));
		out->n_edges = cli->n_edges;
	}
	if (set & MAPPER_SET_SERVICES) {
		memcpy(out->services, cli->services, sizeof(out->services));
		out->n_services = cli->n_services;
	}
	if (set & MAPPER_SET_IDLE)
		out->idle_s = cli->idle_s;
	if (set & MAPPER_SET_XDP_MODE)
		out->xdp_mode = cli->xdp_mode;
	if (set & MAPPER_SET_NEXT_HOP)
		out->keep_l2 = cli->keep_l2;
	if (set & MAPPER_SET_PIN_ROOT)
		memcpy(out->pin_root, cli->pin_root, sizeof(out->pin_root));
	return 0;
}
