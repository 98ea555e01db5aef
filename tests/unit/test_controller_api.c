// SPDX-License-Identifier: GPL-2.0-only
/* controller/api.c and http.c's pure parts: request validation (each
 * refusal names the field), the API answers on a real state, and the
 * static files' path and content-type rules. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "api.h"
#include "http.h"

static char why[API_WHY_LEN];

Test(ctl_api, prefixes)
{
	uint32_t a;
	uint8_t l;

	cr_assert_eq(
	    api_parse_prefix("198.18.4.0/24", &a, &l, why, sizeof(why)), 0);
	cr_assert_eq(a, 0xC6120400);
	cr_assert_eq(l, 24);
	cr_assert_eq(api_parse_prefix("198.18.4.7", &a, &l, why, sizeof(why)),
		     0);
	cr_assert_eq(l, 32);
	cr_assert_eq(api_parse_prefix("0.0.0.0/0", &a, &l, why, sizeof(why)),
		     0);
	cr_assert_eq(
	    api_parse_prefix("198.18.4.1/24", &a, &l, why, sizeof(why)),
	    -EINVAL);
	cr_assert(strstr(why, "did you mean 198.18.4.0/24"), "%s", why);
	cr_assert_eq(
	    api_parse_prefix("198.18.4.0/40", &a, &l, why, sizeof(why)),
	    -EINVAL);
	cr_assert(strstr(why, "0..32"), "%s", why);
	cr_assert_eq(api_parse_prefix("198.18.4.0/", &a, &l, why, sizeof(why)),
		     -EINVAL);
	cr_assert_eq(api_parse_prefix("198.18.4/24", &a, &l, why, sizeof(why)),
		     -EINVAL);
	cr_assert_eq(api_parse_prefix("x", &a, &l, why, sizeof(why)), -EINVAL);
}

Test(ctl_api, hosts)
{
	uint32_t a;

	cr_assert_eq(api_parse_host("198.18.2.2", &a, why, sizeof(why)), 0);
	cr_assert_eq(api_parse_host("127.0.0.1", &a, why, sizeof(why)),
		     -EINVAL);
	cr_assert_eq(api_parse_host("224.0.0.1", &a, why, sizeof(why)),
		     -EINVAL);
	cr_assert_eq(api_parse_host("0.1.2.3", &a, why, sizeof(why)), -EINVAL);
	cr_assert_eq(api_parse_host("255.255.255.255", &a, why, sizeof(why)),
		     -EINVAL);
	cr_assert_eq(api_parse_host("1.2.3.256", &a, why, sizeof(why)),
		     -EINVAL);
}

static int svc(const char *body)
{
	struct api_service s;

	return api_service_parse(body, strlen(body), &s, why, sizeof(why));
}

#define BASE                                                                   \
	"\"proto\":\"udp\",\"addr\":\"198.18.10.1\",\"port\":27015,"           \
	"\"backend\":\"198.18.2.2\""

Test(ctl_api, services)
{
	struct api_service s;
	const char *full = "{" BASE ",\"backend_port\":27016,\"name\":\"tf2\","
			   "\"a2s\":{\"refresh_ms\":500,\"challenge\":\"off\"},"
			   "\"limits\":{\"validated\":{\"pps\":100,"
			   "\"burst_pkts\":200}}}";

	cr_assert_eq(
	    api_service_parse(full, strlen(full), &s, why, sizeof(why)), 0,
	    "%s", why);
	cr_assert_eq(s.key.port, 27015);
	cr_assert_eq(s.svc.backend, 0xC6120202);
	cr_assert_eq(s.svc.backend_port, 27016);
	cr_assert_str_eq(s.svc.name, "tf2");
	cr_assert_eq(s.svc.a2s->refresh_ms, 500);
	cr_assert_eq(s.svc.a2s->max_age_ms, 10000, "defaults filled in");
	cr_assert_eq(s.svc.a2s->challenge,
		     KILIMANJARO__V1__CHALLENGE_POLICY__CHALLENGE_OFF);
	cr_assert_eq(s.svc.validated->pps, 100);
	cr_assert_null(s.svc.unvalidated);
	cr_assert_eq(svc("{" BASE "}"), 0, "%s", why);
	cr_assert_eq(svc("{" BASE ",\"a2s\":true}"), 0, "%s", why);
}

static void refused(const char *body, const char *field)
{
	cr_assert_eq(svc(body), -EINVAL, "accepted: %s", body);
	cr_assert(strstr(why, field), "reason \"%s\" does not name %s", why,
		  field);
}

Test(ctl_api, service_refusals_name_the_field)
{
	refused("{\"proto\":\"udp\",\"addr\":\"198.18.10.1\",\"port\":0,"
		"\"backend\":\"198.18.2.2\"}",
		"port");
	refused("{\"proto\":\"udp\",\"addr\":\"198.18.10.1\",\"port\":65536,"
		"\"backend\":\"198.18.2.2\"}",
		"port");
	refused("{\"proto\":\"icmp\",\"addr\":\"198.18.10.1\",\"port\":1,"
		"\"backend\":\"198.18.2.2\"}",
		"proto");
	refused("{\"proto\":\"udp\",\"port\":1,\"backend\":\"198.18.2.2\"}",
		"addr");
	refused("{\"proto\":\"udp\",\"addr\":\"198.18.10.1\",\"port\":1}",
		"backend");
	refused("{" BASE ",\"backend_port\":-1}", "backend_port");
	refused("{" BASE ",\"colour\":1}", "colour");
	refused("{\"proto\":\"tcp\",\"addr\":\"198.18.10.1\",\"port\":1,"
		"\"backend\":\"198.18.2.2\",\"a2s\":true}",
		"a2s");
	refused("{" BASE ",\"a2s\":{\"refresh_ms\":1000,\"timeout_ms\":1500}}",
		"a2s.timeout_ms");
	refused("{" BASE ",\"a2s\":{\"refresh_ms\":50}}", "a2s.refresh_ms");
	refused("{" BASE ",\"a2s\":{\"challenge\":\"maybe\"}}",
		"a2s.challenge");
	refused("{" BASE ",\"limits\":{\"weird\":{}}}", "limits.weird");
	refused("{" BASE ",\"limits\":{\"total\":{\"pps\":-5}}}",
		"limits.total.pps");
	refused("{" BASE ",\"limits\":{\"total\":{\"ppz\":5}}}",
		"limits.total.ppz");
	refused("{" BASE ",\"name\":\"\"}", "name");
	refused("{" BASE "} trailing", "body");
	refused("[1]", "body");
	refused("", "body");
}

static char dir[64];
static struct state st;
static struct edges *edges;
static struct api api;

static void setup(void)
{
	char db[96];

	snprintf(dir, sizeof(dir), "/tmp/kt-unit-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/state.db", dir);
	cr_assert_eq(state_open(&st, db, 30, 300), 0);
	edges = edges_new();
	api.st = &st;
	api.edges = edges;
}

static void teardown(void)
{
	char cmd[128];

	state_close(&st);
	edges_free(edges);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

static unsigned int call(const char *method, const char *path, const char *body,
			 json_object **out)
{
	struct api_reply rep;

	api_dispatch(&api, method, path, NULL, body, body ? strlen(body) : 0,
		     &rep);
	cr_assert_not_null(rep.body);
	*out = json_tokener_parse(rep.body);
	cr_assert_not_null(*out, "not JSON: %s", rep.body);
	free(rep.body);
	return rep.status;
}

static const char *err(json_object *o)
{
	json_object *e;

	return json_object_object_get_ex(o, "error", &e)
		   ? json_object_get_string(e)
		   : "";
}

TestSuite(ctl_api_state, .init = setup, .fini = teardown);

Test(ctl_api_state, writes_and_reads)
{
	json_object *o, *v;

	cr_assert_eq(call("POST", "/services", "{" BASE "}", &o), 200);
	cr_assert(json_object_object_get_ex(o, "version", &v));
	cr_assert_eq(json_object_get_int(v), 1);
	json_object_put(o);
	cr_assert_eq(
	    call("POST", "/deny", "{\"prefix\":\"198.18.4.0/24\"}", &o), 200);
	json_object_put(o);
	cr_assert_eq(
	    call("POST", "/allow", "{\"prefix\":\"198.18.4.0/24\"}", &o), 409);
	json_object_put(o);
	cr_assert_eq(call("POST", "/blocks", "{\"addr\":\"198.18.6.6\"}", &o),
		     200);
	json_object_put(o);
	cr_assert_eq(call("GET", "/state", NULL, &o), 200);
	cr_assert(json_object_object_get_ex(o, "services", &v));
	cr_assert_eq(json_object_array_length(v), 1);
	cr_assert(json_object_object_get_ex(o, "deny", &v));
	cr_assert_str_eq(
	    json_object_get_string(json_object_array_get_idx(v, 0)),
	    "198.18.4.0/24");
	cr_assert(json_object_object_get_ex(o, "version", &v));
	cr_assert_eq(json_object_get_int(v), 3);
	json_object_put(o);
	cr_assert_eq(call("DELETE", "/deny/198.18.4.0/24", NULL, &o), 200);
	json_object_put(o);
	cr_assert_eq(call("DELETE", "/deny/198.18.4.0/24", NULL, &o), 404);
	json_object_put(o);
	cr_assert_eq(
	    call("DELETE", "/services/udp/198.18.10.1/27015", NULL, &o), 200);
	json_object_put(o);
	cr_assert_eq(call("DELETE", "/blocks/198.18.6.6", NULL, &o), 200);
	json_object_put(o);
}

Test(ctl_api_state, refusals)
{
	json_object *o;

	cr_assert_eq(
	    call("POST", "/deny", "{\"prefix\":\"198.18.4.0/33\"}", &o), 400);
	cr_assert(strstr(err(o), "prefix"), "%s", err(o));
	json_object_put(o);
	cr_assert_eq(call("POST", "/blocks",
			  "{\"addr\":\"198.18.6.6\","
			  "\"duration_ms\":0}",
			  &o),
		     400);
	cr_assert(strstr(err(o), "duration_ms"), "%s", err(o));
	json_object_put(o);
	cr_assert_eq(call("DELETE", "/services/udp/198.18.10.1/0", NULL, &o),
		     400);
	json_object_put(o);
	cr_assert_eq(call("GET", "/services", NULL, &o), 405);
	json_object_put(o);
	cr_assert_eq(call("GET", "/nothing", NULL, &o), 404);
	json_object_put(o);
	cr_assert_eq(call("GET", "/edges/nope/stats", NULL, &o), 404);
	json_object_put(o);
	cr_assert_eq(call("PUT", "/state", NULL, &o), 405);
	json_object_put(o);
}

Test(ctl_api_state, a2s_key_never_shows_key_bytes)
{
	json_object *o, *v;

	cr_assert_eq(call("GET", "/a2s/key", NULL, &o), 200);
	cr_assert(json_object_object_get_ex(o, "key_id", &v));
	cr_assert_eq(json_object_get_int(v), 1);
	cr_assert_not(json_object_object_get_ex(o, "key", &v));
	json_object_put(o);
	cr_assert_eq(call("POST", "/a2s/rotate", "", &o), 200);
	json_object_put(o);
	cr_assert_eq(call("POST", "/a2s/rotate", "", &o), 409);
	cr_assert(strstr(err(o), "retry in"), "%s", err(o));
	json_object_put(o);
}

Test(ctl_api_state, edge_stats_become_rates)
{
	Kilimanjaro__V1__StatsSnapshot s =
	    KILIMANJARO__V1__STATS_SNAPSHOT__INIT;
	Kilimanjaro__V1__ReasonCount rc[2], *prc[2] = {&rc[0], &rc[1]};
	json_object *o, *v, *e;

	cr_assert_eq(edges_connected(edges, "e1", "127.0.0.1:1", "t"), 0);
	for (int i = 0; i < 2; i++)
		kilimanjaro__v1__reason_count__init(&rc[i]);
	rc[0].reason = "fwd_service";
	rc[1].reason = "drop_denied";
	rc[0].has_packets = rc[1].has_packets = true;
	s.has_uptime_ms = true;
	s.n_reasons = 2;
	s.reasons = prc;
	for (int t = 0; t < 3; t++) {
		s.uptime_ms = 1000 * (uint64_t)t;
		rc[0].packets = 100 * (uint64_t)t;
		rc[1].packets = 40 * (uint64_t)t;
		edges_stats(edges, "e1", &s, 5000 + 1000 * (uint64_t)t);
	}
	o = edges_stats_json(edges, "e1", 60);
	cr_assert_not_null(o);
	cr_assert(json_object_object_get_ex(o, "pps_fwd", &v));
	cr_assert_eq(json_object_array_length(v), 2);
	cr_assert_float_eq(
	    json_object_get_double(json_object_array_get_idx(v, 1)), 100.0,
	    1e-6);
	cr_assert(json_object_object_get_ex(o, "pps_drop", &v));
	cr_assert_float_eq(
	    json_object_get_double(json_object_array_get_idx(v, 1)), 40.0,
	    1e-6);
	cr_assert(json_object_object_get_ex(o, "pps_in", &v));
	cr_assert_float_eq(
	    json_object_get_double(json_object_array_get_idx(v, 1)), 140.0,
	    1e-6);
	json_object_put(o);
	/* A counter that goes down (maps recreated) is no negative rate. */
	s.uptime_ms = 3000;
	rc[0].packets = 5;
	edges_stats(edges, "e1", &s, 8000);
	o = edges_json(edges, 9000);
	e = json_object_array_get_idx(json_object_object_get(o, "edges"), 0);
	cr_assert(json_object_object_get_ex(e, "pps", &v));
	cr_assert_float_eq(
	    json_object_get_double(json_object_object_get(v, "fwd_service")),
	    0.0, 1e-6);
	cr_assert(
	    json_object_get_boolean(json_object_object_get(e, "connected")));
	json_object_put(o);
}

