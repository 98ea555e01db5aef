/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Shared pieces of the `kilimanjaro` CLI: global options, argument parsing
 * with one-line errors, output helpers. Commands return 0, CLI_HELP (help
 * was printed) or -errno; -EINVAL means the command line was wrong (exit 2),
 * anything else a runtime failure (exit 1). Every error is logged once,
 * where it is detected.
 */
#ifndef KM_CLI_H
#define KM_CLI_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "lib/maps.h"

#define CLI_HELP 1
#define CLI_PIN_BASE "/sys/fs/bpf/kilimanjaro"

struct cli_ctx {
	const char *pin_root_opt; /* --pin-root */
	const char *ifname;	  /* --interface */
	bool json;		  /* --json */
	char pin_root[PATH_MAX];  /* resolved by cli_resolve_pin_root() */
};

/* ---- command options ---- */
enum cli_opt_type {
	CLI_OPT_FLAG,	     /* bool */
	CLI_OPT_U64,	     /* uint64_t, at most .max */
	CLI_OPT_SECONDS,     /* double >= 0, at most .max seconds */
	CLI_OPT_OPT_SECONDS, /* like SECONDS, value optional (.dflt) */
	CLI_OPT_STR,	     /* const char *, checked by the command */
};

struct cli_opt {
	const char *name; /* without the leading "--" */
	enum cli_opt_type type;
	void *dst;
	uint64_t max;
	double dflt; /* CLI_OPT_OPT_SECONDS without a value */
	bool *seen;  /* optional: set when given */
};

/*
 * Split argv into the options of `opts` and at most maxpos positionals.
 * "--help"/"-h" prints `usage` and returns CLI_HELP. `cmd` prefixes every
 * error ("services add: ...").
 */
int cli_args(const char *cmd, const char *usage, int argc, char **argv,
	     const struct cli_opt *opts, char **pos, int *npos, int minpos,
	     int maxpos);

/* ---- parsing (log "<cmd>: bad ..." and return -EINVAL) ---- */
int cli_parse_addr(const char *cmd, const char *what, const char *s,
		   uint32_t *addr_be);
/* ADDR:PORT, or ADDR alone when port_optional (then *port_be = 0). */
int cli_parse_addr_port(const char *cmd, const char *what, const char *s,
			bool port_optional, uint32_t *addr_be,
			uint16_t *port_be);
int cli_parse_prefix(const char *cmd, const char *s, struct km_prefix_key *k);
int cli_parse_proto(const char *cmd, const char *s, uint8_t *proto);
/* Expect the literal keyword kw at pos (e.g. "backend"). */
int cli_expect(const char *cmd, const char *got, const char *kw);
/*
 * The rule of every `del`, after the lookup that returned r: no entry is
 * "<cmd>: <missing>", one of another origin needs --force ("<cmd>: <what>
 * belongs to <origin>; ..."). Returns r or the error it logged.
 */
int cli_check_del(const char *cmd, int r, uint8_t origin, bool force,
		  const char *what, const char *missing);

/* ---- maps ---- */
int cli_resolve_pin_root(struct cli_ctx *c);
/* Resolve the pin root and open its maps; "nothing loaded at <dir>" when
 * there is none. */
int cli_open_maps(struct cli_ctx *c, struct km_maps *m);
/* The start of every `list`: no arguments, then cli_open_maps(). */
int cli_list_open(struct cli_ctx *c, const char *cmd, const char *usage,
		  int argc, char **argv, struct km_maps *m);

/* "" or a hint that /sys/fs/bpf is no bpffs here (ip netns exec), for
 * messages about a path under it. */
const char *cli_bpffs_hint(const char *path);

/* ---- output ---- */
const char *cli_proto_name(uint8_t proto);
char *cli_addr(char buf[16], uint32_t addr_be);
/* "12.3k" style with 3 significant digits; unit appended. */
char *cli_si(char *buf, size_t len, double v, const char *unit);
/* "1h02m", "59s", "1.5s" */
char *cli_duration(char *buf, size_t len, double seconds);
/* Print and release a JSON document. */
void cli_json_print(struct json_object *o);
/* Print {"key": list} and release list; *list is NULL afterwards. */
void cli_json_print_list(const char *key, struct json_object **list);
struct json_object *cli_json_u64(uint64_t v);
/* Human-readable limit ("100pps/200 1.2MB/s block 10s" or "-") */
char *cli_limit_str(char *buf, size_t len, const struct km_limit *l);
struct json_object *cli_limit_json(const struct km_limit *l);

/* ---- commands ---- */
int cmd_status(struct cli_ctx *c, int argc, char **argv);
int cmd_services(struct cli_ctx *c, int argc, char **argv);
int cmd_allow(struct cli_ctx *c, int argc, char **argv);
int cmd_deny(struct cli_ctx *c, int argc, char **argv);
int cmd_blocks(struct cli_ctx *c, int argc, char **argv);
int cmd_punches(struct cli_ctx *c, int argc, char **argv);
int cmd_detach(struct cli_ctx *c, int argc, char **argv);
int cmd_a2s(struct cli_ctx *c, int argc, char **argv);

/* Dispatch "list" (default), "add", "del" of a list command. */
struct cli_sub {
	const char *name;
	int (*fn)(struct cli_ctx *c, int argc, char **argv);
};
int cli_dispatch(struct cli_ctx *c, const char *cmd, const char *usage,
		 const struct cli_sub *subs, int argc, char **argv);

#endif
