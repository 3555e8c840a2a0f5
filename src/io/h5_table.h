// The HDF5 pieces the io files share (profile_h5.cpp, finetune_h5.cpp): the check macro
// with the error stack, scoped handles, compound row types and extendible 1-D tables of
// compound rows (chunked, unlimited, grown on append). Private to src/io.
#pragma once

#include <hdf5.h>

#include <cstddef>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "laco/core/error.h"

namespace laco::io::h5 {

// The HDF5 error stack as one line ("func: desc; func: desc"), then cleared.
std::string error_stack();

template <typename T> T check(T rc, const char* expr, const char* file, int line) {
  if (rc < 0) {
    throw InternalError(fmt::format("{}:{}: HDF5 call '{}' failed: {}", file, line, expr, error_stack()));
  }
  return rc;
}

// LACO_H5_CHECK(expr): the value of expr (hid_t, herr_t, htri_t), or InternalError naming
// file:line, the call and the HDF5 error stack when it is negative.
#define LACO_H5_CHECK(expr) ::laco::io::h5::check((expr), #expr, __FILE__, __LINE__)

// Turns off HDF5's automatic error printing while laco reports errors itself.
class ErrorSilencer {
 public:
  ErrorSilencer() {
    H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~ErrorSilencer() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }
  ErrorSilencer(const ErrorSilencer&) = delete;
  ErrorSilencer& operator=(const ErrorSilencer&) = delete;

 private:
  H5E_auto2_t func_ = nullptr;
  void* data_ = nullptr;
};

// An HDF5 identifier closed on scope exit (a failed close is a warning on stderr).
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Handle();
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  operator hid_t() const { return id_; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

// Variable-length C string with HDF5's default (ASCII) character set: HDF5 will not
// convert between ASCII and UTF-8 strings, and readers build the default type
// (H5T_C_S1 + H5T_VARIABLE). The bytes are stored unchanged, so UTF-8 text survives.
hid_t string_type();

struct Member {
  const char* name;
  size_t offset;
  hid_t type;  // H5T_NATIVE_* or 0 for a variable-length UTF-8 string
};
// A compound type of `size` bytes (the in-memory row) with `members`.
hid_t compound_type(size_t size, const std::vector<Member>& members);

struct TableSpec {
  const char* name;  // a path in the file
  hid_t (*type)();   // the in-memory row type (the file stores it packed)
  hsize_t chunk_rows;
};

void create_table(hid_t file, const TableSpec& spec);
bool has_link(hid_t file, const char* name);
hsize_t table_rows(hid_t ds);
// Writes `n` rows at row `first` (the end when `append`), growing or shrinking the table
// to first + n rows.
void write_rows(hid_t file, const TableSpec& spec, hsize_t first, const void* rows, hsize_t n, bool append);

// Reads a whole table into `Record`s, calls `take` on them, then frees HDF5's strings.
template <typename Record, typename Take>
void read_rows(hid_t file, const TableSpec& spec, Take take) {
  if (!has_link(file, spec.name)) return;
  Handle ds(LACO_H5_CHECK(H5Dopen2(file, spec.name, H5P_DEFAULT)), H5Dclose);
  std::vector<Record> rows(table_rows(ds));
  if (rows.empty()) return;
  Handle mem(spec.type(), H5Tclose);
  Handle space(LACO_H5_CHECK(H5Dget_space(ds)), H5Sclose);
  LACO_H5_CHECK(H5Dread(ds, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows.data()));
  take(rows);
  LACO_H5_CHECK(H5Dvlen_reclaim(mem, space, H5P_DEFAULT, rows.data()));
}

}  // namespace laco::io::h5
