// Agreement before the first data collective: an error that only some ranks see (a
// node-local file missing, an environment difference) must not leave the other ranks
// waiting in a collective. Every rank runs its validation, then all exchange the outcome;
// every rank throws the same AgreedError, naming the lowest failing rank and its host.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "laco/core/error.h"
#include "laco/dist/communicator.h"

namespace laco::dist {

// Collective. Runs `validate` on this rank; when it throws on any rank, every rank throws
// AgreedError (an InputError when the lowest failing rank's error was one, else an
// internal failure) with "rank R (host H): <message>" (no prefix in a one-rank world).
void agree(Communicator& world, const std::function<void()>& validate);

// Collective. `items` are (what, digest) pairs every rank must have read identically (the
// config hash, the model's fingerprint, the calibration token ids); the first item where a
// rank differs from rank 0 is an AgreedError naming the item and the lowest differing rank.
void require_same(Communicator& world, const std::vector<std::pair<std::string, std::string>>& items);

// Collective, one small allreduce: when any rank has received a stop signal
// (core/interrupt.h), every rank throws the same Interrupted ("<signal> received: <what>").
void stop_if_interrupted(Communicator& world, const std::string& what);

}  // namespace laco::dist
