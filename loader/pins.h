/* SPDX-License-Identifier: GPL-2.0-only */
/* The pin root: bpffs, the directory, reuse of existing map pins, and the
 * full removal done by --detach. */
#ifndef KM_LOADER_PINS_H
#define KM_LOADER_PINS_H

#include <stdbool.h>

struct bpf_object;
struct km_cfg;

/* Mount bpffs on /sys/fs/bpf when nothing is mounted there, create the pin
 * root (mode 0700, parents 0700) and take an exclusive lock on it so two
 * loaders never drive the same pins. *lock_fd is kept open while running. */
int pins_prepare(const char *pin_root, int *lock_fd);
/* Remove the pin root if it is empty: a first start that failed leaves
 * nothing behind. */
void pins_remove_if_empty(const char *pin_root);

/*
 * Before load: size the config-sized maps (map_sizes), then make every map
 * that has a pin under pin_root reuse it. A pin whose type, key, value,
 * flags or size differ from the program's map, a map_sizes value that
 * differs from an existing pin, or a km_config written by another ABI
 * version is an error naming the map and the difference.
 */
int pins_reuse(struct bpf_object *obj, const char *pin_root,
	       const struct km_cfg *cfg);

/* After load: pin every map that had no pin yet. */
int pins_pin_new(struct bpf_object *obj, const char *pin_root);

/* --detach: detach and unpin the link, unpin everything under pin_root and
 * remove it. A missing pin root is not an error. */
int pins_detach(const char *pin_root);

#endif
