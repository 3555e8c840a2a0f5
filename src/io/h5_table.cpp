// The shared HDF5 helpers: see h5_table.h.
#include "h5_table.h"

#include <cstdio>

namespace laco::io::h5 {

// The HDF5 error stack as one line ("func: desc; func: desc"), then cleared.
std::string error_stack() {
  std::string text;
  auto walk = [](unsigned, const H5E_error2_t* err, void* data) -> herr_t {
    auto* out = static_cast<std::string*>(data);
    if (!out->empty()) *out += "; ";
    *out += fmt::format("{}: {}", err->func_name ? err->func_name : "?",
                        err->desc ? err->desc : "?");
    return 0;
  };
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, walk, &text);
  H5Eclear2(H5E_DEFAULT);
  return text.empty() ? std::string("no HDF5 error stack") : text;
}

Handle::~Handle() {
  if (id_ >= 0 && close_(id_) < 0)
    std::fprintf(stderr, "laco: warning: closing HDF5 object failed: %s\n", error_stack().c_str());
}

hid_t string_type() {
  hid_t t = LACO_H5_CHECK(H5Tcopy(H5T_C_S1));
  LACO_H5_CHECK(H5Tset_size(t, H5T_VARIABLE));
  return t;
}

hid_t compound_type(size_t size, const std::vector<Member>& members) {
  hid_t t = LACO_H5_CHECK(H5Tcreate(H5T_COMPOUND, size));
  Handle str(string_type(), H5Tclose);
  for (const Member& m : members) {
    LACO_H5_CHECK(H5Tinsert(t, m.name, m.offset, m.type == 0 ? hid_t(str) : m.type));
  }
  return t;
}

void create_table(hid_t file, const TableSpec& spec) {
  Handle mem(spec.type(), H5Tclose);
  Handle packed(LACO_H5_CHECK(H5Tcopy(mem)), H5Tclose);
  LACO_H5_CHECK(H5Tpack(packed));
  hsize_t dims = 0, maxdims = H5S_UNLIMITED;
  Handle space(LACO_H5_CHECK(H5Screate_simple(1, &dims, &maxdims)), H5Sclose);
  Handle dcpl(LACO_H5_CHECK(H5Pcreate(H5P_DATASET_CREATE)), H5Pclose);
  LACO_H5_CHECK(H5Pset_chunk(dcpl, 1, &spec.chunk_rows));
  Handle ds(LACO_H5_CHECK(H5Dcreate2(file, spec.name, packed, space, H5P_DEFAULT, dcpl,
                                     H5P_DEFAULT)),
            H5Dclose);
}

bool has_link(hid_t file, const char* name) {
  return LACO_H5_CHECK(H5Lexists(file, name, H5P_DEFAULT)) > 0;
}

hsize_t table_rows(hid_t ds) {
  Handle space(LACO_H5_CHECK(H5Dget_space(ds)), H5Sclose);
  LACO_H5_CHECK(H5Sget_simple_extent_ndims(space));
  hsize_t rows = 0;
  LACO_H5_CHECK(H5Sget_simple_extent_dims(space, &rows, nullptr));
  return rows;
}

void write_rows(hid_t file, const TableSpec& spec, hsize_t first, const void* rows, hsize_t n,
                bool append) {
  Handle ds(LACO_H5_CHECK(H5Dopen2(file, spec.name, H5P_DEFAULT)), H5Dclose);
  if (append) first = table_rows(ds);
  hsize_t total = first + n;
  LACO_H5_CHECK(H5Dset_extent(ds, &total));
  if (n == 0) return;
  Handle fspace(LACO_H5_CHECK(H5Dget_space(ds)), H5Sclose);
  LACO_H5_CHECK(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &first, nullptr, &n, nullptr));
  Handle mspace(LACO_H5_CHECK(H5Screate_simple(1, &n, nullptr)), H5Sclose);
  Handle mem(spec.type(), H5Tclose);
  LACO_H5_CHECK(H5Dwrite(ds, mem, mspace, fspace, H5P_DEFAULT, rows));
}

}  // namespace laco::io::h5
