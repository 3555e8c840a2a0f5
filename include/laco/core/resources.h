// Process resources for profiles and summaries: peak resident memory (and returning freed
// heap pages), host name, wall clock, and the number of ranks sharing this node (from the
// launcher's environment).
#pragma once

#include <cstdint>
#include <string>

namespace laco {

int64_t peak_rss_bytes();     // getrusage ru_maxrss
// RssAnon of /proc/self/status now (0 where unavailable): private memory, without the
// mapped checkpoint pages that RSS also counts. Sample it to find a peak.
int64_t anon_rss_bytes();
// Returns the malloc heap's free pages to the system (glibc malloc_trim; nothing elsewhere).
// A forward pass frees many activation-sized blocks below the mmap threshold; without this
// they stay in RssAnon (about 18 MB after the reference pass of the 3-layer slice), so the
// process would hold more than the memory plan counts.
void release_free_heap();
std::string host_name();
std::string iso_time_now();   // 2026-11-28T01:23:45Z
double wall_seconds();        // monotonic
// Ranks on this node: OMPI_COMM_WORLD_LOCAL_SIZE / SLURM_NTASKS_PER_NODE / MPI_LOCALNRANKS,
// else `fallback`.
int ranks_on_node(int fallback);
// This process's rank among those on its node: OMPI_COMM_WORLD_LOCAL_RANK / SLURM_LOCALID /
// MPI_LOCALRANKID, else 0 (one process).
int node_local_rank();
// The CPUs this process may run on (sched_getaffinity): their number, and as a list
// ("0-3,8"). What a launcher's binding left (srun --cpus-per-task, mpirun --bind-to).
int allowed_cpu_count();
std::string allowed_cpu_list();
// FNV-1a 64 as 16 hex digits.
std::string fnv1a_hex(const std::string& bytes);

}  // namespace laco
