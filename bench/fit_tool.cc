// coreclean_bench_fit: one timed fit on data from .npy files, reported as one JSON line.
// Used by bench/linear_compare.py, which runs it as a child process so that its peak memory is
// measured on its own.
//
//   coreclean_bench_fit lr DIR [--C 1] [--tol 1e-4] [--max-iter 1000] [--max-cg-iter 250]
//                              [--threads 0] [--save-model OUT_DIR]
//     loads DIR/X.npy (float32, n × d) and DIR/y.npy (integer labels), fits the multinomial
//     (softmax) logistic regression with class_weight none and an unpenalised intercept, prints
//     {seconds, objective, iterations, cg_iterations, converged, gradient_ratio, peak_rss_mb, ...}.
//     objective is FitReport.objective = ½‖W‖² + C·Σ loss (scikit-learn's scale for C = 1).
//     With --save-model, writes OUT_DIR/coef.npy (K × d float64) and OUT_DIR/intercept.npy (K).
//
//   coreclean_bench_fit pca DIR [--k 256] [--solver full|randomized] [--oversamples 10]
//                               [--power-iterations -1] [--seed 0] [--threads 0]
//                               [--save-model OUT_DIR]
//     loads DIR/X.npy, fits PCA, prints {seconds, explained_variance_ratio_sum, peak_rss_mb, ...}.
//     With --save-model, writes OUT_DIR/explained_variance.npy (k float64).
//
// seconds covers the fit only (steady_clock); loading (memory-mapped) is reported separately as
// load_seconds. Memory, taken right after the fit, for the whole process (data included):
// ru_maxrss_mb is getrusage(RUSAGE_SELF).ru_maxrss; peak_rss_mb is VmHWM from /proc/self/status,
// which equals ru_maxrss when started from a shell but, unlike it, does not inherit the resident
// size of a large parent process across fork + exec (see ru_maxrss_mb below).

#include <coreclean/core/blas.h>
#include <coreclean/core/context.h>
#include <coreclean/core/types.h>
#include <coreclean/io/npy.h>
#include <coreclean/linear/logistic_regression.h>
#include <coreclean/linear/pca.h>

#include <nlohmann/json.hpp>

#include <sys/resource.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace cl = coreclean::linear;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// getrusage(RUSAGE_SELF).ru_maxrss in MiB (KiB on Linux). Caveat: Linux carries the parent's
// resident size across fork + exec into this figure, so when a large process (e.g. a Python
// driver holding data) starts this tool, ru_maxrss is at least the parent's size at the fork.
double ru_maxrss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

// VmHWM of /proc/self/status in MiB: the peak resident size of this process's own address
// space since exec, unaffected by the parent. Falls back to ru_maxrss where unavailable.
double peak_rss_mb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;  // "… kB"
  }
  return ru_maxrss_mb();
}

[[noreturn]] void usage_error(const std::string& message) {
  throw std::invalid_argument(
      message +
      "\nusage: coreclean_bench_fit lr DIR [--C c] [--tol t] [--max-iter n] [--max-cg-iter n]"
      " [--threads n] [--save-model OUT]\n"
      "       coreclean_bench_fit pca DIR [--k k] [--solver full|randomized] [--oversamples n]"
      " [--power-iterations n] [--seed s] [--threads n] [--save-model OUT]");
}

// "--name value" pairs after the positional arguments; unknown names are refused.
std::map<std::string, std::string> parse_options(int argc, char** argv, int first,
                                                 const std::vector<std::string>& known) {
  std::map<std::string, std::string> options;
  for (int i = first; i < argc; i += 2) {
    const std::string name = argv[i];
    if (name.rfind("--", 0) != 0) usage_error("unexpected argument '" + name + "'");
    const std::string key = name.substr(2);
    bool ok = false;
    for (const auto& k : known) ok = ok || k == key;
    if (!ok) usage_error("unknown option '" + name + "'");
    if (i + 1 >= argc) usage_error("option '" + name + "' needs a value");
    options[key] = argv[i + 1];
  }
  return options;
}

double get_double(const std::map<std::string, std::string>& o, const std::string& key,
                  double fallback) {
  auto it = o.find(key);
  return it == o.end() ? fallback : std::stod(it->second);
}

long long get_int(const std::map<std::string, std::string>& o, const std::string& key,
                  long long fallback) {
  auto it = o.find(key);
  return it == o.end() ? fallback : std::stoll(it->second);
}

std::string get_string(const std::map<std::string, std::string>& o, const std::string& key,
                       const std::string& fallback) {
  auto it = o.find(key);
  return it == o.end() ? fallback : it->second;
}

coreclean::io::SampleMatrix load_x(const fs::path& dir) {
  const coreclean::io::NpyArray a = coreclean::io::read_npy(dir / "X.npy");
  if (a.dtype() != coreclean::io::DType::kFloat32)
    throw std::invalid_argument((dir / "X.npy").string() + " must be float32");
  return coreclean::io::to_sample_matrix(a, "X.npy");
}

void write_vector(const fs::path& path, const Eigen::VectorXd& v) {
  const std::array<std::int64_t, 1> shape{v.size()};
  coreclean::io::write_npy(path, coreclean::io::DType::kFloat64, shape, v.data());
}

