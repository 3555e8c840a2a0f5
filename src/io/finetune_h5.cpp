// The finetune HDF5 log on the HDF5 C API: see finetune_h5.h. Tables are 1-D chunked
// datasets of compound rows with an unlimited extent, like profile.h5's (docs/profile.md).
#include "laco/io/finetune_h5.h"

#include <cstddef>
#include <cstdio>
#include <utility>

#include <fmt/format.h>
#include <hdf5.h>

#include "laco/core/error.h"

namespace laco::io {
namespace {

template <typename T>
T h5(T rc, const char* expr, int line) {
  if (rc < 0) {
    H5Eclear2(H5E_DEFAULT);
    throw InternalError(fmt::format("finetune_h5.cpp:{}: HDF5 call '{}' failed", line, expr));
  }
  return rc;
}
#define LACO_H5(expr) h5((expr), #expr, __LINE__)

// An HDF5 identifier closed on scope exit.
struct Id {
  hid_t id;
  herr_t (*close)(hid_t);
  ~Id() {
    if (id >= 0) close(id);
  }
  operator hid_t() const { return id; }
};

hid_t train_type() {
  using R = TrainRow;
  hid_t t = LACO_H5(H5Tcreate(H5T_COMPOUND, sizeof(R)));
  LACO_H5(H5Tinsert(t, "step", offsetof(R, step), H5T_NATIVE_INT64));
  LACO_H5(H5Tinsert(t, "loss", offsetof(R, loss), H5T_NATIVE_DOUBLE));
  LACO_H5(H5Tinsert(t, "lr", offsetof(R, lr), H5T_NATIVE_DOUBLE));
  LACO_H5(H5Tinsert(t, "grad_norm", offsetof(R, grad_norm), H5T_NATIVE_DOUBLE));
  LACO_H5(H5Tinsert(t, "tokens", offsetof(R, tokens), H5T_NATIVE_INT64));
  LACO_H5(H5Tinsert(t, "seconds", offsetof(R, seconds), H5T_NATIVE_DOUBLE));
  return t;
}

hid_t validation_type() {
  using R = ValidationRow;
  hid_t t = LACO_H5(H5Tcreate(H5T_COMPOUND, sizeof(R)));
  LACO_H5(H5Tinsert(t, "step", offsetof(R, step), H5T_NATIVE_INT64));
  LACO_H5(H5Tinsert(t, "loss", offsetof(R, loss), H5T_NATIVE_DOUBLE));
  LACO_H5(H5Tinsert(t, "token_perplexity", offsetof(R, token_perplexity), H5T_NATIVE_DOUBLE));
  return t;
}

constexpr const char* kTrain = "/finetune/train";
constexpr const char* kValidation = "/finetune/validation";

void create_table(hid_t file, const char* name, hid_t (*type)()) {
  Id mem{type(), H5Tclose};
  hsize_t dims = 0, maxdims = H5S_UNLIMITED, chunk = 256;
  Id space{LACO_H5(H5Screate_simple(1, &dims, &maxdims)), H5Sclose};
  Id dcpl{LACO_H5(H5Pcreate(H5P_DATASET_CREATE)), H5Pclose};
  LACO_H5(H5Pset_chunk(dcpl, 1, &chunk));
  Id ds{LACO_H5(H5Dcreate2(file, name, mem, space, H5P_DEFAULT, dcpl, H5P_DEFAULT)), H5Dclose};
}

hsize_t rows_of(hid_t ds) {
  Id space{LACO_H5(H5Dget_space(ds)), H5Sclose};
  hsize_t rows = 0;
  LACO_H5(H5Sget_simple_extent_dims(space, &rows, nullptr));
  return rows;
}

template <typename Row>
std::vector<Row> read_table(hid_t file, const char* name, hid_t (*type)()) {
  Id ds{LACO_H5(H5Dopen2(file, name, H5P_DEFAULT)), H5Dclose};
  std::vector<Row> rows(rows_of(ds));
  Id mem{type(), H5Tclose};
  if (!rows.empty()) LACO_H5(H5Dread(ds, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows.data()));
  return rows;
}

template <typename Row>
void append(hid_t file, const char* name, hid_t (*type)(), const Row& row) {
  Id ds{LACO_H5(H5Dopen2(file, name, H5P_DEFAULT)), H5Dclose};
  hsize_t first = rows_of(ds), n = 1, total = first + 1;
  LACO_H5(H5Dset_extent(ds, &total));
  Id fspace{LACO_H5(H5Dget_space(ds)), H5Sclose};
  LACO_H5(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &first, nullptr, &n, nullptr));
  Id mspace{LACO_H5(H5Screate_simple(1, &n, nullptr)), H5Sclose};
  Id mem{type(), H5Tclose};
  LACO_H5(H5Dwrite(ds, mem, mspace, fspace, H5P_DEFAULT, &row));
  LACO_H5(H5Fflush(file, H5F_SCOPE_GLOBAL));
}

// Keeps the rows of steps <= last (rows are in step order).
template <typename Row>
void truncate_after(hid_t file, const char* name, hid_t (*type)(), int64_t last) {
  const std::vector<Row> rows = read_table<Row>(file, name, type);
  hsize_t keep = 0;
  while (keep < rows.size() && rows[keep].step <= last) ++keep;
  Id ds{LACO_H5(H5Dopen2(file, name, H5P_DEFAULT)), H5Dclose};
  LACO_H5(H5Dset_extent(ds, &keep));
}

void write_config(hid_t file, const std::string& text) {
  Id group{LACO_H5(H5Gopen2(file, "/finetune", H5P_DEFAULT)), H5Gclose};
  if (LACO_H5(H5Aexists(group, "config_json")) > 0) LACO_H5(H5Adelete(group, "config_json"));
  Id type{LACO_H5(H5Tcopy(H5T_C_S1)), H5Tclose};
  LACO_H5(H5Tset_size(type, H5T_VARIABLE));
  Id space{LACO_H5(H5Screate(H5S_SCALAR)), H5Sclose};
  Id attr{LACO_H5(H5Acreate2(group, "config_json", type, space, H5P_DEFAULT, H5P_DEFAULT)), H5Aclose};
  const char* ptr = text.c_str();
  LACO_H5(H5Awrite(attr, type, &ptr));
}

// The file, reopened when it is a log (else -1): errors are silenced while probing.
hid_t reopen(const std::string& path) {
  H5E_auto2_t func = nullptr;
  void* data = nullptr;
  H5Eget_auto2(H5E_DEFAULT, &func, &data);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  if (f >= 0 && (H5Lexists(f, "/finetune", H5P_DEFAULT) <= 0 || H5Lexists(f, kTrain, H5P_DEFAULT) <= 0)) {
    H5Fclose(f);
    f = -1;
  }
  H5Eclear2(H5E_DEFAULT);
  H5Eset_auto2(H5E_DEFAULT, func, data);
  return f;
}

}  // namespace

