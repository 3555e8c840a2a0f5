// f32 -> bf16 conversion (what `convert --dtype bfloat16` does through tensor.to()) must be
// round-to-nearest-even on every value. The reference below is written from the definition
// on the raw uint32 bits, independently of c10::BFloat16's formula.
#include <cstring>
#include <random>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

namespace {

bool is_nan_f32(uint32_t u) { return (u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu) != 0; }
bool is_nan_bf16(uint16_t h) { return (h & 0x7f80u) == 0x7f80u && (h & 0x007fu) != 0; }

// Round to nearest, ties to even, keeping the top 16 bits. The 16 dropped bits are
// compared with one half ulp (0x8000): above rounds up, below truncates, exactly half
// rounds to the even neighbour. A carry out of the mantissa bumps the exponent, which
// is also right at the top (max finite -> inf). Denormals need nothing special: bf16
// keeps float32's exponent, so they round like any other bit pattern.
uint16_t rne_reference(uint32_t u) {
  const uint16_t kept = static_cast<uint16_t>(u >> 16);
  const uint32_t dropped = u & 0xffffu;
  if (dropped > 0x8000u) return static_cast<uint16_t>(kept + 1);
  if (dropped < 0x8000u) return kept;
  return (kept & 1u) ? static_cast<uint16_t>(kept + 1) : kept;  // a tie
}

// Test inputs: every sign/exponent/top-7-mantissa pattern (all 65536 upper halves) with
// lower halves that straddle the rounding boundary, plus random bit patterns.
std::vector<uint32_t> inputs() {
  std::vector<uint32_t> v;
  const uint32_t lows[] = {0x0000, 0x0001, 0x7fff, 0x8000, 0x8001, 0xffff, 0x4000, 0xc000};
  for (uint32_t hi = 0; hi < 65536; ++hi)
    for (uint32_t lo : lows) v.push_back(hi << 16 | lo);
  std::mt19937 gen(42);
  for (int i = 0; i < 1 << 20; ++i) v.push_back(gen());
  return v;
}

TEST(Bf16Convert, MatchesRoundToNearestEvenBitwise) {
  const auto in = inputs();
  at::Tensor f = at::empty({static_cast<int64_t>(in.size())}, at::kFloat);
  std::memcpy(f.data_ptr(), in.data(), in.size() * 4);
  at::Tensor b = f.to(at::kBFloat16);
  const auto* out = static_cast<const uint16_t*>(b.data_ptr());
  int64_t mismatches = 0, nans = 0, ties = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    if (is_nan_f32(in[i])) {
      ++nans;  // the RNE formula would turn low-payload NaNs into inf; a NaN must stay NaN
      if (!is_nan_bf16(out[i]) && mismatches++ < 10)
        ADD_FAILURE() << std::hex << "NaN 0x" << in[i] << " -> 0x" << out[i];
      continue;
    }
    ties += (in[i] & 0xffffu) == 0x8000u;
    const uint16_t want = rne_reference(in[i]);
    if (out[i] != want && mismatches++ < 10)
      ADD_FAILURE() << std::hex << "0x" << in[i] << " -> 0x" << out[i] << ", expected 0x" << want;
  }
  std::cout << "  bf16: " << in.size() << " values (" << ties << " ties, " << nans << " NaNs), mismatches "
            << mismatches << "\n";
  EXPECT_EQ(mismatches, 0);
}

TEST(Bf16Convert, HandPickedCases) {
  // {float bits, expected bf16 bits}, each worked out by hand.
  const std::pair<uint32_t, uint16_t> cases[] = {
      {0x3f800000, 0x3f80},  // 1.0 exact
      {0x3f808000, 0x3f80},  // tie, kept mantissa even: stays
      {0x3f818000, 0x3f82},  // tie, kept mantissa odd: rounds up to even
      {0x3f808001, 0x3f81},  // just above half: up
      {0x3f807fff, 0x3f80},  // just below half: down
      {0x3fffffff, 0x4000},  // mantissa carry into exponent: 1.99999 -> 2.0
      {0x7f7fffff, 0x7f80},  // max finite float rounds to +inf
      {0x7f7f7fff, 0x7f7f},  // below half: stays max finite bf16
      {0x7f800000, 0x7f80},  // +inf
      {0xff800000, 0xff80},  // -inf
      {0x80000000, 0x8000},  // -0
      {0x00000001, 0x0000},  // smallest denormal: below half, to +0
      {0x00008000, 0x0000},  // denormal tie, even: to 0
      {0x00018000, 0x0002},  // denormal tie, odd: up
      {0x007fffff, 0x0080},  // largest denormal rounds up to the smallest normal
      {0x80018000, 0x8002},  // negative denormal tie, odd: away from zero
  };
  for (const auto& [bits, want] : cases) {
    float x;
    std::memcpy(&x, &bits, 4);
    at::Tensor b = at::tensor({x}).to(at::kBFloat16);
    uint16_t got;
    std::memcpy(&got, b.data_ptr(), 2);
    EXPECT_EQ(got, want) << std::hex << "0x" << bits;
    EXPECT_EQ(rne_reference(bits), want) << std::hex << "reference disagrees for 0x" << bits;
  }
}

}  // namespace
