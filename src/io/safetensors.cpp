// safetensors reading: private copy-on-write mmap, the format rules as validation code
// (header size, well-formed unique JSON, dtypes, shape x dtype = byte range, ranges that
// tile the data area exactly), and zero-copy tensors that keep the mapping alive.
#include "laco/io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "laco/core/error.h"
#include "laco/io/checkpoint.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors data is little-endian");

namespace laco::io {
namespace {

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the reference implementation's limit

struct DTypeRow {
  DType dtype;
  const char* name;
  size_t size;
  c10::ScalarType scalar;
};
constexpr DTypeRow kDTypes[] = {
    {DType::kF64, "F64", 8, c10::ScalarType::Double},  {DType::kF32, "F32", 4, c10::ScalarType::Float},
    {DType::kF16, "F16", 2, c10::ScalarType::Half},    {DType::kBF16, "BF16", 2, c10::ScalarType::BFloat16},
    {DType::kI64, "I64", 8, c10::ScalarType::Long},    {DType::kI32, "I32", 4, c10::ScalarType::Int},
    {DType::kI16, "I16", 2, c10::ScalarType::Short},   {DType::kI8, "I8", 1, c10::ScalarType::Char},
    {DType::kU8, "U8", 1, c10::ScalarType::Byte},      {DType::kBool, "BOOL", 1, c10::ScalarType::Bool},
};

const DTypeRow& row(DType dtype) {
  for (const auto& r : kDTypes)
    if (r.dtype == dtype) return r;
  throw InternalError(fmt::format("unknown DType value {}", static_cast<int>(dtype)));
}

struct Header {
  std::vector<TensorInfo> tensors;  // sorted by data offset
  std::map<std::string, std::string> metadata;
};

uint64_t read_u64_le(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// A JSON value that must be a non-negative integer (shape dim or offset).
uint64_t as_u64(const nlohmann::json& v, const std::string& ctx, const char* what) {
  LACO_INPUT_CHECK(v.is_number_unsigned(), "{}: {} must hold non-negative integers, found {}", ctx, what,
                   v.dump());
  return v.get<uint64_t>();
}

TensorInfo parse_entry(const std::string& name, const nlohmann::json& e, const std::string& path,
                       uint64_t data_bytes) {
  const std::string ctx = fmt::format("'{}' tensor '{}'", path, name);
  LACO_INPUT_CHECK(e.is_object(), "{}: entry must be an object with dtype, shape, data_offsets; found {}",
                   ctx, e.type_name());
  for (const char* key : {"dtype", "shape", "data_offsets"})
    LACO_INPUT_CHECK(e.contains(key), "{}: entry has no '{}' (expected dtype, shape, data_offsets)", ctx, key);
  LACO_INPUT_CHECK(e["dtype"].is_string(), "{}: dtype must be a string, found {}", ctx, e["dtype"].dump());
  TensorInfo t;
  t.name = name;
  t.dtype = parse_dtype(e["dtype"].get<std::string>(), ctx);

  const auto& shape = e["shape"];
  LACO_INPUT_CHECK(shape.is_array(), "{}: shape must be an array, found {}", ctx, shape.dump());
  uint64_t numel = 1;
  bool overflow = false, has_zero = false;
  for (const auto& d : shape) {
    uint64_t dim = as_u64(d, ctx, "shape");
    LACO_INPUT_CHECK(dim <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()),
                     "{}: shape dimension {} is too large", ctx, dim);
    t.shape.push_back(static_cast<int64_t>(dim));
    if (dim != 0 && numel > std::numeric_limits<uint64_t>::max() / dim) overflow = true;
    numel *= dim;
    has_zero = has_zero || dim == 0;
  }
  if (has_zero) {  // a zero dimension makes the product zero, whatever overflowed before it
    overflow = false;
    numel = 0;
  }

  const auto& off = e["data_offsets"];
  LACO_INPUT_CHECK(off.is_array() && off.size() == 2, "{}: data_offsets must be [begin, end], found {}", ctx,
                   off.dump());
  t.begin = as_u64(off[0], ctx, "data_offsets");
  t.end = as_u64(off[1], ctx, "data_offsets");
  LACO_INPUT_CHECK(t.begin <= t.end, "{}: data_offsets [{}, {}] end before they begin", ctx, t.begin, t.end);
  const size_t esize = dtype_size(t.dtype);
  overflow = overflow || numel > std::numeric_limits<uint64_t>::max() / esize;
  LACO_INPUT_CHECK(!overflow && numel * esize == t.end - t.begin,
                   "{}: shape [{}] of {} needs {} bytes, but data_offsets [{}, {}] span {} bytes", ctx,
                   fmt::join(t.shape, ", "), dtype_name(t.dtype),
                   overflow ? std::string("more than 2^64") : std::to_string(numel * esize), t.begin, t.end,
                   t.end - t.begin);
  LACO_INPUT_CHECK(t.end <= data_bytes, "{}: data_offsets [{}, {}] run past the end of the data area ({} bytes)",
                   ctx, t.begin, t.end, data_bytes);
  return t;
}

// The ranges must tile [0, data_bytes) exactly: no overlap, no gap, nothing left over.
void check_tiling(const std::vector<TensorInfo>& ts, const std::string& path, uint64_t data_bytes) {
  uint64_t expected = 0;
  const TensorInfo* prev = nullptr;
  for (const auto& t : ts) {
    LACO_INPUT_CHECK(t.begin >= expected, "'{}': tensor '{}' [{}, {}] overlaps tensor '{}' [{}, {}]", path, t.name,
                     t.begin, t.end, prev ? prev->name : "", prev ? prev->begin : 0, prev ? prev->end : 0);
    LACO_INPUT_CHECK(t.begin == expected,
                     "'{}': tensor '{}' starts at data offset {}, but the previous tensor{} ends at {} "
                     "(a gap of {} bytes belonging to no tensor)",
                     path, t.name, t.begin, prev ? " '" + prev->name + "'" : std::string(" (none)"), expected,
                     t.begin - expected);
    expected = t.end;
    prev = &t;
  }
  LACO_INPUT_CHECK(expected == data_bytes,
                   "'{}': the data area holds {} bytes but the tensors cover only {} (last tensor '{}'); "
                   "{} trailing bytes belong to no tensor",
                   path, data_bytes, expected, prev ? prev->name : "(none)", data_bytes - expected);
}

Header parse_header(const char* json_text, uint64_t json_bytes, const std::string& path, uint64_t data_bytes) {
  nlohmann::json j = parse_json(std::string(json_text, json_bytes), fmt::format("'{}' header", path));
  LACO_INPUT_CHECK(j.is_object(), "'{}': header must be a JSON object of tensors, found {}", path, j.type_name());
  Header h;
  for (const auto& [name, entry] : j.items()) {
    if (name == "__metadata__") {
      LACO_INPUT_CHECK(entry.is_object(), "'{}': __metadata__ must be an object of strings, found {}", path,
                       entry.type_name());
      for (const auto& [k, v] : entry.items()) {
        LACO_INPUT_CHECK(v.is_string(), "'{}': __metadata__ key '{}' must be a string, found {}", path, k,
                         v.dump());
        h.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    h.tensors.push_back(parse_entry(name, entry, path, data_bytes));
  }
  std::sort(h.tensors.begin(), h.tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  check_tiling(h.tensors, path, data_bytes);
  return h;
}

}  // namespace

size_t dtype_size(DType dtype) { return row(dtype).size; }
std::string dtype_name(DType dtype) { return row(dtype).name; }
c10::ScalarType to_scalar_type(DType dtype) { return row(dtype).scalar; }

DType parse_dtype(const std::string& name, const std::string& context) {
  for (const auto& r : kDTypes)
    if (name == r.name) return r.dtype;
  throw InputError(fmt::format("{}: unknown dtype '{}', expected one of F64, F32, F16, BF16, I64, I32, I16, "
                               "I8, U8, BOOL",
                               context, name));
}

DType from_scalar_type(c10::ScalarType type) {
  for (const auto& r : kDTypes)
    if (r.scalar == type) return r.dtype;
  throw InternalError(fmt::format("scalar type {} has no safetensors dtype", c10::toString(type)));
}

std::shared_ptr<const SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  std::shared_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = path;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  LACO_INPUT_CHECK(fd >= 0, "cannot open safetensors file '{}': {}", path, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw InputError(fmt::format("'{}' is not a regular file (expected a .safetensors file)", path));
  }
  f->file_size_ = static_cast<uint64_t>(st.st_size);
  if (f->file_size_ < 8) {
    ::close(fd);
    throw InputError(fmt::format("'{}' is truncated: {} bytes, but a safetensors file starts with an 8-byte "
                                 "header length",
                                 path, f->file_size_));
  }
  // Private + writable: an in-place op on a returned tensor copies the page (copy-on-write)
  // instead of faulting, and can never reach the file. NORESERVE: no commit charge up front.
  void* map = ::mmap(nullptr, f->file_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd, 0);
  int err = errno;
  ::close(fd);
  LACO_INPUT_CHECK(map != MAP_FAILED, "cannot memory-map '{}': {}", path, std::strerror(err));
  f->map_ = map;  // from here the destructor unmaps, also when validation throws

  const auto* bytes = static_cast<const unsigned char*>(map);
  const uint64_t n = read_u64_le(bytes);
  LACO_INPUT_CHECK(n <= kMaxHeaderBytes,
                   "'{}': header length {} exceeds the 100 MB limit (corrupt or not a safetensors file)", path, n);
  LACO_INPUT_CHECK(n <= f->file_size_ - 8,
                   "'{}': header length {} runs past the end of the file ({} bytes, so at most {}); "
                   "the file is truncated or not a safetensors file",
                   path, n, f->file_size_, f->file_size_ - 8);
  f->data_start_ = 8 + n;
  Header h = parse_header(reinterpret_cast<const char*>(bytes + 8), n, path, f->file_size_ - f->data_start_);
  f->tensors_ = std::move(h.tensors);
  f->metadata_ = std::move(h.metadata);
  for (size_t i = 0; i < f->tensors_.size(); ++i) f->index_[f->tensors_[i].name] = i;
  f->self_ = f;
  return f;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) ::munmap(map_, file_size_);
}

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

at::Tensor SafetensorsFile::tensor(const std::string& name) const {
  const TensorInfo* t = find(name);
  LACO_INPUT_CHECK(t, "'{}' holds no tensor '{}'", path_, name);
  std::shared_ptr<const SafetensorsFile> self = self_.lock();
  LACO_CHECK(self, "SafetensorsFile '{}' not owned by a shared_ptr", path_);
  char* ptr = static_cast<char*>(map_) + data_start_ + t->begin;
  const uint64_t bytes = t->end - t->begin;
  if (t->dtype == DType::kBool) {
    // torch assumes bools are 0 or 1; any other byte is undefined behaviour in kernels.
    const auto* b = reinterpret_cast<const unsigned char*>(ptr);
    for (uint64_t i = 0; i < bytes; ++i)
      LACO_INPUT_CHECK(b[i] <= 1, "'{}' tensor '{}': BOOL element {} has byte value {}, expected 0 or 1", path_,
                       name, i, b[i]);
  }
  const auto options = at::TensorOptions().dtype(to_scalar_type(t->dtype));
  if (reinterpret_cast<uintptr_t>(ptr) % dtype_size(t->dtype) != 0) {
    // Legal in the format but unaligned for the dtype (header not padded to 8): kernels
    // may assume natural alignment, so hand out an aligned copy instead of a view.
    at::Tensor copy = at::empty(t->shape, options);
    if (bytes > 0) std::memcpy(copy.data_ptr(), ptr, bytes);
    return copy;
  }
  // The deleter owns a reference to this file: the mapping lives as long as any view.
  return at::from_blob(
      ptr, t->shape, [self](void*) {}, options);
}

}  // namespace laco::io
