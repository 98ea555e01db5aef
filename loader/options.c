// SPDX-License-Identifier: GPL-2.0-only
#include "options.h"

#include <errno.h>
#include <string.h>

#include "log.h"
#include "opts.h"

#define STR(...) KM_OPT_S(struct loader_opts, __VA_ARGS__)
#define FLAG(...) KM_OPT_F(struct loader_opts, __VA_ARGS__)

static const struct km_opt opt_defs[] = {
    STR("config", 'c', config, "FILE", "configuration file",
	LOADER_DEFAULT_CONFIG),
    STR("interface", 'i', ifname, "IFNAME",
	"interface to attach to (overrides \"interface\" in the config)", NULL),
    STR("pin-root", 'p', pin_root, "DIR",
	"directory (on bpffs) for the link and map pins",
	LOADER_PIN_BASE "/<interface>"),
    STR("xdp-mode", 'm', xdp_mode, "native|skb",
	"XDP attach mode (overrides \"xdp_mode\"); never falls back", "native"),
    STR("object", 'o', object, "FILE",
	"BPF object to load instead of the one built in", NULL),
    FLAG("check-config", 0, check_config,
	 "validate the config file, print every error, exit 0 or 1"),
    FLAG("detach", 0, detach,
	 "remove the pinned link (stops forwarding) and every pin of the pin "
	 "root, then exit"),
    FLAG("verbose", 'v', verbose, "debug logging (includes libbpf's)"),
};

static const struct km_opts_spec spec = KM_OPTS_SPEC(
    opt_defs, 30,
    "Usage: %s [OPTION]...\n"
    "Attach the Kilimanjaro XDP program, pin its link and maps, "
    "apply the\n"
    "config file and keep it applied (SIGHUP reloads). Stopping the "
    "loader\n"
    "leaves forwarding running; only --detach removes it.\n\n");

int options_parse(int argc, char **argv, struct loader_opts *o)
{
	int r = km_opts_parse(&spec, argc, argv, o, sizeof(*o));

	if (r)
		return r;
	if (!o->config)
		o->config = LOADER_DEFAULT_CONFIG;
	if (o->xdp_mode && strcmp(o->xdp_mode, "native") &&
	    strcmp(o->xdp_mode, "skb"))
		return km_log_errno(
		    -EINVAL, "--xdp-mode: \"%s\" is not one of native, skb",
		    o->xdp_mode);
	if (o->check_config && o->detach)
		return km_log_errno(
		    -EINVAL, "--check-config and --detach exclude each other");
	return 0;
}
