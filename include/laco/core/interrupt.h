// Graceful stop on SIGTERM, SIGINT and SIGUSR1 (README "Exit codes"; docs/distributed.md
// "Stopping a run"). The first such signal only records itself: the run reads the record
// at its next safe point (the end of a collapse round, the end of the reference pass,
// before an eval task), where every rank agrees to stop (dist::stop_if_interrupted) and the
// process exits with kExitInterrupted, resumable. A second signal, or no safe point within
// the grace period (LACO_INTERRUPT_GRACE seconds, default 60), ends the process with the
// signal's default action, as if no handler were installed. While an InterruptHold is
// alive (the final checkpoint write) the grace period does not run: that work completes.
#pragma once

#include <string>

namespace laco {

// Installs the handlers (main, once, before any thread starts).
void install_interrupt_handlers();

// The first stop signal received, or 0.
int pending_interrupt();

// "SIGTERM", "SIGINT", "SIGUSR1", or "signal N".
std::string signal_name(int signal);

// Work that must complete once started: holds the grace timer (an armed one is cancelled;
// a signal that arrives meanwhile is recorded without arming it). Not nested.
class InterruptHold {
 public:
  InterruptHold();
  ~InterruptHold();
  InterruptHold(const InterruptHold&) = delete;
  InterruptHold& operator=(const InterruptHold&) = delete;
};

}  // namespace laco
