// SPDX-License-Identifier: GPL-2.0-only
#include "cli.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <linux/magic.h>

#include "lib/log.h"

/* ---- options ---- */

static const struct cli_opt *opt_find(const struct cli_opt *opts,
				      const char *name, size_t len)
{
	for (; opts && opts->name; opts++)
		if (strlen(opts->name) == len &&
		    !strncmp(opts->name, name, len))
			return opts;
	return NULL;
}

static bool looks_numeric(const char *s)
{
	return s && ((*s >= '0' && *s <= '9') || *s == '.');
}

static int opt_value(const char *cmd, const struct cli_opt *o, const char *v)
{
	char *end;

	if (o->type == CLI_OPT_STR) {
		*(const char **)o->dst = v;
		return 0;
	}
	if (o->type == CLI_OPT_U64) {
		unsigned long long n;

		errno = 0;
		n = strtoull(v, &end, 10);
		if (!looks_numeric(v) || *end || errno || n > o->max)
			return km_log_errno(
			    -EINVAL,
			    "%s: --%s wants a whole number 0..%llu, not \"%s\"",
			    cmd, o->name, (unsigned long long)o->max, v);
		*(uint64_t *)o->dst = n;
		return 0;
	}
	double d = strtod(v, &end);

	if (!looks_numeric(v) || *end || !isfinite(d) || d < 0 ||
	    d > (double)o->max)
		return km_log_errno(
		    -EINVAL,
		    "%s: --%s wants a number of seconds 0..%llu, not \"%s\"",
		    cmd, o->name, (unsigned long long)o->max, v);
	*(double *)o->dst = d;
	return 0;
}

/* "missing argument" with the usage line of this very command. */
static int missing(const char *cmd, const char *usage)
{
	char want[64];
	const char *l, *e;

	snprintf(want, sizeof(want), "kilimanjaro %s ", cmd);
	l = strstr(usage, want);
	if (!l)
		return km_log_errno(-EINVAL,
				    "%s: missing argument (see --help)", cmd);
	e = strchr(l, '\n');
	return km_log_errno(-EINVAL, "%s: missing argument (usage: %.*s)", cmd,
			    e ? (int)(e - l) : (int)strlen(l), l);
}

int cli_args(const char *cmd, const char *usage, int argc, char **argv,
	     const struct cli_opt *opts, char **pos, int *npos, int minpos,
	     int maxpos)
{
	bool only_pos = false;
	int r;

	*npos = 0;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *eq, *val = NULL;
		const struct cli_opt *o;

		if (!only_pos && (!strcmp(a, "--help") || !strcmp(a, "-h"))) {
			fputs(usage, stdout);
			return CLI_HELP;
		}
		if (!only_pos && !strcmp(a, "--")) {
			only_pos = true;
			continue;
		}
		if (only_pos || a[0] != '-' || !a[1]) {
			if (*npos == maxpos)
				return km_log_errno(-EINVAL,
						    "%s: unexpected argument "
						    "\"%s\" (see --help)",
						    cmd, a);
			pos[(*npos)++] = argv[i];
			continue;
		}
		eq = strchr(a, '=');
		o = a[1] == '-'
			? opt_find(opts, a + 2,
				   eq ? (size_t)(eq - a - 2) : strlen(a + 2))
			: NULL;
		if (!o)
			return km_log_errno(
			    -EINVAL, "%s: unknown option %s (see --help)", cmd,
			    a);
		if (o->seen)
			*o->seen = true;
		if (o->type == CLI_OPT_FLAG) {
			if (eq)
				return km_log_errno(-EINVAL,
						    "%s: --%s takes no value",
						    cmd, o->name);
			*(bool *)o->dst = true;
			continue;
		}
		if (eq)
			val = eq + 1;
		else if (o->type == CLI_OPT_OPT_SECONDS)
			val = i + 1 < argc && looks_numeric(argv[i + 1])
				  ? argv[++i]
				  : NULL;
		else if (i + 1 < argc)
			val = argv[++i];
		else
			return km_log_errno(-EINVAL, "%s: --%s needs a value",
					    cmd, o->name);
		if (!val) {
			*(double *)o->dst = o->dflt;
			continue;
		}
		r = opt_value(cmd, o, val);
		if (r)
			return r;
	}
	if (*npos < minpos)
		return missing(cmd, usage);
	return 0;
}

