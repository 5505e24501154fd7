// Joining an MPI job (or running as a group of one), and the rank / device queries.
#include "distributed/process_group.h"

#include <cstdlib>
#include <iostream>

#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <torch/cuda.h>

#include "core/error.h"
#include "distributed/api_check.h"
#include "distributed/collectives.h"
#include "distributed/failure.h"
#include "distributed/watchdog.h"

namespace retort::dist {
namespace {

struct GroupState {
  bool initialized = false;
  bool uses_mpi = false;
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int local_world_size = 1;
};

GroupState& group() {
  static GroupState state;
  return state;
}

// Variables that MPI launchers put in each process's environment: OpenMPI's mpirun
// (OMPI_COMM_WORLD_SIZE), PMIx launchers such as `srun --mpi=pmix` (PMIX_RANK), MPICH's Hydra and
// `srun --mpi=pmi2` (PMI_SIZE).
bool launched_by_mpi_launcher() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

// The node-local rank and size: OpenMPI exports them; other launchers are asked through a
// communicator of the processes that share memory (one node).
void find_local_rank(GroupState& state) {
  const char* local_rank = std::getenv("OMPI_COMM_WORLD_LOCAL_RANK");
  const char* local_size = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  if (local_rank != nullptr && local_size != nullptr) {
    state.local_rank = std::atoi(local_rank);
    state.local_world_size = std::atoi(local_size);
    return;
  }
  MPI_Comm node;
  MPI_CHECK(
      MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, state.rank, MPI_INFO_NULL, &node));
  MPI_CHECK(MPI_Comm_rank(node, &state.local_rank));
  MPI_CHECK(MPI_Comm_size(node, &state.local_world_size));
  MPI_CHECK(MPI_Comm_free(&node));
}

const GroupState& initialized_group() {
  TORCH_CHECK(group().initialized,
              "retort::dist::init() must run before the process group is used");
  return group();
}

}  // namespace

void init(const ProcessGroupOptions& options) {
  GroupState& state = group();
  TORCH_CHECK(!state.initialized, "retort::dist::init() called twice");
  if (launched_by_mpi_launcher()) {
    // THREAD_MULTIPLE lets the watchdog thread call MPI_Abort while the main thread is blocked in
    // a collective; FUNNELED (all calls from this thread) is the least the collectives need.
    int provided = MPI_THREAD_SINGLE;
    MPI_CHECK(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided));
    state.uses_mpi = true;
    MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
    MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &state.rank));
    MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &state.world_size));
    RETORT_CHECK(provided >= MPI_THREAD_FUNNELED, rank_prefix(), " MPI provides thread level ",
                 provided, ", retort needs at least ", MPI_THREAD_FUNNELED,
                 " (MPI_THREAD_FUNNELED)");
    find_local_rank(state);
  }
  state.initialized = true;
  install_failure_handlers();
  start_watchdog(options.collective_timeout_s);
}

void finalize() {
  GroupState& state = group();
  if (!state.initialized) return;
  shutdown_collectives();
  stop_watchdog();
  if (state.uses_mpi) MPI_CHECK(MPI_Finalize());
  state = GroupState{};
}

bool is_initialized() {
  return group().initialized;
}
int rank() {
  return initialized_group().rank;
}
int world_size() {
  return initialized_group().world_size;
}
int local_rank() {
  return initialized_group().local_rank;
}
int local_world_size() {
  return initialized_group().local_world_size;
}
bool is_main_rank() {
  return rank() == 0;
}
bool uses_mpi() {
  return group().uses_mpi;
}

c10::Device device() {
  if (!torch::cuda::is_available()) return c10::Device(c10::kCPU);
  const int visible = static_cast<int>(torch::cuda::device_count());
  // One visible device per process means the launcher bound the GPUs (CUDA_VISIBLE_DEVICES per
  // rank); otherwise the local rank picks one.
  const int index = visible == 1 ? 0 : local_rank();
  RETORT_CHECK(index < visible, rank_prefix(), " has local rank ", local_rank(), " but sees only ",
               visible, " CUDA devices; start at most ", visible,
               " processes per node (mpirun --map-by ppr:", visible, ":node)");
  const c10::Device device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
  c10::impl::getDeviceGuardImpl(c10::kCUDA)->setDevice(device);  // kernels and NCCL default here
  return device;
}

std::string rank_prefix() {
  // Usable before init and after finalize (error paths): group() then reads rank 0 of 1.
  return c10::str("[rank ", group().rank, "/", group().world_size, "]");
}

void print0(const std::string& text) {
  if (rank() == 0) std::cout << text << std::endl;
}

}  // namespace retort::dist
