// What gpc's BPF loaders (bpf_cpu_accounting.cc, bpf_event_source.cc)
// share: libbpf's errors as errnos, a refused load said one way, and the
// sum of a per-CPU counter. Included only where GPC_HAVE_BPF is set.
#pragma once

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstdint>
#include <vector>

#include "util/result.h"

namespace gpc::bpf_support {

// libbpf reports errors as negative errnos (and sets errno); some paths
// return -1 with errno only.
inline int LibbpfErrno(long rc) {
  if (rc < -1) return static_cast<int>(-rc);
  return errno != 0 ? errno : EINVAL;
}

// A skeleton's load failed with `rc`: the errno and what it most likely
// means, in one line for the log and `gpc status`.
inline Error LoadRefused(long rc) {
  const int err = LibbpfErrno(rc);
  return Error(err, err == EPERM ? "load the BPF program (bpf() refused: needs "
                                   "CAP_BPF and CAP_PERFMON)"
                                 : "load the BPF program (verifier or kernel "
                                   "refused it)");
}

// The CPUs a per-CPU value has entries for.
inline size_t PossibleCpus() {
  const int n = libbpf_num_possible_cpus();
  return n > 0 ? static_cast<size_t>(n) : 1;
}

// The entry `key` of a per-CPU array or hash of u64, summed over CPUs; 0
// when it cannot be read.
inline uint64_t SumPerCpu(int map_fd, uint32_t key) {
  std::vector<uint64_t> per_cpu(PossibleCpus());
  if (bpf_map_lookup_elem(map_fd, &key, per_cpu.data()) != 0) return 0;
  uint64_t total = 0;
  for (uint64_t n : per_cpu) total += n;
  return total;
}

}  // namespace gpc::bpf_support