int cli_dispatch(struct cli_ctx *c, const char *cmd, const char *usage,
		 const struct cli_sub *subs, int argc, char **argv)
{
	const char *sub = "list";
	int skip = 0;

	/* A first argument that is an option belongs to "list". */
	if (argc > 0 && argv[0][0] != '-') {
		sub = argv[0];
		skip = 1;
	}
	if (argc > 0 &&
	    (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
		fputs(usage, stdout);
		return CLI_HELP;
	}
	char names[128] = "";
	size_t n = 0;

	for (; subs->name; subs++) {
		if (!strcmp(subs->name, sub))
			return subs->fn(c, argc - skip, argv + skip);
		if (n < sizeof(names))
			n += snprintf(names + n, sizeof(names) - n, "%s%s",
				      n ? ", " : "", subs->name);
	}
	return km_log_errno(-EINVAL,
			    "%s: unknown subcommand \"%s\" (%s; see --help)",
			    cmd, sub, names);
}

/* ---- parsing ---- */

int cli_parse_addr(const char *cmd, const char *what, const char *s,
		   uint32_t *addr_be)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return km_log_errno(
		    -EINVAL, "%s: bad %s%saddress \"%s\" (expected a.b.c.d)",
		    cmd, what, *what ? " " : "", s);
	*addr_be = a.s_addr;
	return 0;
}

int cli_parse_addr_port(const char *cmd, const char *what, const char *s,
			bool port_optional, uint32_t *addr_be,
			uint16_t *port_be)
{
	char buf[INET_ADDRSTRLEN + 8], *colon, *end;
	struct in_addr a;
	unsigned long p;

	if (strlen(s) >= sizeof(buf))
		goto bad;
	strcpy(buf, s);
	colon = strchr(buf, ':');
	if (!colon && !port_optional)
		return km_log_errno(-EINVAL,
				    "%s: %s \"%s\" needs a port (a.b.c.d:port)",
				    cmd, what, s);
	if (colon)
		*colon = '\0';
	if (inet_pton(AF_INET, buf, &a) != 1)
		goto bad;
	*addr_be = a.s_addr;
	*port_be = 0;
	if (!colon)
		return 0;
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (!looks_numeric(colon + 1) || *end || errno || p < 1 || p > 65535)
		return km_log_errno(-EINVAL,
				    "%s: bad %s port in \"%s\" (1..65535)", cmd,
				    what, s);
	*port_be = htons(p);
	return 0;
bad:
	return km_log_errno(-EINVAL,
			    "%s: bad %s address \"%s\" (expected a.b.c.d%s)",
			    cmd, what, s, port_optional ? "[:port]" : ":port");
}

int cli_parse_prefix(const char *cmd, const char *s, struct km_prefix_key *k)
{
	char buf[INET_ADDRSTRLEN + 4], *slash, *end, fix[INET_ADDRSTRLEN];
	struct in_addr a;
	unsigned long len = 32;
	uint32_t mask;

	if (strlen(s) >= sizeof(buf))
		goto bad;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
		errno = 0;
		len = strtoul(slash + 1, &end, 10);
		if (!looks_numeric(slash + 1) || *end || errno || len > 32)
			return km_log_errno(
			    -EINVAL, "%s: bad prefix length in \"%s\" (0..32)",
			    cmd, s);
	}
	if (inet_pton(AF_INET, buf, &a) != 1)
		goto bad;
	k->prefixlen = len;
	k->addr = a.s_addr;
	mask = len ? htonl(~0u << (32 - len)) : 0;
	if (k->addr & ~mask) {
		struct in_addr m = {.s_addr = k->addr & mask};

		inet_ntop(AF_INET, &m, fix, sizeof(fix));
		return km_log_errno(
		    -EINVAL,
		    "%s: \"%s\" has host bits set (did you mean %s/%lu?)", cmd,
		    s, fix, len);
	}
	return 0;
bad:
	return km_log_errno(
	    -EINVAL, "%s: bad prefix \"%s\" (expected a.b.c.d/len)", cmd, s);
}