Test(ctl_http, content_types)
{
	cr_assert_str_eq(http_content_type("/a/index.html"),
			 "text/html; charset=utf-8");
	cr_assert_str_eq(http_content_type("app.js"),
			 "text/javascript; charset=utf-8");
	cr_assert_str_eq(http_content_type("s.CSS"), "text/css; charset=utf-8");
	cr_assert_str_eq(http_content_type("x.svg"), "image/svg+xml");
	cr_assert_str_eq(http_content_type("noext"),
			 "application/octet-stream");
}

Test(ctl_http, static_paths_stay_in_the_root)
{
	char root[64], p[256], out[4096], real[4096];

	snprintf(root, sizeof(root), "/tmp/kt-unit-XXXXXX");
	cr_assert_not_null(mkdtemp(root));
	snprintf(p, sizeof(p), "%s/web", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/web/index.html", root);
	close(open(p, O_CREAT | O_WRONLY, 0644));
	snprintf(p, sizeof(p), "%s/secret", root);
	close(open(p, O_CREAT | O_WRONLY, 0600));
	snprintf(p, sizeof(p), "%s/web/out", root);
	cr_assert_eq(symlink("../secret", p), 0);
	snprintf(p, sizeof(p), "%s/web", root);
	cr_assert_not_null(realpath(p, real));

	cr_assert_eq(http_static_path(real, "/", out, sizeof(out)), 0);
	cr_assert(strstr(out, "/web/index.html"), "%s", out);
	cr_assert_eq(http_static_path(real, "/index.html", out, sizeof(out)),
		     0);
	cr_assert_eq(http_static_path(real, "/../secret", out, sizeof(out)),
		     -EACCES);
	cr_assert_eq(
	    http_static_path(real, "/a/../../secret", out, sizeof(out)),
	    -EACCES);
	cr_assert_eq(http_static_path(real, "/out", out, sizeof(out)), -EACCES,
		     "a symlink leading out of the root");
	cr_assert_eq(http_static_path(real, "/.hidden", out, sizeof(out)),
		     -EACCES);
	cr_assert_eq(http_static_path(real, "/x\\..\\y", out, sizeof(out)),
		     -EACCES);
	cr_assert_eq(http_static_path(real, "//etc/passwd", out, sizeof(out)),
		     -EACCES);
	cr_assert_eq(http_static_path(real, "/missing.js", out, sizeof(out)),
		     -ENOENT);
	cr_assert_eq(http_static_path("", "/index.html", out, sizeof(out)),
		     -EACCES, "no web root: nothing served");
	snprintf(p, sizeof(p), "rm -rf %s", root);
	cr_assert_eq(system(p), 0);
}