FinetuneLog FinetuneLog::open(const std::string& path, const std::string& config_json, int64_t resume_after) {
  hid_t f = resume_after >= 0 ? reopen(path) : -1;
  if (f >= 0) {
    truncate_after<TrainRow>(f, kTrain, train_type, resume_after);
    truncate_after<ValidationRow>(f, kValidation, validation_type, resume_after);
  } else {
    f = LACO_H5(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
    Id group{LACO_H5(H5Gcreate2(f, "/finetune", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)), H5Gclose};
    create_table(f, kTrain, train_type);
    create_table(f, kValidation, validation_type);
  }
  FinetuneLog log(f);
  write_config(f, config_json);
  LACO_H5(H5Fflush(f, H5F_SCOPE_GLOBAL));
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

void FinetuneLog::add_train(const TrainRow& row) { append(file_, kTrain, train_type, row); }
void FinetuneLog::add_validation(const ValidationRow& row) { append(file_, kValidation, validation_type, row); }

void FinetuneLog::close() {
  if (file_ >= 0 && H5Fclose(file_) < 0) std::fprintf(stderr, "laco: warning: closing the finetune log failed\n");
  file_ = -1;
}

void read_finetune_log(const std::string& path, std::vector<TrainRow>& train, std::vector<ValidationRow>& validation) {
  const hid_t f = reopen(path);
  LACO_INPUT_CHECK(f >= 0, "'{}' is not a finetune log (no /finetune/train table)", path);
  Id file{f, H5Fclose};
  train = read_table<TrainRow>(file, kTrain, train_type);
  validation = read_table<ValidationRow>(file, kValidation, validation_type);
}

}  // namespace laco::io
