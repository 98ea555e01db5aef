#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "kilimanjaro_abi.h"
SEC("xdp") int km_xdp(struct xdp_md *ctx) { return XDP_PASS; }
char LICENSE[] SEC("license") = "GPL";
