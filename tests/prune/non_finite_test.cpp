// Issue 11 item 5: a candidate whose merged model produces non-finite hidden states is
// rejected as such (finite = false, never an early rejection, never accepted whatever T),
// and its report entry says why. The overflow is made with laco.scale = 1e30: the merged
// weights exceed float32 in the forward pass while the original model stays finite.
#include <ATen/ATen.h>

#include "laco/core/error.h"
#include "laco/prune/candidate_evaluator.h"
#include "laco/dist/mpi_communicator.h"
#include "laco/prune/calibration.h"
#include "laco/prune/report.h"
#include "support/test_support.h"

namespace laco::prune {
namespace {

TEST(NonFinite, OverflowingMergeIsRejectedWithItsReasonNotEarlyRejected) {
  model::configure_threads(1, 1);
  const auto cfg = model::parse_model_config({{"model_type", "llama"}, {"hidden_size", 32}, {"intermediate_size", 64},
                                              {"num_hidden_layers", 6}, {"num_attention_heads", 4},
                                              {"num_key_value_heads", 2}, {"vocab_size", 64}}, "random");
  model::Transformer model(model::LayerTable::random(cfg, 7, at::kFloat, 0.15));
  std::vector<std::vector<int64_t>> samples = {{1, 5, 9, 13}, {1, 7, 2}, {1, 3, 3, 3, 8}, {1, 60}};
  std::vector<int64_t> lengths;
  for (const auto& s : samples) lengths.push_back(static_cast<int64_t>(s.size()));
  const auto batches = dist::make_micro_batches(lengths, 2);
  const CollapseParams p{2, 1, 6, 1, -0.99, 0};  // any finite similarity would be accepted
  for (const bool early : {false, true}) {
    SCOPED_TRACE(early ? "early_reject" : "full");
    auto own = prepare_batches(model, samples, batches, {0, 1}, true, p.lowest, p.highest);
    dist::LocalCommunicator comm;
    EvaluatorOptions opt{MergeSpec{MergeRule::kRdsc, 1e30, MergeScope::kFull, NormMode::kKeepBase}, Representation::kFlat, true,
                               early, p.threshold};
    CandidateEvaluator ev(model, comm, dist::make_plan(1, 0), std::move(own), 4, opt);
    CollapseState s = initial_state(p);
    run_collapse(p, ev, s);
    ASSERT_EQ(s.records.size(), 4u);  // l = 4, 3, 2, 1: every one rejected
    for (const auto& r : s.records) {
      EXPECT_FALSE(r.outcome.finite);
      EXPECT_FALSE(r.accepted);
      const auto j = record_to_json(r);
      EXPECT_TRUE(j["similarity"].is_null());
      EXPECT_EQ(j["rejected_reason"], "non-finite hidden states (NaN or Inf)");
      EXPECT_FALSE(j.contains("early_rejected")) << j.dump();
      const CandidateRecord back = record_from_json(j);  // the state round-trips the flag
      EXPECT_FALSE(back.outcome.finite);
    }
  }
}

TEST(Calibration, TokenIdsOutsideTheVocabularyNameTheFileAndSample) {
  const auto cfg = model::parse_model_config({{"model_type", "llama"}, {"hidden_size", 32}, {"intermediate_size", 64},
                                              {"num_hidden_layers", 2}, {"num_attention_heads", 4},
                                              {"num_key_value_heads", 2}, {"vocab_size", 64}}, "m/config.json");
  EXPECT_NO_THROW(check_token_ids({{1, 63}}, cfg, "c.txt"));
  try {
    check_token_ids({{1, 2}, {1, 64}}, cfg, "c.txt");
    ADD_FAILURE() << "id 64 accepted";
  } catch (const InputError& e) {
    const std::string m = e.what();
    for (const char* part : {"c.txt", "sample 1", "token id 64", "[0, 64)", "m/config.json"})
      EXPECT_NE(m.find(part), std::string::npos) << m << "\nmissing: " << part;
  }
}

}  // namespace
}  // namespace laco::prune
