// Check macros for MPI, CUDA runtime and NCCL return codes (internal to laco::dist).
// Each failure throws laco::InternalError naming file:line, the call as written, the
// library's error string and the world rank. The *_WARN variants only print to stderr:
// they are for destructors, which must not throw.
#pragma once

#include <string>

#include "laco/dist/mpi_communicator.h"  // <mpi.h> without the C++ bindings

#include "laco/core/error.h"

namespace laco::dist::detail {

// "file:line: <lib> call 'expr' failed on rank R: <error string> (code C)".
std::string format_call_failure(const char* lib, const char* file, int line, const char* expr,
                                const std::string& error, int code);
// The MPI library's text for an error code.
std::string mpi_error_string(int code);
// Prints a failure to stderr (destructors).
void warn_call_failure(const std::string& message);

}  // namespace laco::dist::detail

#define LACO_MPI_CHECK(expr)                                                            \
  do {                                                                                  \
    int laco_mpi_rc_ = (expr);                                                          \
    if (laco_mpi_rc_ != MPI_SUCCESS) {                                                  \
      throw ::laco::InternalError(::laco::dist::detail::format_call_failure(            \
          "MPI", __FILE__, __LINE__, #expr, ::laco::dist::detail::mpi_error_string(laco_mpi_rc_), \
          laco_mpi_rc_));                                                               \
    }                                                                                   \
  } while (0)

#define LACO_MPI_WARN(expr)                                                             \
  do {                                                                                  \
    int laco_mpi_rc_ = (expr);                                                          \
    if (laco_mpi_rc_ != MPI_SUCCESS) {                                                  \
      ::laco::dist::detail::warn_call_failure(::laco::dist::detail::format_call_failure( \
          "MPI", __FILE__, __LINE__, #expr, ::laco::dist::detail::mpi_error_string(laco_mpi_rc_), \
          laco_mpi_rc_));                                                               \
    }                                                                                   \
  } while (0)

#ifdef LACO_HAVE_CUDA
#include <cuda_runtime_api.h>

#define LACO_CUDA_CHECK(expr)                                                             \
  do {                                                                                    \
    cudaError_t laco_cuda_rc_ = (expr);                                                   \
    if (laco_cuda_rc_ != cudaSuccess) {                                                   \
      throw ::laco::InternalError(::laco::dist::detail::format_call_failure(              \
          "CUDA", __FILE__, __LINE__, #expr,                                              \
          std::string(cudaGetErrorName(laco_cuda_rc_)) + ": " +                           \
              cudaGetErrorString(laco_cuda_rc_),                                          \
          static_cast<int>(laco_cuda_rc_)));                                              \
    }                                                                                     \
  } while (0)

#define LACO_CUDA_WARN(expr)                                                              \
  do {                                                                                    \
    cudaError_t laco_cuda_rc_ = (expr);                                                   \
    if (laco_cuda_rc_ != cudaSuccess) {                                                   \
      ::laco::dist::detail::warn_call_failure(::laco::dist::detail::format_call_failure(  \
          "CUDA", __FILE__, __LINE__, #expr, cudaGetErrorString(laco_cuda_rc_),           \
          static_cast<int>(laco_cuda_rc_)));                                              \
    }                                                                                     \
  } while (0)
#endif  // LACO_HAVE_CUDA

#ifdef LACO_HAVE_NCCL
#include <nccl.h>

#define LACO_NCCL_CHECK(expr)                                                             \
  do {                                                                                    \
    ncclResult_t laco_nccl_rc_ = (expr);                                                  \
    if (laco_nccl_rc_ != ncclSuccess) {                                                   \
      throw ::laco::InternalError(::laco::dist::detail::format_call_failure(              \
          "NCCL", __FILE__, __LINE__, #expr, ncclGetErrorString(laco_nccl_rc_),           \
          static_cast<int>(laco_nccl_rc_)));                                              \
    }                                                                                     \
  } while (0)

#define LACO_NCCL_WARN(expr)                                                              \
  do {                                                                                    \
    ncclResult_t laco_nccl_rc_ = (expr);                                                  \
    if (laco_nccl_rc_ != ncclSuccess) {                                                   \
      ::laco::dist::detail::warn_call_failure(::laco::dist::detail::format_call_failure(  \
          "NCCL", __FILE__, __LINE__, #expr, ncclGetErrorString(laco_nccl_rc_),           \
          static_cast<int>(laco_nccl_rc_)));                                              \
    }                                                                                     \
  } while (0)
#endif  // LACO_HAVE_NCCL
