// Test helpers: see test_support.h.
#include "support/test_support.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <ATen/ATen.h>

#include "laco/core/openblas_core.h"

namespace laco::test {

namespace {
// Environment every test process (and the laco_dist / mpirun it starts) runs with, unless
// the caller set the variables: root-safe, oversubscribable Open MPI that skips its 0.2 s
// UCX probe (ob1 is what a single machine ends up with anyway), one BLAS thread, and
// OpenBLAS kernels that suit the CPU (OPENBLAS_CORETYPE, if set here, is inherited by child processes).
const bool kEnvironmentDefaults = [] {
  use_suited_openblas_kernels();
  setenv("LACO_ASSETS", LACO_TEST_ASSETS_DEFAULT, 0);
  setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
  setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
  setenv("OMPI_MCA_rmaps_base_oversubscribe", "1", 0);
  setenv("OMPI_MCA_pml", "ob1", 0);
  setenv("OPENBLAS_NUM_THREADS", "1", 0);
  return true;
}();
}  // namespace

std::string assets_dir() {
  const char* env = std::getenv("LACO_ASSETS");
  std::string dir = env && *env ? env : LACO_TEST_ASSETS_DEFAULT;
  return std::filesystem::absolute(dir).lexically_normal().string();
}

std::string asset(const std::string& rel) { return assets_dir() + "/" + rel; }

bool exists(const std::string& path) { return std::filesystem::exists(path); }

TempDir::TempDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/laco_test_XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) throw std::runtime_error("mkdtemp failed for " + tmpl);
  path_ = buf.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) throw std::runtime_error("cannot write " + path);
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + path);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

Samples random_samples(int n, int64_t vocab, uint64_t seed) {
  Samples out;
  uint64_t x = seed;
  auto next = [&] { return (x = x * 6364136223846793005ull + 1442695040888963407ull) >> 33; };
  for (int i = 0; i < n; ++i) {
    std::vector<int64_t> s = {1};
    const int len = 4 + static_cast<int>(next() % 12);
    for (int t = 0; t < len; ++t) s.push_back(static_cast<int64_t>(next() % static_cast<uint64_t>(vocab)));
    out.push_back(s);
  }
  return out;
}

std::string laco_bin() {
  const char* env = std::getenv("LACO_BIN");
  if (env && *env) return env;
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  const auto sibling = self.parent_path().parent_path() / "laco_dist";
  return !ec && std::filesystem::exists(sibling) ? sibling.string() : "laco_dist";
}

CliResult run_cli(const std::vector<std::string>& args, const std::vector<std::string>& prefix) {
  return run_cli_while(args, prefix, {});
}

bool wait_for_file(const std::string& path, double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!exists(path)) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

CliResult run_cli_while(const std::vector<std::string>& args, const std::vector<std::string>& prefix,
                        const std::function<void(int pid)>& while_running) {
  TempDir io;
  std::vector<std::string> argv = prefix;
  argv.push_back(laco_bin());
  argv.insert(argv.end(), args.begin(), args.end());
  std::fflush(stdout);  // a forked child would otherwise re-emit buffered output
  std::fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    if (!freopen((io.file("out")).c_str(), "w", stdout) ||
        !freopen((io.file("err")).c_str(), "w", stderr) || !freopen("/dev/null", "r", stdin))
      _exit(127);
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    execvp(cargv[0], cargv.data());
    _exit(127);
  }
  if (while_running) while_running(pid);
  int status = 0;
  waitpid(pid, &status, 0);
  CliResult r;
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  r.out = read_file(io.file("out"));
  r.err = read_file(io.file("err"));
  return r;
}

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}

nlohmann::json report_candidates(const std::string& dir) {
  nlohmann::json c = read_json(dir + "/laco_report.json").at("candidates");
  for (auto& x : c) x.erase("seconds");
  return c;
}

std::string family_fixture(const std::string& name) {
  const std::string here = __FILE__;  // <repo>/tests/support/test_support.cpp
  return here.substr(0, here.rfind("/tests/")) + "/tests/fixtures/families/" + name;
}

std::string param_name(std::string name) {
  for (char& c : name)
    if (c == '-') c = '_';
  return name;
}

std::vector<std::string> mpirun_prefix(int ranks) {
  return {"mpirun", "--allow-run-as-root", "--oversubscribe", "--bind-to", "none",
          "-n",     std::to_string(ranks)};
}

nlohmann::json read_json(const std::string& path) { return nlohmann::json::parse(read_file(path)); }

at::Tensor read_npy_f32(const std::string& path) {
  const std::string bytes = read_file(path);
  if (bytes.size() < 10 || bytes.substr(1, 5) != "NUMPY") throw std::runtime_error(path + ": not a .npy file");
  uint16_t header_len = 0;
  std::memcpy(&header_len, bytes.data() + 8, 2);
  const std::string header = bytes.substr(10, header_len);
  if (header.find("'<f4'") == std::string::npos || header.find("'fortran_order': False") == std::string::npos)
    throw std::runtime_error(path + ": expected little-endian float32 in C order, header " + header);
  std::vector<int64_t> shape;
  for (size_t p = header.find("'shape': (") + 10; header[p] != ')';) {
    size_t used = 0;
    shape.push_back(std::stoll(header.substr(p), &used));
    p += used;
    while (header[p] == ',' || header[p] == ' ') ++p;
  }
  return at::from_blob(const_cast<char*>(bytes.data() + 10 + header_len), shape, at::kFloat).clone();
}

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kCPU, at::kDouble) - b.to(at::kCPU, at::kDouble)).abs().max().item<double>();
}

at::Tensor ids_tensor(const std::vector<int64_t>& ids) {
  return at::tensor(ids, at::kLong).view({1, static_cast<int64_t>(ids.size())});
}

}  // namespace laco::test