int cli_parse_proto(const char *cmd, const char *s, uint8_t *proto)
{
	if (!strcmp(s, "udp"))
		*proto = IPPROTO_UDP;
	else if (!strcmp(s, "tcp"))
		*proto = IPPROTO_TCP;
	else
		return km_log_errno(
		    -EINVAL, "%s: bad protocol \"%s\" (udp or tcp)", cmd, s);
	return 0;
}

int cli_expect(const char *cmd, const char *got, const char *kw)
{
	if (got && !strcmp(got, kw))
		return 0;
	return km_log_errno(-EINVAL, "%s: expected \"%s\", not \"%s\"", cmd, kw,
			    got ? got : "");
}

int cli_check_del(const char *cmd, int r, uint8_t origin, bool force,
		  const char *what, const char *missing)
{
	if (r == -ENOENT)
		return km_log_errno(r, "%s: %s", cmd, missing);
	if (!r && origin != KM_ORIGIN_CLI && !force)
		return km_log_errno(
		    -EPERM,
		    "%s: %s belongs to %s; use --force to delete it anyway",
		    cmd, what, km_origin_name(origin));
	return r;
}

/* ---- maps ---- */

static bool ifname_ok(const char *s)
{
	return *s && strlen(s) < IF_NAMESIZE && !strchr(s, '/') &&
	       strcmp(s, ".") && strcmp(s, "..");
}

const char *cli_bpffs_hint(const char *path)
{
	struct statfs st;

	if (strncmp(path, "/sys/fs/bpf", 11) ||
	    (!statfs("/sys/fs/bpf", &st) && st.f_type == BPF_FS_MAGIC))
		return "";
	return "; no bpffs is mounted at /sys/fs/bpf here (in `ip netns exec`? "
	       "use nsenter --net=/var/run/netns/NAME)";
}

/* The only directory under CLI_PIN_BASE, when there is exactly one. */
static int only_pin_root(char *out, size_t len)
{
	DIR *d = opendir(CLI_PIN_BASE);
	struct dirent *e;
	char found[2][NAME_MAX + 1];
	int n = 0;

	if (!d)
		return km_log_errno(
		    -ENOENT,
		    "nothing loaded: %s does not exist (name the interface "
		    "with -i or the directory with --pin-root)%s",
		    CLI_PIN_BASE, cli_bpffs_hint(CLI_PIN_BASE));
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || e->d_type != DT_DIR)
			continue;
		if (n < 2)
			snprintf(found[n], sizeof(found[n]), "%s", e->d_name);
		n++;
	}
	closedir(d);
	if (n == 0)
		return km_log_errno(-ENOENT,
				    "nothing loaded: no pin root under %s%s",
				    CLI_PIN_BASE, cli_bpffs_hint(CLI_PIN_BASE));
	if (n > 1)
		return km_log_errno(
		    -EINVAL,
		    "%d pin roots under %s (%s, %s%s): name one with -i IFNAME",
		    n, CLI_PIN_BASE, found[0], found[1], n > 2 ? ", ..." : "");
	snprintf(out, len, "%s/%s", CLI_PIN_BASE, found[0]);
	return 0;
}

int cli_resolve_pin_root(struct cli_ctx *c)
{
	if (c->pin_root[0])
		return 0;
	if (c->pin_root_opt) {
		if (!*c->pin_root_opt ||
		    strlen(c->pin_root_opt) >= sizeof(c->pin_root) - 32)
			return km_log_errno(-EINVAL, "bad --pin-root \"%s\"",
					    c->pin_root_opt);
		snprintf(c->pin_root, sizeof(c->pin_root), "%s",
			 c->pin_root_opt);
		return 0;
	}
	if (c->ifname) {
		if (!ifname_ok(c->ifname))
			return km_log_errno(
			    -EINVAL, "bad interface name \"%s\"", c->ifname);
		snprintf(c->pin_root, sizeof(c->pin_root), "%s/%s",
			 CLI_PIN_BASE, c->ifname);
		return 0;
	}
	return only_pin_root(c->pin_root, sizeof(c->pin_root));
}

int cli_open_maps(struct cli_ctx *c, struct km_maps *m)
{
	char path[PATH_MAX + 32];
	struct stat st;
	int r;

	r = cli_resolve_pin_root(c);
	if (r)
		return r;
	snprintf(path, sizeof(path), "%s/%s", c->pin_root, KM_MAP_CONFIG);
	if (stat(path, &st))
		return km_log_errno(
		    -ENOENT, "nothing loaded at %s (no %s pin)%s", c->pin_root,
		    KM_MAP_CONFIG, cli_bpffs_hint(c->pin_root));
	return km_maps_open_pinned(m, c->pin_root);
}

