// The process group: this process's place in an `mpirun -np N` job (rank, world size, local rank
// on its node) and the device it computes on (cuda:<local rank>, or the CPU). MPI is process-wide
// state, so these are free functions over one group. A program not started by mpirun (or Slurm /
// a PMIx launcher) runs as a group of one without touching MPI at all, so every distributed code
// path also works in plain unit tests and single-GPU runs. Only distributed/ sees <mpi.h>.
#pragma once

#include <string>

#include <c10/core/Device.h>

namespace retort::dist {

struct ProcessGroupOptions {
  double collective_timeout_s = 600.0;  // watchdog: abort the job when a collective takes longer
                                        // than this (distributed/watchdog.h); 0 turns it off
};

// Joins the job: MPI_Init_thread (MPI_THREAD_MULTIPLE when the MPI library provides it, else
// FUNNELED) when launched by an MPI launcher, a group of one otherwise. Installs the SIGTERM
// handler (distributed/failure.h) and starts the collective watchdog. Call once, first thing.
void init(const ProcessGroupOptions& options = {});
// Tears down the collectives (NCCL communicators), the watchdog and MPI. Call once, last thing.
void finalize();
bool is_initialized();

int rank();              // 0 .. world_size() - 1
int world_size();        // processes in the job
int local_rank();        // index among the processes on this node (OMPI_COMM_WORLD_LOCAL_RANK)
int local_world_size();  // processes on this node
bool is_main_rank();     // rank() == 0: the one that prints progress and writes files
// True when MPI was initialised (launched by mpirun), even with one process.
bool uses_mpi();

// cuda:<local rank> when CUDA is available, else cpu. A node with fewer visible GPUs than
// processes is an error naming both counts (one GPU per process; several processes sharing one
// GPU would silently serialise and NCCL refuses it).
c10::Device device();

// "[rank r/W]", the prefix of every line an error prints on any rank.
std::string rank_prefix();
// Writes `text` and a newline to stdout on rank 0 only (progress, resolved config).
void print0(const std::string& text);

}  // namespace retort::dist
