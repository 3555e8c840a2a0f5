// The finetune HDF5 log on the HDF5 C API: see finetune_h5.h. Tables are 1-D chunked
// datasets of compound rows with an unlimited extent, like profile.h5's (docs/profile.md).
#include "laco/io/finetune_h5.h"

#include <cstddef>
#include <cstdio>
#include <utility>

#include <fmt/format.h>
#include <hdf5.h>

#include "h5_table.h"
#include "laco/core/error.h"

namespace laco::io {
namespace {

using namespace h5;  // the shared HDF5 helpers (h5_table.h)

hid_t train_type() {
  using R = TrainRow;
  return compound_type(sizeof(R), {{"step", offsetof(R, step), H5T_NATIVE_INT64},
                                   {"loss", offsetof(R, loss), H5T_NATIVE_DOUBLE},
                                   {"lr", offsetof(R, lr), H5T_NATIVE_DOUBLE},
                                   {"grad_norm", offsetof(R, grad_norm), H5T_NATIVE_DOUBLE},
                                   {"tokens", offsetof(R, tokens), H5T_NATIVE_INT64},
                                   {"seconds", offsetof(R, seconds), H5T_NATIVE_DOUBLE}});
}

hid_t validation_type() {
  using R = ValidationRow;
  return compound_type(sizeof(R), {{"step", offsetof(R, step), H5T_NATIVE_INT64},
                                   {"loss", offsetof(R, loss), H5T_NATIVE_DOUBLE},
                                   {"token_perplexity", offsetof(R, token_perplexity), H5T_NATIVE_DOUBLE}});
}

const TableSpec kTrain{"/finetune/train", train_type, 256};
const TableSpec kValidation{"/finetune/validation", validation_type, 256};

template <typename Row>
std::vector<Row> read_table(hid_t file, const TableSpec& spec) {
  std::vector<Row> out;
  read_rows<Row>(file, spec, [&](const std::vector<Row>& rows) { out = rows; });
  return out;
}

template <typename Row>
void append(hid_t file, const TableSpec& spec, const Row& row) {
  write_rows(file, spec, 0, &row, 1, /*append=*/true);
  LACO_H5_CHECK(H5Fflush(file, H5F_SCOPE_GLOBAL));
}

// Keeps the rows of steps <= last (rows are in step order).
template <typename Row>
void truncate_after(hid_t file, const TableSpec& spec, int64_t last) {
  const std::vector<Row> rows = read_table<Row>(file, spec);
  hsize_t keep = 0;
  while (keep < rows.size() && rows[keep].step <= last) ++keep;
  write_rows(file, spec, keep, nullptr, 0, /*append=*/false);
}

void write_config(hid_t file, const std::string& text) {
  Handle group{LACO_H5_CHECK(H5Gopen2(file, "/finetune", H5P_DEFAULT)), H5Gclose};
  if (LACO_H5_CHECK(H5Aexists(group, "config_json")) > 0) LACO_H5_CHECK(H5Adelete(group, "config_json"));
  Handle type{LACO_H5_CHECK(H5Tcopy(H5T_C_S1)), H5Tclose};
  LACO_H5_CHECK(H5Tset_size(type, H5T_VARIABLE));
  Handle space{LACO_H5_CHECK(H5Screate(H5S_SCALAR)), H5Sclose};
  Handle attr{LACO_H5_CHECK(H5Acreate2(group, "config_json", type, space, H5P_DEFAULT, H5P_DEFAULT)), H5Aclose};
  const char* ptr = text.c_str();
  LACO_H5_CHECK(H5Awrite(attr, type, &ptr));
}

// The file, reopened when it is a log (else -1): errors are silenced while probing.
hid_t reopen(const std::string& path) {
  const ErrorSilencer silence;
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  if (f >= 0 && (H5Lexists(f, "/finetune", H5P_DEFAULT) <= 0 || H5Lexists(f, kTrain.name, H5P_DEFAULT) <= 0)) {
    H5Fclose(f);
    f = -1;
  }
  H5Eclear2(H5E_DEFAULT);
  return f;
}

}  // namespace

FinetuneLog FinetuneLog::open(const std::string& path, const std::string& config_json, int64_t resume_after) {
  hid_t f = resume_after >= 0 ? reopen(path) : -1;
  if (f >= 0) {
    truncate_after<TrainRow>(f, kTrain, resume_after);
    truncate_after<ValidationRow>(f, kValidation, resume_after);
  } else {
    f = LACO_H5_CHECK(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
    Handle group{LACO_H5_CHECK(H5Gcreate2(f, "/finetune", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)), H5Gclose};
    create_table(f, kTrain);
    create_table(f, kValidation);
  }
  FinetuneLog log(f);
  write_config(f, config_json);
  LACO_H5_CHECK(H5Fflush(f, H5F_SCOPE_GLOBAL));
  return log;
}

FinetuneLog::FinetuneLog(FinetuneLog&& other) noexcept : file_(std::exchange(other.file_, -1)) {}
FinetuneLog& FinetuneLog::operator=(FinetuneLog&& other) noexcept {
  if (this != &other) {
    close();
    file_ = std::exchange(other.file_, -1);
  }
  return *this;
}
FinetuneLog::~FinetuneLog() { close(); }

void FinetuneLog::add_train(const TrainRow& row) { append(file_, kTrain, row); }
void FinetuneLog::add_validation(const ValidationRow& row) { append(file_, kValidation, row); }

void FinetuneLog::close() {
  if (file_ >= 0 && H5Fclose(file_) < 0) std::fprintf(stderr, "laco: warning: closing the finetune log failed\n");
  file_ = -1;
}

void read_finetune_log(const std::string& path, std::vector<TrainRow>& train, std::vector<ValidationRow>& validation) {
  const hid_t f = reopen(path);
  LACO_INPUT_CHECK(f >= 0, "'{}' is not a finetune log (no /finetune/train table)", path);
  Handle file{f, H5Fclose};
  train = read_table<TrainRow>(file, kTrain);
  validation = read_table<ValidationRow>(file, kValidation);
}

}  // namespace laco::io
