// Exception types and check macros for all of laco.
// Library code throws; only main() catches. InputError means "the user's input is
// wrong" (found identically on every rank, exit code 2); everything else is an
// internal failure (exit code 1, or MPI_Abort when only one rank failed).
#pragma once

#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace laco {

// Base of every exception laco throws.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Bad input: a file, key, tensor or argument the user supplied. Message names it.
class InputError : public Error {
 public:
  explicit InputError(const std::string& what) : Error(what) {}
};

// A violated internal invariant or a failed system/library call.
class InternalError : public Error {
 public:
  explicit InternalError(const std::string& what) : Error(what) {}
};

// An error every rank of the job already knows about (dist::agree exchanged it): main()
// lets rank 0 print it and every rank exit through MPI_Finalize. An InputError that was not
// agreed, in a world of more than one rank, aborts the job instead, so no rank waits for
// the failed one. `input()` says whether it is bad input (exit 2) or an internal failure.
class AgreedError : public Error {
 public:
  AgreedError(const std::string& what, bool input) : Error(what), input_(input) {}
  bool input() const { return input_; }

 private:
  bool input_;
};

// Every rank stopped at the same safe point after a stop signal (core/interrupt.h,
// dist::stop_if_interrupted): what was done is saved; the message says how to continue.
class Interrupted : public Error {
 public:
  explicit Interrupted(const std::string& what) : Error(what) {}
};

// Exit codes of the CLI (documented in the README).
inline constexpr int kExitOk = 0;
inline constexpr int kExitInternal = 1;
inline constexpr int kExitInput = 2;
inline constexpr int kExitInterrupted = 3;  // stopped by a signal; resumable (prune --resume)

}  // namespace laco

// LACO_CHECK(cond, "fmt {}", args...): throws InternalError with file:line when cond fails.
#define LACO_CHECK(cond, ...)                                                                 \
  do {                                                                                        \
    if (!(cond)) {                                                                            \
      throw ::laco::InternalError(::fmt::format("{}:{}: check '{}' failed: {}", __FILE__,    \
                                                __LINE__, #cond, ::fmt::format(__VA_ARGS__))); \
    }                                                                                         \
  } while (0)

// LACO_INPUT_CHECK(cond, "fmt {}", args...): throws InputError (exit code 2) with the message.
#define LACO_INPUT_CHECK(cond, ...)                                  \
  do {                                                               \
    if (!(cond)) throw ::laco::InputError(::fmt::format(__VA_ARGS__)); \
  } while (0)
