// SPDX-License-Identifier: GPL-2.0-only
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>
#include <microhttpd.h>
#include <openssl/crypto.h>

#include "log.h"

struct http {
	struct MHD_Daemon *d;
	char root[PATH_MAX]; /* realpath of the web root, or "" */
	struct api *api;
	struct auth *auth;
};

struct req {
	char *body;
	size_t len;
	bool too_big;
};

const char *http_content_type(const char *path)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
	    {".html", "text/html; charset=utf-8"},
	    {".js", "text/javascript; charset=utf-8"},
	    {".mjs", "text/javascript; charset=utf-8"},
	    {".css", "text/css; charset=utf-8"},
	    {".json", "application/json"},
	    {".svg", "image/svg+xml"},
	    {".png", "image/png"},
	    {".ico", "image/x-icon"},
	    {".txt", "text/plain; charset=utf-8"},
	    {".woff2", "font/woff2"},
	};
	const char *dot = strrchr(path, '.');

	for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcasecmp(dot, types[i].ext))
			return types[i].type;
	return "application/octet-stream";
}

int http_static_path(const char *root, const char *url, char *out, size_t len)
{
	char joined[PATH_MAX], real[PATH_MAX];
	const char *p = url;
	size_t rl = strlen(root);

	if (!rl || url[0] != '/' || strchr(url, '\\'))
		return -EACCES;
	/* Every segment: no "..", no hidden files, no empty names. */
	while (*p == '/') {
		const char *s = p + 1, *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);

		if ((n == 0 && e) || (n && s[0] == '.'))
			return -EACCES;
		if (!e)
			break;
		p = e;
	}
	if (snprintf(joined, sizeof(joined), "%s%s%s", root, url,
		     url[strlen(url) - 1] == '/' ? "index.html" : "") >=
	    (int)sizeof(joined))
		return -EACCES;
	if (!realpath(joined, real))
		return errno == ENOENT || errno == ENOTDIR ? -ENOENT : -EACCES;
	/* Symlinks inside the root must not lead out of it. */
	if (strncmp(real, root, rl) || real[rl] != '/')
		return -EACCES;
	if (snprintf(out, len, "%s", real) >= (int)len)
		return -EACCES;
	return 0;
}

static void common_headers(struct MHD_Response *r)
{
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
}

static enum MHD_Result send_body(struct MHD_Connection *c, unsigned int status,
				 char *body, const char *cookie)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(body ? strlen(body) : 0, body,
					    MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	common_headers(r);
	MHD_add_response_header(r, "Content-Type", "application/json");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	if (cookie)
		MHD_add_response_header(r, "Set-Cookie", cookie);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned int status,
				  const char *why)
{
	struct api_reply rep;

	api_error(&rep, status, why);
	return send_body(c, rep.status, rep.body, NULL);
}

static enum MHD_Result serve_static(struct http *h, struct MHD_Connection *c,
				    const char *method, const char *url)
{
	char path[PATH_MAX];
	struct MHD_Response *r;
	enum MHD_Result ret;
	struct stat sb;
	int fd, e;

	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return send_error(c, 405, "static files: GET only");
	if (!h->root[0])
		return send_error(c, 404,
				  "the dashboard is not installed "
				  "(web_root does not exist)");
	e = http_static_path(h->root, url, path, sizeof(path));
	if (e)
		return send_error(c, e == -ENOENT ? 404 : 403,
				  e == -ENOENT ? "no such file"
					       : "path not allowed");
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
		if (fd >= 0)
			close(fd);
		return send_error(c, 404, "no such file");
	}
	r = MHD_create_response_from_fd((uint64_t)sb.st_size, fd);
	if (!r) {
		close(fd);
		return MHD_NO;
	}
	common_headers(r);
	MHD_add_response_header(r, "Content-Type", http_content_type(path));
	MHD_add_response_header(r, "Cache-Control", "no-cache");
	ret = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	return ret;
}

