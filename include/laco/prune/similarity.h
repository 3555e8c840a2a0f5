// Representations of a sample's final-norm hidden states and their cosine similarity
// (DESIGN §1): flat (all real tokens flattened to one vector, as the official LaCo code),
// last_token, mean. Padding never contributes; one cosine per sample, in float64.
#pragma once

#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "laco/core/config.h"  // Representation

namespace laco::prune {

// h, ref: final-norm hidden states (B, T, D) of the same right-padded batch;
// mask (B, T) 0/1. Returns B cosines (float64), in batch order.
std::vector<double> sample_cosines(const at::Tensor& h, const at::Tensor& ref, const at::Tensor& mask,
                                   Representation rep);

// Arithmetic mean in the given order (the order is part of the result's bits).
double mean_in_order(const std::vector<double>& values);

}  // namespace laco::prune
