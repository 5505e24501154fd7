// How a distributed job ends when something goes wrong, and how it stops cleanly. An error on one
// rank must end every rank (the others would otherwise wait in their next collective forever):
// abort_job prints "[rank r/W] error: ..." and calls MPI_Abort, which makes mpirun kill the job
// and exit non-zero. SIGTERM and SIGUSR1 only set a flag; stop_requested() agrees on it across
// ranks, so every rank leaves the training loop at the same step and can checkpoint.
#pragma once

#include <functional>
#include <string>

namespace retort::dist {

// Prints "[rank r/W] error: <message>" to stderr, runs the abort hooks (ncclCommAbort), then ends
// every process of the job with `exit_code`: MPI_Abort under mpirun, _exit otherwise. Callable
// from any thread; when several threads call it, the first one's message wins.
[[noreturn]] void abort_job(const std::string& message, int exit_code = 1);

// Runs `body` (a program's main after dist::init) and returns its exit code; an exception
// escaping it aborts the whole job with the exception's message.
int run_or_abort(const std::function<int()>& body);

// Hooks that abort_job runs before ending the process; the NCCL backend registers ncclCommAbort
// so that kernels stuck in a collective are torn down. Returns an id for remove_abort_hook.
int add_abort_hook(std::function<void()> hook);
void remove_abort_hook(int id);

// Whether this process received SIGTERM or SIGUSR1 (a signal-safe flag; no communication).
bool stop_signal_received();
// Collective: true on every rank when any rank received a stop signal (an all-reduce of the
// flags with max). Call it at the same point of every step, e.g. before the optimizer step.
bool stop_requested();

// dist::init() calls these: std::terminate prints the active exception and aborts the job (an
// exception escaping a thread), and the stop signals set the flag.
void install_failure_handlers();

}  // namespace retort::dist