static bool is_json(struct MHD_Connection *c)
{
	const char *ct =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
	size_t n = strlen("application/json");

	return ct && !strncasecmp(ct, "application/json", n) &&
	       (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static bool authenticated(struct http *h, struct MHD_Connection *c)
{
	const char *cookie =
	    MHD_lookup_connection_value(c, MHD_COOKIE_KIND, HTTP_COOKIE);
	const char *az =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");

	if (cookie && auth_session_ok(h->auth, cookie, auth_now_ms()))
		return true;
	return az && !strncasecmp(az, "Bearer ", 7) &&
	       auth_token_ok(h->auth, az + 7);
}

static uint32_t client_addr(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	if (sa && sa->sa_family == AF_INET)
		return ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
	return 0;
}

static enum MHD_Result do_login(struct http *h, struct MHD_Connection *c,
				struct req *q)
{
	char id[AUTH_SESSION_ID_HEX + 1], cookie[256], why[128];
	json_object *o = NULL, *u, *p, *res;
	uint32_t from = client_addr(c), wait;
	enum MHD_Result ret;
	char *body;

	wait = auth_throttled(h->auth, from, auth_now_ms());
	if (wait) {
		snprintf(why, sizeof(why),
			 "login: too many failed attempts "
			 "from this address; retry in %u s",
			 wait);
		return send_error(c, 429, why);
	}

	if (q->len)
		o = json_tokener_parse(q->body);
	if (!o || !json_object_object_get_ex(o, "user", &u) ||
	    !json_object_object_get_ex(o, "password", &p) ||
	    !json_object_is_type(u, json_type_string) ||
	    !json_object_is_type(p, json_type_string)) {
		json_object_put(o);
		return send_error(c, 400,
				  "login: the body must be "
				  "{\"user\": string, \"password\": "
				  "string}");
	}
	if (auth_login(h->auth, json_object_get_string(u),
		       json_object_get_string(p), id)) {
		km_warn("http: login of \"%s\" from %s refused",
			json_object_get_string(u),
			inet_ntoa((struct in_addr){htonl(from)}));
		auth_failed(h->auth, from, auth_now_ms());
		json_object_put(o);
		return send_error(c, 401, "login: wrong user name or password");
	}
	res = json_object_new_object();
	json_object_object_add(res, "ok", json_object_new_boolean(1));
	json_object_object_add(
	    res, "user", json_object_new_string(json_object_get_string(u)));
	json_object_object_add(
	    res, "expires_in_s",
	    json_object_new_uint64(auth_session_ttl_s(h->auth)));
	json_object_put(o);
	body =
	    strdup(json_object_to_json_string_ext(res, JSON_C_TO_STRING_PLAIN));
	json_object_put(res);
	snprintf(cookie, sizeof(cookie),
		 HTTP_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; "
			     "Max-Age=%u",
		 id, auth_session_ttl_s(h->auth));
	ret = send_body(c, 200, body, cookie);
	OPENSSL_cleanse(id, sizeof(id));
	return ret;
}

static enum MHD_Result do_logout(struct http *h, struct MHD_Connection *c)
{
	const char *cookie =
	    MHD_lookup_connection_value(c, MHD_COOKIE_KIND, HTTP_COOKIE);

	if (cookie)
		auth_logout(h->auth, cookie);
	return send_body(c, 200, strdup("{\"ok\":true}"),
			 HTTP_COOKIE "=; Path=/; HttpOnly; SameSite=Strict; "
				     "Max-Age=0");
}

static enum MHD_Result serve_api(struct http *h, struct MHD_Connection *c,
				 const char *method, const char *url,
				 struct req *q)
{
	bool write = strcmp(method, "GET") && strcmp(method, "HEAD");
	struct api_reply rep;

	if (q->too_big)
		return send_error(c, 413, "body: larger than 64 KiB");
	if (write && !is_json(c))
		return send_error(c, 415,
				  "Content-Type: writes must be "
				  "application/json");
	if (!strcmp(url, "/api/login")) {
		if (strcmp(method, "POST"))
			return send_error(c, 405, "login: POST only");
		return do_login(h, c, q);
	}
	if (!strcmp(url, "/api/logout")) {
		if (strcmp(method, "POST"))
			return send_error(c, 405, "logout: POST only");
		return do_logout(h, c);
	}
	if (!authenticated(h, c))
		return send_error(c, 401,
				  "authentication required: log in "
				  "(POST /api/login) or send "
				  "Authorization: Bearer <token>");
	api_dispatch(
	    h->api, method, url + 4,
	    MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "points"),
	    q->body ? q->body : "", q->len, &rep);
	if (!rep.body)
		return send_error(c, 500, "out of memory");
	return send_body(c, rep.status, rep.body, NULL);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c,
			       const char *url, const char *method,
			       const char *version, const char *upload,
			       size_t *upload_size, void **con_cls)
{
	struct http *h = cls;
	struct req *q = *con_cls;

	(void)version;
	if (!q) {
		q = calloc(1, sizeof(*q));
		if (!q)
			return MHD_NO;
		*con_cls = q;
		return MHD_YES;
	}
	if (*upload_size) {
		if (q->len + *upload_size > HTTP_BODY_MAX) {
			q->too_big = true;
		} else {
			char *nb = realloc(q->body, q->len + *upload_size + 1);

			if (!nb)
				return MHD_NO;
			q->body = nb;
			memcpy(q->body + q->len, upload, *upload_size);
			q->len += *upload_size;
			q->body[q->len] = '\0';
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (!strncmp(url, "/api/", 5) || !strcmp(url, "/api"))
		return serve_api(h, c, method, url, q);
	return serve_static(h, c, method, url);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct req *q = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (q) {
		free(q->body);
		free(q);
	}
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];

	(void)cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	km_warn("http: %s", buf);
}

int http_start(struct http **out, const struct sockaddr_in *listen,
	       const char *web_root, struct api *api, struct auth *auth)
{
	struct http *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	h->api = api;
	h->auth = auth;
	/* A missing web root only disables the dashboard; the API works. */
	if (!realpath(web_root, h->root)) {
		km_warn("http: web root %s: %s (the dashboard is not served)",
			web_root, strerror(errno));
		h->root[0] = '\0';
	}
	h->d = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
	    handler, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
	    MHD_OPTION_SOCK_ADDR, listen, MHD_OPTION_NOTIFY_COMPLETED,
	    completed, h,
	    /* Logins spend ~0.1 s in PBKDF2: more than one thread. */
	    MHD_OPTION_THREAD_POOL_SIZE, 4, MHD_OPTION_CONNECTION_LIMIT, 512,
	    MHD_OPTION_CONNECTION_TIMEOUT, 60, MHD_OPTION_END);
	if (!h->d) {
		free(h);
		return km_log_errno(-EADDRINUSE, "http: cannot listen on %s:%u",
				    inet_ntoa(listen->sin_addr),
				    ntohs(listen->sin_port));
	}
	*out = h;
	return 0;
}

void http_stop(struct http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->d);
	free(h);
}
