// Stop signals (core/interrupt.h, dist::stop_if_interrupted): the first SIGTERM, SIGINT or
// SIGUSR1 is only recorded; a second one, or the grace period running out, ends the process
// with the signal's default action; an InterruptHold keeps the grace period from running.
// Each case runs in a death-test child: handlers are process-wide.
#include <unistd.h>

#include <csignal>
#include <cstdlib>

#include <gtest/gtest.h>

#include "laco/core/error.h"
#include "laco/core/interrupt.h"
#include "laco/dist/agree.h"
#include "laco/dist/mpi_communicator.h"
#include "support/test_support.h"

namespace laco {
namespace {

class Interrupt : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(Interrupt, FirstSignalIsRecordedAndTheProcessGoesOn) {
  for (const int sig : {SIGTERM, SIGINT, SIGUSR1}) {
    EXPECT_EXIT(
        {
          install_interrupt_handlers();
          if (pending_interrupt() != 0) std::_Exit(10);
          std::raise(sig);
          std::_Exit(pending_interrupt() == sig ? 0 : 11);
        },
        ::testing::ExitedWithCode(0), signal_name(sig) + " received: stopping at the next round boundary")
        << signal_name(sig);
  }
}

TEST_F(Interrupt, SecondSignalEndsTheProcessWithItsDefaultAction) {
  EXPECT_EXIT(
      {
        install_interrupt_handlers();
        std::raise(SIGUSR1);
        std::raise(SIGTERM);
        std::_Exit(0);
      },
      ::testing::KilledBySignal(SIGTERM), "second stop signal: ending now");
}

TEST_F(Interrupt, NoSafePointWithinTheGracePeriodEndsTheProcess) {
  EXPECT_EXIT(
      {
        setenv("LACO_INTERRUPT_GRACE", "1", 1);
        install_interrupt_handlers();
        std::raise(SIGINT);
        for (int i = 0; i < 50; ++i) usleep(100000);  // 5 s without a safe point
        std::_Exit(0);
      },
      ::testing::KilledBySignal(SIGINT), "no round boundary within the grace period");
}

TEST_F(Interrupt, AHoldKeepsTheGracePeriodFromEndingTheProcess) {
  EXPECT_EXIT(
      {
        setenv("LACO_INTERRUPT_GRACE", "1", 1);
        install_interrupt_handlers();
        std::raise(SIGTERM);  // arms the 1 s timer; the hold cancels it
        {
          const InterruptHold hold;
          for (int i = 0; i < 25; ++i) usleep(100000);
        }
        std::_Exit(pending_interrupt() == SIGTERM ? 0 : 12);
      },
      ::testing::ExitedWithCode(0), "SIGTERM received");
}

TEST_F(Interrupt, AllRanksStopWithTheSameMessage) {
  EXPECT_EXIT(
      {
        install_interrupt_handlers();
        dist::LocalCommunicator world;
        dist::stop_if_interrupted(world, "nothing pending");  // no signal yet: returns
        std::raise(SIGUSR1);
        try {
          dist::stop_if_interrupted(world, "stopped after round 3");
        } catch (const Interrupted& e) {
          std::_Exit(std::string(e.what()) == "SIGUSR1 received: stopped after round 3" ? 0 : 13);
        }
        std::_Exit(14);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST_F(Interrupt, ABadGracePeriodIsAnInputError) {
  for (const char* bad : {"abc", "0", "-5", "10s"}) {
    setenv("LACO_INTERRUPT_GRACE", bad, 1);
    test::expect_input_error([] { install_interrupt_handlers(); }, {"LACO_INTERRUPT_GRACE", bad, "seconds"});
  }
  unsetenv("LACO_INTERRUPT_GRACE");
}

}  // namespace
}  // namespace laco
