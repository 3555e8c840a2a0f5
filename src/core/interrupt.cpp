// Stop signals: see interrupt.h. The handlers use only async-signal-safe calls (write,
// alarm, sigaction, raise); the grace timer is alarm(2), whose SIGALRM handler re-raises
// the recorded stop signal with its default action.
#include "laco/core/interrupt.h"

#include <pthread.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>

#include "laco/core/error.h"

namespace laco {
namespace {

volatile sig_atomic_t g_signal = 0;  // first stop signal, 0 when none
volatile sig_atomic_t g_grace = 60;  // seconds; 0 while an InterruptHold is alive
int g_configured_grace = 60;

void say(const char* text) {
  ssize_t ignored = ::write(STDERR_FILENO, text, std::strlen(text));
  (void)ignored;
}

// Ends the process as the signal would without a handler.
[[noreturn]] void die_by(int sig) {
  std::signal(sig, SIG_DFL);
  sigset_t set;  // inside its own handler the signal is blocked
  sigemptyset(&set);
  sigaddset(&set, sig);
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  std::raise(sig);
  std::_Exit(128 + sig);  // not reached for a terminating signal
}

void on_stop_signal(int sig) {
  if (g_signal != 0) {
    say("laco_dist: second stop signal: ending now\n");
    die_by(sig);
  }
  g_signal = sig;
  say(sig == SIGUSR1 ? "laco_dist: SIGUSR1 received: stopping at the next round boundary (resumable)\n"
      : sig == SIGINT ? "laco_dist: SIGINT received: stopping at the next round boundary (resumable)\n"
                      : "laco_dist: SIGTERM received: stopping at the next round boundary (resumable)\n");
  if (g_grace > 0) alarm(static_cast<unsigned>(g_grace));
}

void on_alarm(int) {
  say("laco_dist: no round boundary within the grace period after the stop signal: ending now\n");
  die_by(g_signal != 0 ? g_signal : SIGTERM);
}

void handle(int sig, void (*fn)(int)) {
  struct sigaction sa {};
  sa.sa_handler = fn;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  LACO_CHECK(sigaction(sig, &sa, nullptr) == 0, "sigaction({}) failed: {}", sig, std::strerror(errno));
}

}  // namespace

void install_interrupt_handlers() {
  if (const char* g = std::getenv("LACO_INTERRUPT_GRACE"); g && *g) {
    char* end = nullptr;
    const long v = std::strtol(g, &end, 10);
    if (*end != '\0' || v < 1 || v > 86400)
      throw InputError(fmt::format("LACO_INTERRUPT_GRACE='{}': expected whole seconds, 1..86400", g));
    g_configured_grace = static_cast<int>(v);
  }
  g_grace = g_configured_grace;
  for (int sig : {SIGTERM, SIGINT, SIGUSR1}) handle(sig, on_stop_signal);
  handle(SIGALRM, on_alarm);
}

int pending_interrupt() { return g_signal; }

std::string signal_name(int signal) {
  switch (signal) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    case SIGUSR1: return "SIGUSR1";
    default: return fmt::format("signal {}", signal);
  }
}

InterruptHold::InterruptHold() {
  g_grace = 0;
  alarm(0);
}

InterruptHold::~InterruptHold() { g_grace = g_configured_grace; }

}  // namespace laco
