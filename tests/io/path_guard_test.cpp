// The classes of issue 11 items 1, 2 and 4, in process: an output that is an input by path,
// symlink or hard link, output directories inside / around the model directory or holding
// an input, unusable output paths; what a directory holds (fresh, unfinished, run state,
// foreign); the run lock held by another process, released by its death, and stale for the
// same Slurm job.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "laco/core/error.h"
#include "laco/core/files.h"
#include "laco/io/output_dir.h"
#include "laco/io/path_guard.h"
#include "support/test_support.h"

namespace laco::io {
namespace {

namespace fs = std::filesystem;
using test::TempDir;
using test::write_file;

struct Guarded : ::testing::Test {
  void SetUp() override {
    fs::create_directories(dir.file("model"));
    write_file(dir.file("model/config.json"), "{}");
    write_file(dir.file("model/model.safetensors"), "weights");
    write_file(dir.file("calib.txt"), "text\n");
    guard.add_input_dir(dir.file("model"), "model.path", true);
    guard.add_input_file(dir.file("calib.txt"), "calibration.file");
  }
  TempDir dir;
  PathGuard guard;
};

TEST_F(Guarded, OutputFileThatIsAnInputByPathSymlinkOrHardLinkIsRefused) {
  const std::string weights = dir.file("model/model.safetensors");
  test::expect_input_error([&] { guard.check_output_file(weights, "profile.file"); }, {"profile.file", weights, "model.path"});
  fs::create_symlink(weights, dir.file("link.h5"));
  test::expect_input_error([&] { guard.check_output_file(dir.file("link.h5"), "profile.file"); }, {weights});
  fs::create_hard_link(dir.file("calib.txt"), dir.file("hard.h5"));
  test::expect_input_error([&] { guard.check_output_file(dir.file("hard.h5"), "eval --out"); },
                 {"eval --out", dir.file("calib.txt"), "calibration.file"});
  // Through a symlinked directory.
  fs::create_directory_symlink(dir.file("model"), dir.file("alias"));
  test::expect_input_error([&] { guard.check_output_file(dir.file("alias/config.json"), "report --svg"); }, {"config.json"});
  EXPECT_NO_THROW(guard.check_output_file(dir.file("new.h5"), "profile.file"));
  EXPECT_EQ(read_file(weights).value_or(""), "weights");  // nothing was touched
}

TEST_F(Guarded, UnusableOutputFilePathsAreRefused) {
  test::expect_input_error([&] { guard.check_output_file(dir.path(), "profile.file"); }, {"is a directory"});
  test::expect_input_error([&] { guard.check_output_file(dir.file("missing/p.h5"), "profile.file"); }, {"does not exist"});
  EXPECT_NO_THROW(guard.check_output_file(dir.file("missing/p.h5"), "profile.file", /*parent_created=*/true));
  fs::create_symlink(dir.file("loop1"), dir.file("loop2"));
  fs::create_symlink(dir.file("loop2"), dir.file("loop1"));
  test::expect_input_error([&] { guard.check_output_file(dir.file("loop1/p.h5"), "profile.file"); }, {"profile.file", "loop1"});
}

TEST_F(Guarded, OutputDirectoryInsideAroundOrHoldingAnInputIsRefused) {
  test::expect_input_error([&] { guard.check_output_dir(dir.file("model"), "output.dir"); }, {"output.dir", "inside the input"});
  test::expect_input_error([&] { guard.check_output_dir(dir.file("model/sub"), "output.dir"); }, {"inside the input"});
  test::expect_input_error([&] { guard.check_output_dir(dir.path(), "output.dir"); }, {"contains the input directory"});
  fs::create_directories(dir.file("out"));
  write_file(dir.file("out/calib.txt"), "x");
  PathGuard g2;
  g2.add_input_file(dir.file("out/calib.txt"), "calibration.file");
  test::expect_input_error([&] { g2.check_output_dir(dir.file("out"), "output.dir"); }, {"holds the input file"});
  // A hard link to an input inside an existing output directory would be replaced.
  fs::create_directories(dir.file("out2"));
  fs::create_hard_link(dir.file("model/model.safetensors"), dir.file("out2/model.safetensors"));
  test::expect_input_error([&] { guard.check_output_dir(dir.file("out2"), "convert --out"); }, {"hard link", "model.path"});
  write_file(dir.file("file"), "x");
  test::expect_input_error([&] { guard.check_output_dir(dir.file("file"), "output.dir"); }, {"not a directory"});
  EXPECT_NO_THROW(guard.check_output_dir(dir.file("fresh"), "output.dir"));
}

TEST(RunDir, ClassifiesWhatADirectoryHolds) {
  TempDir dir;
  EXPECT_EQ(inspect_dir(dir.file("none")), DirContents::kAbsent);
  EXPECT_EQ(inspect_dir(dir.path()), DirContents::kEmpty);
  write_file(dir.file(".laco.lock"), "host=h\n");
  write_file(dir.file("profile.h5"), std::string("\x89HDF\r\n\x1a\n", 8) + "rest");
  write_file(dir.file(".laco_state.json.laco-tmp.12.0"), "partial");
  EXPECT_EQ(inspect_dir(dir.path()), DirContents::kUnfinished);
  write_file(dir.file("laco_state.json"), "{}");
  EXPECT_EQ(inspect_dir(dir.path()), DirContents::kRunState);
  fs::remove(dir.file("laco_state.json"));
  write_file(dir.file("profile.h5"), "not hdf5");  // a foreign file with our name is not ours
  std::string foreign;
  EXPECT_EQ(inspect_dir(dir.path(), &foreign), DirContents::kOther);
  EXPECT_EQ(foreign, "profile.h5");
}

// Forks a child that takes the lock and waits on a pipe; returns its pid.
pid_t lock_in_child(const std::string& dir, int& release_fd) {
  int ready[2], release[2];
  EXPECT_EQ(::pipe(ready), 0);
  EXPECT_EQ(::pipe(release), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    DirLock lock(dir, "output.dir");
    char c = 1;
    (void)!::write(ready[1], &c, 1);
    (void)!::read(release[0], &c, 1);
    ::_exit(0);
  }
  char c = 0;
  EXPECT_EQ(::read(ready[0], &c, 1), 1);
  release_fd = release[1];
  return pid;
}

TEST(RunLock, ASecondRunIsRefusedUntilTheHolderEnds) {
  TempDir dir;
  ::unsetenv("SLURM_JOB_ID");
  int release = -1;
  const pid_t child = lock_in_child(dir.path(), release);
  const auto holder = lock_holder(dir.path());
  ASSERT_TRUE(holder.has_value());
  EXPECT_NE(holder->find("pid " + std::to_string(child)), std::string::npos) << *holder;
  test::expect_input_error([&] { DirLock second(dir.path(), "output.dir"); }, {"output.dir", dir.path(), "in use by another run",
                                                                      std::to_string(child)});
  ::kill(child, SIGKILL);  // a killed holder never blocks a rerun
  ::waitpid(child, nullptr, 0);
  ::close(release);
  EXPECT_FALSE(lock_holder(dir.path()).has_value());
  EXPECT_NO_THROW(DirLock again(dir.path(), "output.dir"));
}

TEST(RunLock, ALockOfTheSameSlurmJobIsStale) {
  TempDir dir;
  ::setenv("SLURM_JOB_ID", "4242", 1);
  int release = -1;
  const pid_t child = lock_in_child(dir.path(), release);  // the job's earlier incarnation
  EXPECT_FALSE(lock_holder(dir.path()).has_value());
  EXPECT_NO_THROW(DirLock requeued(dir.path(), "output.dir"));
  ::setenv("SLURM_JOB_ID", "4243", 1);  // another job is refused
  ASSERT_TRUE(lock_holder(dir.path()).has_value());
  EXPECT_NE(lock_holder(dir.path())->find("Slurm job 4242"), std::string::npos);
  ::unsetenv("SLURM_JOB_ID");
  (void)!::write(release, "x", 1);
  ::waitpid(child, nullptr, 0);
  ::close(release);
}

}  // namespace
}  // namespace laco::io
