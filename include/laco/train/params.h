// The trainable parameters as one flat float32 master vector: each parameter is a leaf
// tensor (requires_grad) viewing its slice of the flat vector, so the optimizer updates
// them all with one in-place step and a checkpoint saves one tensor. Gradients come back
// per micro-batch as one flat (P) vector in the same layout.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace laco::train {

struct Param {
  std::string name;   // HF tensor name (full) or PEFT adapter key (lora)
  at::Tensor value;   // leaf view of the flat master, float32, requires_grad
  int64_t offset = 0;
  bool decay = true;  // weight decay applies (matrices; not norms or biases)
};

class ParamSet {
 public:
  // Adds a parameter initialised to a float32 copy of `init`; then finalize() once.
  void add(std::string name, const at::Tensor& init, bool decay);
  void finalize();
  int64_t numel() const { return numel_; }
  const std::vector<Param>& params() const { return params_; }
  const Param& find(const std::string& name) const;  // InternalError when absent
  at::Tensor& flat() { return flat_; }                // (P) float32; update under NoGradGuard
  const at::Tensor& flat() const { return flat_; }
  const at::Tensor& decay_mask() const { return decay_; }  // (P) float32 of 0/1
  // Copies every parameter's gradient into `out` (P) (zeros where a parameter got none)
  // and clears the gradients for the next backward.
  void take_grads(at::Tensor out);
  // Overwrites the master values (resume); shapes must match.
  void load(const at::Tensor& flat);

 private:
  std::vector<std::pair<std::string, at::Tensor>> pending_;
  std::vector<char> pending_decay_;
  std::vector<Param> params_;
  at::Tensor flat_, decay_;
  int64_t numel_ = 0;
};

}  // namespace laco::train