int run_lr(const fs::path& dir, const std::map<std::string, std::string>& o) {
  cl::LogisticRegressionParams params;
  params.c = get_double(o, "C", 1.0);
  params.tol = get_double(o, "tol", 1e-4);
  params.max_iter = static_cast<int>(get_int(o, "max-iter", 1000));
  params.max_cg_iter = static_cast<int>(get_int(o, "max-cg-iter", params.max_cg_iter));
  params.class_weight = cl::ClassWeight::kNone;
  params.multi_class = cl::MultiClass::kMultinomial;
  params.fit_intercept = true;
  params.regularize_intercept = false;
  coreclean::Context context;
  context.threads = static_cast<int>(get_int(o, "threads", 0));
  std::vector<std::string> warnings;
  context.logger = [&](coreclean::LogLevel level, std::string_view message) {
    if (level == coreclean::LogLevel::kWarning) warnings.emplace_back(message);
  };

  const Clock::time_point load_start = Clock::now();
  const coreclean::io::SampleMatrix x = load_x(dir);
  const coreclean::Labels y = coreclean::io::to_labels(coreclean::io::read_npy(dir / "y.npy"), "y.npy");
  const double load_seconds = seconds_since(load_start);

  cl::LogisticRegression model(params);
  const Clock::time_point fit_start = Clock::now();
  const cl::FitReport report = model.fit(x.view(), y, {}, context);
  const double fit_seconds = seconds_since(fit_start);
  const double rss = peak_rss_mb();  // before any post-fit work
  const double maxrss = ru_maxrss_mb();

  if (o.count("save-model")) {
    const fs::path out = o.at("save-model");
    fs::create_directories(out);
    const coreclean::RowMatrixXd& coef = model.coef();
    const std::array<std::int64_t, 2> shape{coef.rows(), coef.cols()};
    coreclean::io::write_npy(out / "coef.npy", coreclean::io::DType::kFloat64, shape, coef.data());
    write_vector(out / "intercept.npy", model.intercept());
  }

  nlohmann::json j;
  j["task"] = "lr";
  j["rows"] = x.rows();
  j["cols"] = x.cols();
  j["classes"] = model.classes().size();
  j["C"] = params.c;
  j["tol"] = params.tol;
  j["max_iter"] = params.max_iter;
  j["threads"] = context.thread_count();
  j["seconds"] = fit_seconds;
  j["load_seconds"] = load_seconds;
  j["objective"] = report.objective;
  j["iterations"] = report.iterations;
  j["cg_iterations"] = report.cg_iterations;
  j["converged"] = report.converged;
  j["gradient_ratio"] = report.gradient_ratio;
  j["peak_rss_mb"] = rss;
  j["ru_maxrss_mb"] = maxrss;
  j["warnings"] = warnings;
  std::cout << j.dump() << std::endl;
  return 0;
}

int run_pca(const fs::path& dir, const std::map<std::string, std::string>& o) {
  cl::PcaParams params;
  params.n_components = static_cast<int>(get_int(o, "k", 256));
  const std::string solver = get_string(o, "solver", "full");
  if (solver == "full")
    params.solver = cl::PcaSolver::kFull;
  else if (solver == "randomized")
    params.solver = cl::PcaSolver::kRandomized;
  else
    usage_error("--solver must be full or randomized, got '" + solver + "'");
  params.oversamples = static_cast<int>(get_int(o, "oversamples", params.oversamples));
  params.power_iterations =
      static_cast<int>(get_int(o, "power-iterations", params.power_iterations));
  coreclean::Context context;
  context.seed = static_cast<std::uint64_t>(get_int(o, "seed", 0));
  context.threads = static_cast<int>(get_int(o, "threads", 0));

  const Clock::time_point load_start = Clock::now();
  const coreclean::io::SampleMatrix x = load_x(dir);
  const double load_seconds = seconds_since(load_start);

  cl::Pca pca(params);
  const Clock::time_point fit_start = Clock::now();
  pca.fit(x.view(), context);
  const double fit_seconds = seconds_since(fit_start);
  const double rss = peak_rss_mb();
  const double maxrss = ru_maxrss_mb();

  if (o.count("save-model")) {
    const fs::path out = o.at("save-model");
    fs::create_directories(out);
    write_vector(out / "explained_variance.npy", pca.explained_variance());
  }

  const Eigen::VectorXd& ratio = pca.explained_variance_ratio();
  nlohmann::json j;
  j["task"] = "pca";
  j["solver"] = solver;
  j["rows"] = x.rows();
  j["cols"] = x.cols();
  j["k"] = params.n_components;
  j["threads"] = context.thread_count();
  j["seconds"] = fit_seconds;
  j["load_seconds"] = load_seconds;
  j["explained_variance_ratio_sum"] = ratio.sum();
  std::vector<double> head(ratio.data(), ratio.data() + std::min<Eigen::Index>(ratio.size(), 5));
  j["explained_variance_ratio_head"] = head;
  j["peak_rss_mb"] = rss;
  j["ru_maxrss_mb"] = maxrss;
  std::cout << j.dump() << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // As the CLI: the library's loops are parallel, BLAS runs in the calling thread.
  coreclean::use_single_threaded_blas_unless_configured();
  try {
    if (argc < 3) usage_error("need a task (lr or pca) and a data folder");
    const std::string task = argv[1];
    const fs::path dir = argv[2];
    if (task == "lr")
      return run_lr(dir, parse_options(argc, argv, 3,
                                       {"C", "tol", "max-iter", "max-cg-iter", "threads",
                                        "save-model"}));
    if (task == "pca")
      return run_pca(dir, parse_options(argc, argv, 3,
                                        {"k", "solver", "oversamples", "power-iterations", "seed",
                                         "threads", "save-model"}));
    usage_error("unknown task '" + task + "'");
  } catch (const std::exception& e) {
    std::cerr << "coreclean_bench_fit: " << e.what() << "\n";
    return 2;
  }
}
