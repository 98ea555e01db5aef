// SPDX-License-Identifier: GPL-2.0-only
/* `kilimanjaro detach`: what `kilimanjaro-loader --detach` does. */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "lib/log.h"

static const char usage[] =
    "usage: kilimanjaro detach\n"
    "\n"
    "Detach the XDP program from its interface and remove the pinned link\n"
    "and every map pin of the pin root: forwarding stops and all state\n"
    "(services, lists, blocks, punches, counters) is gone. The same as\n"
    "kilimanjaro-loader --detach.\n";

/*
 * BPF_LINK_DETACH first: a loader that still holds the link open would
 * otherwise keep the program attached after the pin is gone.
 */
static int detach_link(const char *pin_root, bool *had_link)
{
	char path[PATH_MAX];
	int fd, r = 0;

	snprintf(path, sizeof(path), "%s/%s", pin_root, KM_PIN_LINK);
	*had_link = false;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return errno == ENOENT
			   ? 0
			   : km_log_errno(-errno, "%s: cannot open: %s", path,
					  strerror(errno));
	*had_link = true;
	if (bpf_link_detach(fd) && errno != ENOLINK)
		r = km_log_errno(-errno, "%s: cannot detach: %s", path,
				 strerror(errno));
	close(fd);
	if (!r && unlink(path))
		r = km_log_errno(-errno, "%s: cannot remove: %s", path,
				 strerror(errno));
	return r;
}

static int unpin_maps(const char *pin_root, int *removed)
{
	char path[PATH_MAX];

	*removed = 0;
	for (int i = 0; i < KM_M_MAX; i++) {
		snprintf(path, sizeof(path), "%s/%s", pin_root,
			 km_map_names[i]);
		if (!unlink(path))
			(*removed)++;
		else if (errno != ENOENT)
			return km_log_errno(-errno, "%s: cannot remove: %s",
					    path, strerror(errno));
	}
	return 0;
}

int cmd_detach(struct cli_ctx *c, int argc, char **argv)
{
	bool had_link;
	char *pos[1];
	int np, r, removed;

	r = cli_args("detach", usage, argc, argv, NULL, pos, &np, 0, 0);
	r = r ?: cli_resolve_pin_root(c);
	if (r)
		return r;
	if (access(c->pin_root, F_OK))
		return km_log_errno(-ENOENT, "detach: nothing attached at %s%s",
				    c->pin_root, cli_bpffs_hint(c->pin_root));
	r = detach_link(c->pin_root, &had_link);
	r = r ?: unpin_maps(c->pin_root, &removed);
	if (r)
		return r;
	if (!had_link && !removed)
		return km_log_errno(-ENOENT, "detach: nothing attached at %s%s",
				    c->pin_root, cli_bpffs_hint(c->pin_root));
	/* Leave the directory when something else lives in it. */
	if (rmdir(c->pin_root) && errno != ENOTEMPTY)
		km_warn("%s: cannot remove: %s", c->pin_root, strerror(errno));
	if (c->json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "pin_root",
				       json_object_new_string(c->pin_root));
		json_object_object_add(o, "detached",
				       json_object_new_boolean(had_link));
		json_object_object_add(o, "map_pins_removed",
				       json_object_new_int(removed));
		cli_json_print(o);
	} else {
		printf("%s%s; removed %d map pins from %s\n",
		       had_link ? "detached" : "no link was pinned",
		       had_link ? " the XDP program" : "", removed,
		       c->pin_root);
	}
	return 0;
}