int cli_list_open(struct cli_ctx *c, const char *cmd, const char *usage,
		  int argc, char **argv, struct km_maps *m)
{
	char *pos[1];
	int np, r;

	r = cli_args(cmd, usage, argc, argv, NULL, pos, &np, 0, 0);
	return r ?: cli_open_maps(c, m);
}

/* ---- output ---- */

const char *cli_proto_name(uint8_t proto)
{
	return proto == IPPROTO_UDP    ? "udp"
	       : proto == IPPROTO_TCP  ? "tcp"
	       : proto == IPPROTO_ICMP ? "icmp"
				       : "?";
}

char *cli_addr(char buf[16], uint32_t addr_be)
{
	struct in_addr a = {.s_addr = addr_be};

	if (!inet_ntop(AF_INET, &a, buf, 16))
		strcpy(buf, "?");
	return buf;
}

char *cli_si(char *buf, size_t len, double v, const char *unit)
{
	static const char *const pfx[] = {"", "k", "M", "G", "T", "P"};
	int i = 0;

	while (fabs(v) >= 999.5 && i < 5) {
		v /= 1000;
		i++;
	}
	if (i == 0 && v == floor(v))
		snprintf(buf, len, "%.0f%s", v, unit);
	else
		snprintf(buf, len, "%.*f%s%s",
			 fabs(v) < 9.995   ? 2
			 : fabs(v) < 99.95 ? 1
					   : 0,
			 v, pfx[i], unit);
	return buf;
}

char *cli_duration(char *buf, size_t len, double s)
{
	uint64_t t = (uint64_t)s;

	if (s < 10)
		snprintf(buf, len, "%.1fs", s);
	else if (t < 60)
		snprintf(buf, len, "%llus", (unsigned long long)t);
	else if (t < 3600)
		snprintf(buf, len, "%llum%02llus", (unsigned long long)t / 60,
			 (unsigned long long)t % 60);
	else if (t < 86400)
		snprintf(buf, len, "%lluh%02llum", (unsigned long long)t / 3600,
			 (unsigned long long)t % 3600 / 60);
	else
		snprintf(buf, len, "%llud%02lluh",
			 (unsigned long long)t / 86400,
			 (unsigned long long)t % 86400 / 3600);
	return buf;
}

void cli_json_print(struct json_object *o)
{
	puts(json_object_to_json_string_ext(
	    o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
		   JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

void cli_json_print_list(const char *key, struct json_object **list)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, key, *list);
	*list = NULL;
	cli_json_print(o);
}

struct json_object *cli_json_u64(uint64_t v)
{
	/* json-c stores int64; counters never reach 2^63. */
	return json_object_new_int64((int64_t)v);
}

char *cli_limit_str(char *buf, size_t len, const struct km_limit *l)
{
	char a[24], b[24], t[24];
	size_t n = 0;

	buf[0] = '\0';
	if (l->pps)
		n += snprintf(buf + n, len - n, "%s/%u",
			      cli_si(a, sizeof(a), l->pps, "pps"),
			      l->burst_pkts);
	if (l->bps && n < len)
		n += snprintf(buf + n, len - n, "%s%s/%s", n ? " " : "",
			      cli_si(a, sizeof(a), l->bps, "B/s"),
			      cli_si(b, sizeof(b), l->burst_bytes, "B"));
	if (l->block_ms && n && n < len)
		n += snprintf(buf + n, len - n, " block %s",
			      cli_duration(t, sizeof(t), l->block_ms / 1000.0));
	if (!n)
		snprintf(buf, len, "-");
	return buf;
}

struct json_object *cli_limit_json(const struct km_limit *l)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "pps", cli_json_u64(l->pps));
	json_object_object_add(o, "burst_packets", cli_json_u64(l->burst_pkts));
	json_object_object_add(o, "bytes_per_s", cli_json_u64(l->bps));
	json_object_object_add(o, "burst_bytes", cli_json_u64(l->burst_bytes));
	json_object_object_add(o, "block_s",
			       json_object_new_double(l->block_ms / 1000.0));
	return o;
}
