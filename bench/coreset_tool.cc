// coreclean_bench_coreset: the coreset tree's side of the coreset benchmarks (never tests). It
// reads .npy inputs written by bench/coreset_effectiveness.py or bench/coreset_speed.py, runs the
// tree (and, for effectiveness, coreclean's own cross-validated logistic regression), writes
// per-sample arrays as .npy and prints one JSON line. The drivers compute every metric.
//
//   coreclean_bench_coreset effect DIR OUT --target C --source A --budget B
//                                   [--iterations 10] [--seed 0] [--folds 5] [--cv-c 1]
//                                   [--cv-tol 1e-3] [--threads 0] [--no-cv] [--check-cvp]
//                                   [--tree-cross-fit-c C]
//     DIR/X.npy (float32 n × d), DIR/y.npy (labels as given to the reviewer, i.e. with the
//     injected errors), DIR/y_true.npy (clean labels).
//     1. Builds a CoresetTree (default CoresetTreeParams: cleaning, sketch_dim 256, …, but
//        cross_fit_c = --tree-cross-fit-c when given; Context.seed = --seed) and writes OUT/importance.npy, misfit.npy, atypical.npy, the
//        views' losses ridge.npy, held_out.npy, neighbour.npy (float64, n) and suggested.npy
//        (int64, n); the JSON line carries the fusion weights.
//     2. Unless --no-cv: 5-fold out-of-fold class probabilities of coreclean's multinomial
//        LogisticRegression (C = --cv-c, tol = --cv-tol, folds from stratified_kfold(y, 5,
//        seed)), one model per fold kept for step 3 — the same computation as
//        cross_val_predict_proba (--check-cvp also runs that and reports the largest
//        difference); writes OUT/cv_self_conf.npy = 1 − p̂_oof(y_i) and OUT/cv_proba.npy (the
//        out-of-fold probabilities, n × K, classes ascending).
//     3. Unless --iterations 0 (rankings only): review simulation of class C with a total
//        budget of B samples over --iterations iterations of ⌈B / iterations⌉ samples (the
//        last ones smaller when the budget runs out); a simulated reviewer sets every reviewed
//        sample whose true label is A back to A:
//        * "coreclean": important_samples({C: count m}, mark_seen) on the built tree, fixes by
//          update_targets + refresh() between iterations (what `coreclean update` does by
//          default: the exact incremental update, then the cross-fitted models refitted on the
//          corrected labels), never rebuilt;
//        * "coreclean_lazy": the same with update_targets only (`update --no-refresh`; the
//          cross-fitted part of the scores stays stale);
//        * "coreclean_learning": as "coreclean", and every reviewed sample's verdict (its label,
//          fixed or kept, is right) recorded after each iteration (record_verdicts: the fusion
//          learns its weights from the reviewer);
//        * "cv_self_confidence" (unless --no-cv): per iteration, the five fold models are refit
//          on the corrected labels (warm-started from the previous iteration: the same optimum,
//          LogisticRegressionParams.warm_start), the top m unseen samples currently labelled C
//          by 1 − p̂_oof(label) are reviewed. Iteration 1 uses step 2's (cold) fit.
//        Random review is simulated by the driver.
//
//   coreclean_bench_coreset speed DIR OUT [--class C] [--top 60] [--edits 60] [--rounds 10]
//                                  [--seed 0] [--query-repeats 5] [--threads 0] [--build-only]
//     DIR/X.npy (float32), DIR/y.npy. X is read into memory (not memory-mapped, no copy) so that
//     rss_after_load_mb is the data's share of the peak. Unless --build-only, writes the built
//     tree's OUT/importance.npy, misfit.npy and atypical.npy.
//     Times build (with the stage split from Context.progress), the query important_samples of
//     --top samples of class C (first call and median of --query-repeats, mark_seen off), and,
//     unless --build-only, the drift experiment, twice:
//       "random": --rounds rounds of --edits update_targets edits, each a random sample moved to
//                 another class (uniform over the others), drawn over the whole data;
//       "one_leaf": the same, but each round's edits lie in one random leaf (a different
//                 locality of the edits, for context).
//     After the rounds it writes OUT/<variant>_lazy.npy (importances as left by the lazy
//     updates), OUT/<variant>_fresh.npy (a fresh build over the same X and current labels, same
//     seed), OUT/<variant>_refreshed.npy (the lazy tree after refresh()) and
//     OUT/<variant>_labels.npy, and reports the top-`top` overlap of class C's ranking; every
//     update_targets call is timed (median reported). The misfit ridge a build chose is not
//     exposed, so it is identified (the candidate whose single-candidate build reproduces the
//     importances up to round-off), and OUT/<variant>_fresh_fixed_ridge.npy is a fresh build
//     restricted to the original build's ridge (which the updates keep): lazy vs that isolates
//     the stale scores; that vs fresh isolates the ridge re-selection of a build / refresh().
//
// Times are steady_clock wall seconds. peak_rss_mb is VmHWM from /proc/self/status (this
// process only, data included).

#include <coreclean/core/blas.h>
#include <coreclean/core/context.h>
#include <coreclean/core/types.h>
#include <coreclean/coreset/coreset_tree.h>
#include <coreclean/io/npy.h>
#include <coreclean/linear/logistic_regression.h>
#include <coreclean/linear/metrics.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace cs = coreclean::coreset;
namespace cl = coreclean::linear;
using coreclean::Label;
using coreclean::Labels;
using coreclean::SampleId;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// A field of /proc/self/status in MiB (VmHWM, VmRSS); -1 when unavailable.
double status_mb(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind(field + ":", 0) == 0) return std::stod(line.substr(field.size() + 1)) / 1024.0;
  return -1.0;
}

std::string fmt_double(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

double median(std::vector<double> v) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

[[noreturn]] void usage_error(const std::string& message) {
  throw std::invalid_argument(
      message +
      "\nusage: coreclean_bench_coreset effect DIR OUT --target C --source A --budget B"
      " [--iterations 10] [--seed 0] [--folds 5] [--cv-c 1] [--cv-tol 1e-3] [--threads 0]"
      " [--no-cv] [--check-cvp] [--tree-cross-fit-c C]\n"
      "       coreclean_bench_coreset speed DIR OUT [--class C] [--top 60] [--edits 60]"
      " [--rounds 10] [--seed 0] [--query-repeats 5] [--threads 0] [--build-only]");
}

// "--name value" pairs and "--flag"s after the positional arguments; unknown names are refused.
std::map<std::string, std::string> parse_options(int argc, char** argv, int first,
                                                 const std::vector<std::string>& known,
                                                 const std::vector<std::string>& flags) {
  std::map<std::string, std::string> options;
  for (int i = first; i < argc; ++i) {
    const std::string name = argv[i];
    if (name.rfind("--", 0) != 0) usage_error("unexpected argument '" + name + "'");
    const std::string key = name.substr(2);
    if (std::find(flags.begin(), flags.end(), key) != flags.end()) {
      options.insert_or_assign(key, std::string(1, '1'));
      continue;
    }
    if (std::find(known.begin(), known.end(), key) == known.end())
      usage_error("unknown option '" + name + "'");
    if (i + 1 >= argc) usage_error("option '" + name + "' needs a value");
    options[key] = argv[++i];
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

long long require_int(const std::map<std::string, std::string>& o, const std::string& key) {
  auto it = o.find(key);
  if (it == o.end()) usage_error("missing --" + key);
  return std::stoll(it->second);
}

// Reads X.npy into owned memory (not memory-mapped, so that the resident size after loading is
// the data's), viewed without a further copy.
coreclean::io::SampleMatrix load_x(const fs::path& path) {
  coreclean::io::NpyReadOptions options;
  options.mmap_threshold = std::numeric_limits<std::int64_t>::max();
  const coreclean::io::NpyArray a = coreclean::io::read_npy(path, options);
  if (a.dtype() != coreclean::io::DType::kFloat32)
    throw std::invalid_argument(path.string() + " must be float32");
  return coreclean::io::to_sample_matrix(a, path.filename().string());
}

Labels load_labels(const fs::path& path) {
  return coreclean::io::to_labels(coreclean::io::read_npy(path), path.filename().string());
}

void write_doubles(const fs::path& path, const std::vector<double>& v) {
  const std::array<std::int64_t, 1> shape{static_cast<std::int64_t>(v.size())};
  coreclean::io::write_npy(path, coreclean::io::DType::kFloat64, shape, v.data());
}

void write_ints(const fs::path& path, const std::vector<std::int64_t>& v) {
  coreclean::io::write_npy(path, std::span<const std::int64_t>(v));
}

std::vector<double> importances(const cs::CoresetTree& tree) {
  std::vector<double> out;
  for (const cs::SampleScore& s : tree.scores()) out.push_back(s.importance);
  return out;
}

// The build, timed, with the stages reported through Context.progress.
struct TimedBuild {
  double seconds = 0.0;
  json stages = json::array();
};

TimedBuild timed_build(cs::CoresetTree& tree, coreclean::MatrixRef x, const Labels& y,
                       coreclean::Context context) {
  TimedBuild out;
  const Clock::time_point start = Clock::now();
  context.progress = [&](std::int64_t done, std::int64_t total, std::string_view what) {
    out.stages.push_back({{"t", seconds_since(start)}, {"done", done}, {"total", total},
                          {"what", std::string(what)}});
  };
  tree.build(x, y, {}, {}, context);
  out.seconds = seconds_since(start);
  return out;
}

// ---- effect ---------------------------------------------------------------------------------

struct ReviewIteration {
  std::vector<SampleId> reviewed;
  int errors_found = 0;
  double select_seconds = 0.0;
  double update_seconds = 0.0;
  cs::UpdateReport report;
};

json to_json(const std::vector<ReviewIteration>& its) {
  json out = json::array();
  for (const auto& it : its)
    out.push_back({{"reviewed", it.reviewed},
                   {"errors_found", it.errors_found},
                   {"select_seconds", it.select_seconds},
                   {"update_seconds", it.update_seconds},
                   {"samples_changed", it.report.samples_changed},
                   {"nodes_touched", it.report.nodes_touched},
                   {"samples_rescored", it.report.samples_rescored}});
  return out;
}

std::vector<Eigen::Index> batch_sizes(Eigen::Index budget, int iterations) {
  const Eigen::Index per = (budget + iterations - 1) / iterations;
  std::vector<Eigen::Index> sizes;
  Eigen::Index left = budget;
  for (int t = 0; t < iterations; ++t) {
    sizes.push_back(std::min(per, left));
    left -= sizes.back();
  }
  return sizes;
}

// The tree's review: query class C, fix the true errors with update_targets, repeat.
std::vector<ReviewIteration> review_tree(cs::CoresetTree tree, const Labels& y_true, Label target,
                                         Label source, const std::vector<Eigen::Index>& sizes,
                                         bool refresh_each, bool learn = false) {
  std::vector<ReviewIteration> out;
  for (Eigen::Index m : sizes) {
    ReviewIteration it;
    if (m > 0) {
      cs::ImportantSamplesQuery q;
      q.class_size[target] = {cs::ClassQuota::Kind::kCount, m};
      q.ignore_seen = true;
      q.mark_seen = true;
      Clock::time_point t0 = Clock::now();
      const cs::ImportantSamples got = tree.important_samples(q);
      it.select_seconds = seconds_since(t0);
      it.reviewed = got.ids;
      std::vector<SampleId> fix_ids;
      std::vector<Label> fix_labels;
      for (SampleId id : got.ids)  // ids are row indices (built with default ids)
        if (y_true[static_cast<std::size_t>(id)] == source) {
          fix_ids.push_back(id);
          fix_labels.push_back(source);
        }
      it.errors_found = static_cast<int>(fix_ids.size());
      t0 = Clock::now();
      if (!fix_ids.empty()) it.report = tree.update_targets(fix_ids, fix_labels);
      if (refresh_each) tree.refresh();
      if (learn) {
        // Every reviewed label is now right: the fixed ones were set to the truth, the others
        // were kept (their true label is the target's).
        const std::vector<cs::Verdict> right(got.ids.size(), cs::Verdict::kLabelRight);
        tree.record_verdicts(got.ids, right);
      }
      it.update_seconds = seconds_since(t0);
    }
    out.push_back(std::move(it));
  }
  return out;
}

// Five persistent fold models (warm-started after the first fit) giving out-of-fold p̂.
class FoldModels {
 public:
  FoldModels(const coreclean::RowMatrixXf& x, std::vector<int> folds, cl::LogisticRegressionParams p)
      : folds_(std::move(folds)) {
    k_ = *std::max_element(folds_.begin(), folds_.end()) + 1;
    p.warm_start = true;
    for (int f = 0; f < k_; ++f) {
      models_.emplace_back(p);
      std::vector<Eigen::Index> train, test;
      for (std::size_t i = 0; i < folds_.size(); ++i)
        (folds_[i] == f ? test : train).push_back(static_cast<Eigen::Index>(i));
      coreclean::RowMatrixXf xtr(train.size(), x.cols()), xte(test.size(), x.cols());
      for (std::size_t r = 0; r < train.size(); ++r) xtr.row(r) = x.row(train[r]);
      for (std::size_t r = 0; r < test.size(); ++r) xte.row(r) = x.row(test[r]);
      train_.push_back(std::move(train));
      test_.push_back(std::move(test));
      xtr_.push_back(std::move(xtr));
      xte_.push_back(std::move(xte));
    }
  }

  /// The out-of-fold probabilities of the last self_confidence_loss() (n × K, classes order).
  coreclean::RowMatrixXd proba;

  // 1 − p̂_oof(y_i) for every sample, after (re)fitting every fold model on labels y.
  std::vector<double> self_confidence_loss(const Labels& y, json& fit_log) {
    std::vector<double> out(y.size(), 1.0);
    for (int f = 0; f < k_; ++f) {
      Labels ytr(train_[f].size());
      for (std::size_t r = 0; r < ytr.size(); ++r) ytr[r] = y[train_[f][r]];
      const cl::FitReport rep = models_[f].fit(xtr_[f], ytr);
      fit_log.push_back({{"fold", f}, {"iterations", rep.iterations},
                         {"converged", rep.converged}});
      const coreclean::RowMatrixXd p = models_[f].predict_proba(xte_[f]);
      const Labels& cls = models_[f].classes();
      if (f == 0) proba.setZero(static_cast<Eigen::Index>(y.size()), p.cols());
      for (std::size_t r = 0; r < test_[f].size(); ++r) {
        const Eigen::Index i = test_[f][r];
        if (p.cols() == proba.cols()) proba.row(i) = p.row(static_cast<Eigen::Index>(r));
        const auto at = std::lower_bound(cls.begin(), cls.end(), y[i]);
        const double pi = (at != cls.end() && *at == y[i]) ? p(static_cast<Eigen::Index>(r), at - cls.begin()) : 0.0;
        out[i] = 1.0 - pi;
      }
    }
    return out;
  }

 private:
  std::vector<int> folds_;
  int k_ = 0;
  std::vector<cl::LogisticRegression> models_;
  std::vector<std::vector<Eigen::Index>> train_, test_;
  std::vector<coreclean::RowMatrixXf> xtr_, xte_;
};

// Review by CV self-confidence; `first_loss` is the models' current (iteration-1) score.
std::vector<ReviewIteration> review_cv(FoldModels& models, std::vector<double> first_loss,
                                       const Labels& y_noisy, const Labels& y_true, Label target,
                                       Label source, const std::vector<Eigen::Index>& sizes,
                                       json& fit_log) {
  Labels y = y_noisy;
  std::vector<std::uint8_t> seen(y.size(), 0);
  std::vector<ReviewIteration> out;
  bool first = true;
  for (Eigen::Index m : sizes) {
    ReviewIteration it;
    if (m > 0) {
      const Clock::time_point t0 = Clock::now();
      std::vector<double> loss;
      if (first) {
        loss = std::move(first_loss);
      } else {
        json log = json::array();
        loss = models.self_confidence_loss(y, log);
        fit_log.push_back(log);
      }
      first = false;
      std::vector<Eigen::Index> cand;
      for (std::size_t i = 0; i < y.size(); ++i)
        if (y[i] == target && !seen[i]) cand.push_back(static_cast<Eigen::Index>(i));
      std::stable_sort(cand.begin(), cand.end(),
                       [&](Eigen::Index a, Eigen::Index b) { return loss[a] > loss[b]; });
      cand.resize(std::min<std::size_t>(cand.size(), static_cast<std::size_t>(m)));
      it.select_seconds = seconds_since(t0);
      for (Eigen::Index i : cand) {
        seen[i] = 1;
        it.reviewed.push_back(i);
        if (y_true[i] == source) {
          y[i] = source;
          ++it.errors_found;
        }
      }
    }
    out.push_back(std::move(it));
  }
  return out;
}

int run_effect(const fs::path& dir, const fs::path& out_dir,
               const std::map<std::string, std::string>& o) {
  const Label target = require_int(o, "target");
  const Label source = require_int(o, "source");
  const Eigen::Index budget = require_int(o, "budget");
  const int iterations = static_cast<int>(get_int(o, "iterations", 10));
  const std::uint64_t seed = static_cast<std::uint64_t>(get_int(o, "seed", 0));
  const int n_folds = static_cast<int>(get_int(o, "folds", 5));
  const bool with_cv = o.count("no-cv") == 0;
  fs::create_directories(out_dir);

  const coreclean::RowMatrixXf x = load_x(dir / "X.npy").view();
  const Labels y = load_labels(dir / "y.npy");
  const Labels y_true = load_labels(dir / "y_true.npy");
  if (static_cast<Eigen::Index>(y.size()) != x.rows() || y_true.size() != y.size())
    throw std::invalid_argument("X, y and y_true disagree in length");

  coreclean::Context context;
  context.seed = seed;
  context.threads = static_cast<int>(get_int(o, "threads", 0));
  std::vector<std::string> warnings;
  context.logger = [&](coreclean::LogLevel level, std::string_view message) {
    if (level == coreclean::LogLevel::kWarning && warnings.size() < 20) warnings.emplace_back(message);
  };

  json j;
  j["task"] = "effect";
  j["rows"] = x.rows();
  j["cols"] = x.cols();
  j["target"] = target;
  j["source"] = source;
  j["budget"] = budget;

  cs::CoresetTreeParams params;  // default parameters, but for --tree-cross-fit-c
  params.cross_fit_c = get_double(o, "tree-cross-fit-c", params.cross_fit_c);
  j["tree_cross_fit_c"] = params.cross_fit_c;
  cs::CoresetTree tree(params);
  const TimedBuild b = timed_build(tree, x, y, context);
  j["build_seconds"] = b.seconds;
  j["feature_dim"] = tree.feature_dim();
  j["chunk_size"] = tree.chunk_size();
  j["num_leaves"] = tree.num_leaves();
  {
    std::vector<double> imp, mis, aty, ridge, held_out, neighbour;
    std::vector<std::int64_t> sug;
    for (const cs::SampleScore& s : tree.scores()) {
      imp.push_back(s.importance);
      mis.push_back(s.misfit);
      aty.push_back(s.atypical);
      sug.push_back(s.suggested_label);
      ridge.push_back(s.ridge);
      held_out.push_back(s.held_out);
      neighbour.push_back(s.neighbour);
    }
    write_doubles(out_dir / "importance.npy", imp);
    write_doubles(out_dir / "misfit.npy", mis);
    write_doubles(out_dir / "atypical.npy", aty);
    write_ints(out_dir / "suggested.npy", sug);
    write_doubles(out_dir / "ridge.npy", ridge);
    write_doubles(out_dir / "held_out.npy", held_out);
    write_doubles(out_dir / "neighbour.npy", neighbour);
    const cs::FusionWeights fw = tree.fusion_weights();
    j["fusion_weights"] = {{"ridge", fw.ridge}, {"held_out", fw.held_out}, {"neighbour", fw.neighbour}};
  }

  // --iterations 0: rankings only, no review simulation.
  const std::vector<Eigen::Index> sizes =
      iterations > 0 ? batch_sizes(budget, iterations) : std::vector<Eigen::Index>();
  j["batch_sizes"] = sizes;
  for (const bool refresh : {true, false}) {
    if (sizes.empty()) break;
    const std::string key = refresh ? "review_coreclean" : "review_coreclean_lazy";
    const Clock::time_point t0 = Clock::now();
    j[key] = to_json(review_tree(tree, y_true, target, source, sizes, refresh));
    j[key + "_seconds"] = seconds_since(t0);
  }
  if (!sizes.empty()) {
    // The fusion that learns from the reviewer: verdicts recorded after every iteration.
    const Clock::time_point t0 = Clock::now();
    j["review_coreclean_learning"] = to_json(review_tree(tree, y_true, target, source, sizes, true, true));
    j["review_coreclean_learning_seconds"] = seconds_since(t0);
  }

  if (with_cv) {
    cl::LogisticRegressionParams p;
    p.c = get_double(o, "cv-c", 1.0);
    p.tol = get_double(o, "cv-tol", 1e-3);
    p.max_iter = 1000;
    p.multi_class = cl::MultiClass::kMultinomial;
    j["cv_c"] = p.c;
    j["cv_tol"] = p.tol;
    const std::vector<int> folds = cl::stratified_kfold(y, n_folds, seed);
    // Static score: the five fold models' first (cold) fit, i.e. what cross_val_predict_proba
    // computes with these folds and parameters (checked with --check-cvp).
    Clock::time_point t0 = Clock::now();
    FoldModels models(x, folds, p);
    json fit_log = json::array();
    json first_log = json::array();
    const std::vector<double> conf = models.self_confidence_loss(y, first_log);
    fit_log.push_back(first_log);
    j["cv_seconds"] = seconds_since(t0);
    write_doubles(out_dir / "cv_self_conf.npy", conf);
    {
      const std::array<std::int64_t, 2> shape{models.proba.rows(), models.proba.cols()};
      coreclean::io::write_npy(out_dir / "cv_proba.npy", coreclean::io::DType::kFloat64, shape,
                               models.proba.data());
    }
    if (o.count("check-cvp")) {
      t0 = Clock::now();
      const coreclean::RowMatrixXd proba = cl::cross_val_predict_proba(p, x, y, folds, {}, context);
      j["cvp_seconds"] = seconds_since(t0);
      Labels classes = y;
      std::sort(classes.begin(), classes.end());
      classes.erase(std::unique(classes.begin(), classes.end()), classes.end());
      double diff = 0.0;
      for (std::size_t i = 0; i < y.size(); ++i) {
        const double c = 1.0 - proba(static_cast<Eigen::Index>(i),
                                     std::lower_bound(classes.begin(), classes.end(), y[i]) - classes.begin());
        diff = std::max(diff, std::abs(c - conf[i]));
      }
      j["cvp_max_abs_diff"] = diff;
    }
    if (sizes.empty()) {
      j["warnings"] = warnings;
      j["peak_rss_mb"] = status_mb("VmHWM");
      std::cout << j.dump() << std::endl;
      return 0;
    }
    t0 = Clock::now();
    j["review_cv"] = to_json(review_cv(models, conf, y, y_true, target, source, sizes, fit_log));
    j["review_cv_seconds"] = seconds_since(t0);
    j["review_cv_fits"] = fit_log;
  }
  j["warnings"] = warnings;
  j["peak_rss_mb"] = status_mb("VmHWM");
  std::cout << j.dump() << std::endl;
  return 0;
}

// ---- speed ----------------------------------------------------------------------------------

// The misfit ridge a default build chose (the API does not expose it): the candidate whose
// single-candidate build reproduces `reference` up to round-off; -1 when none does.
double identify_ridge(coreclean::MatrixRef x, const Labels& y, const std::vector<double>& reference,
                      const coreclean::Context& context, json& diffs) {
  double ridge = -1.0, best = std::numeric_limits<double>::infinity();
  diffs = json::object();
  for (double r : cs::CoresetTreeParams{}.misfit_ridges) {
    cs::CoresetTreeParams one;
    one.misfit_ridges = {r};
    cs::CoresetTree t(one);
    t.build(x, y, {}, {}, context);
    const std::vector<double> imp = importances(t);
    double diff = 0.0;
    for (std::size_t i = 0; i < imp.size(); ++i) diff = std::max(diff, std::abs(imp[i] - reference[i]));
    diffs[fmt_double(r)] = diff;
    if (diff < best) {
      best = diff;
      ridge = r;
    }
  }
  return best <= 1e-9 ? ridge : -1.0;
}

// Top `top` of class `label` (unseen or not), as the query returns them.
std::vector<SampleId> top_of_class(cs::CoresetTree& tree, Label label, Eigen::Index top) {
  cs::ImportantSamplesQuery q;
  q.class_size[label] = {cs::ClassQuota::Kind::kCount, top};
  q.ignore_seen = false;
  q.mark_seen = false;
  return tree.important_samples(q).ids;
}

double overlap(const std::vector<SampleId>& a, const std::vector<SampleId>& b) {
  if (a.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::set<SampleId> sa(a.begin(), a.end());
  int common = 0;
  for (SampleId id : b) common += sa.count(id) ? 1 : 0;
  return static_cast<double>(common) / static_cast<double>(a.size());
}

json drift(const std::string& variant, const cs::CoresetTree& built_tree, coreclean::MatrixRef x,
           const Labels& y0, Label cls, Eigen::Index top, int rounds, Eigen::Index edits,
           const coreclean::Context& context, const fs::path& out_dir, double build_ridge) {
  cs::CoresetTree tree = built_tree;
  Labels y = y0;
  const Labels& classes = tree.classes();
  const Eigen::Index n = x.rows();
  std::mt19937_64 rng(context.seed * 1000003ULL + (variant == "random" ? 11 : 23));
  std::vector<double> update_seconds;
  json reports = json::array();
  for (int r = 0; r < rounds; ++r) {
    std::vector<Eigen::Index> pool;
    if (variant == "random") {
      pool.resize(static_cast<std::size_t>(n));
      for (Eigen::Index i = 0; i < n; ++i) pool[static_cast<std::size_t>(i)] = i;
    } else {  // one_leaf: samples of one random leaf
      const Eigen::Index leaf = std::uniform_int_distribution<Eigen::Index>(0, tree.num_leaves() - 1)(rng);
      for (Eigen::Index i = leaf * tree.chunk_size(); i < std::min(n, (leaf + 1) * tree.chunk_size()); ++i)
        pool.push_back(i);
    }
    std::shuffle(pool.begin(), pool.end(), rng);
    pool.resize(std::min<std::size_t>(pool.size(), static_cast<std::size_t>(edits)));
    std::vector<SampleId> ids;
    std::vector<Label> labels;
    for (Eigen::Index i : pool) {
      // Another class, uniformly.
      const auto cur = std::lower_bound(classes.begin(), classes.end(), y[i]) - classes.begin();
      auto pick = std::uniform_int_distribution<std::ptrdiff_t>(0, static_cast<std::ptrdiff_t>(classes.size()) - 2)(rng);
      if (pick >= cur) ++pick;
      y[i] = classes[static_cast<std::size_t>(pick)];
      ids.push_back(i);
      labels.push_back(y[i]);
    }
    const Clock::time_point t0 = Clock::now();
    const cs::UpdateReport rep = tree.update_targets(ids, labels);
    update_seconds.push_back(seconds_since(t0));
    reports.push_back({{"samples_changed", rep.samples_changed},
                       {"nodes_touched", rep.nodes_touched},
                       {"samples_rescored", rep.samples_rescored}});
  }
  json j;
  j["variant"] = variant;
  j["rounds"] = rounds;
  j["edits"] = edits;
  j["update_seconds"] = update_seconds;
  j["update_seconds_median"] = median(update_seconds);
  j["update_reports"] = reports;
  j["stale_updates"] = tree.stale_updates();
  const std::vector<SampleId> top_lazy = top_of_class(tree, cls, top);
  write_doubles(out_dir / (variant + "_lazy.npy"), importances(tree));
  std::vector<std::int64_t> lab(y.begin(), y.end());
  write_ints(out_dir / (variant + "_labels.npy"), lab);

  cs::CoresetTree fresh;
  const TimedBuild b = timed_build(fresh, x, y, context);
  j["fresh_build_seconds"] = b.seconds;
  const std::vector<SampleId> top_fresh = top_of_class(fresh, cls, top);
  const std::vector<double> fresh_imp = importances(fresh);
  write_doubles(out_dir / (variant + "_fresh.npy"), fresh_imp);
  if (build_ridge > 0.0) {
    // A fresh build restricted to the ridge the lazy tree was built with (its updates keep
    // it): separates stale scores from the ridge re-selection of a build / refresh().
    cs::CoresetTreeParams fixed;
    fixed.misfit_ridges = {build_ridge};
    cs::CoresetTree fresh_fixed(fixed);
    fresh_fixed.build(x, y, {}, {}, context);
    const std::vector<double> ff = importances(fresh_fixed);
    write_doubles(out_dir / (variant + "_fresh_fixed_ridge.npy"), ff);
    j["top_overlap_lazy_vs_fresh_fixed_ridge"] = overlap(top_of_class(fresh_fixed, cls, top), top_lazy);
    double diff = 0.0;
    for (std::size_t i = 0; i < ff.size(); ++i) diff = std::max(diff, std::abs(ff[i] - fresh_imp[i]));
    j["fresh_vs_fresh_fixed_ridge_max_abs_diff"] = diff;
    j["fresh_same_ridge_as_build"] = diff <= 1e-9;
    json diffs;
    j["fresh_misfit_ridge"] = identify_ridge(x, y, fresh_imp, context, diffs);
  }

  Clock::time_point t0 = Clock::now();
  tree.refresh();
  j["refresh_seconds"] = seconds_since(t0);
  const std::vector<SampleId> top_refreshed = top_of_class(tree, cls, top);
  write_doubles(out_dir / (variant + "_refreshed.npy"), importances(tree));
  j["top_overlap_lazy_vs_fresh"] = overlap(top_fresh, top_lazy);
  j["top_overlap_refreshed_vs_fresh"] = overlap(top_fresh, top_refreshed);
  j["top_lazy"] = top_lazy;
  j["top_fresh"] = top_fresh;
  return j;
}

int run_speed(const fs::path& dir, const fs::path& out_dir,
              const std::map<std::string, std::string>& o) {
  const Eigen::Index top = get_int(o, "top", 60);
  const Eigen::Index edits = get_int(o, "edits", 60);
  const int rounds = static_cast<int>(get_int(o, "rounds", 10));
  const int query_repeats = static_cast<int>(get_int(o, "query-repeats", 5));
  const bool build_only = o.count("build-only") != 0;
  fs::create_directories(out_dir);

  coreclean::Context context;
  context.seed = static_cast<std::uint64_t>(get_int(o, "seed", 0));
  context.threads = static_cast<int>(get_int(o, "threads", 0));

  Clock::time_point t0 = Clock::now();
  const coreclean::io::SampleMatrix xs = load_x(dir / "X.npy");
  const Eigen::Map<const coreclean::RowMatrixXf> x = xs.view();
  const Labels y = load_labels(dir / "y.npy");
  if (static_cast<Eigen::Index>(y.size()) != x.rows())
    throw std::invalid_argument("X and y disagree in length");
  json j;
  j["task"] = "speed";
  j["load_seconds"] = seconds_since(t0);
  j["rows"] = x.rows();
  j["cols"] = x.cols();
  j["threads"] = context.thread_count();
  j["seed"] = context.seed;
  j["rss_after_load_mb"] = status_mb("VmRSS");
  j["data_mb"] = static_cast<double>(x.size()) * 4.0 / (1024.0 * 1024.0);

  cs::CoresetTree tree;
  const TimedBuild b = timed_build(tree, x, y, context);
  j["build_seconds"] = b.seconds;
  j["build_stages"] = b.stages;
  j["peak_rss_mb"] = status_mb("VmHWM");
  j["rss_after_build_mb"] = status_mb("VmRSS");
  j["classes"] = tree.classes().size();
  j["feature_dim"] = tree.feature_dim();
  j["chunk_size"] = tree.chunk_size();
  j["num_leaves"] = tree.num_leaves();
  j["num_nodes"] = tree.num_nodes();

  const Label cls = get_int(o, "class", tree.classes().front());
  std::vector<double> query_seconds;
  std::vector<SampleId> top_ids;
  for (int r = 0; r < std::max(1, query_repeats); ++r) {
    t0 = Clock::now();
    top_ids = top_of_class(tree, cls, top);
    query_seconds.push_back(seconds_since(t0));
  }
  j["class"] = cls;
  j["query_top"] = top;
  j["query_returned"] = top_ids.size();
  j["query_first_seconds"] = query_seconds.front();
  j["query_median_seconds"] = median(query_seconds);

  if (!build_only) {
    std::vector<double> imp, mis, aty;
    for (const cs::SampleScore& s : tree.scores()) {
      imp.push_back(s.importance);
      mis.push_back(s.misfit);
      aty.push_back(s.atypical);
    }
    write_doubles(out_dir / "importance.npy", imp);
    write_doubles(out_dir / "misfit.npy", mis);
    write_doubles(out_dir / "atypical.npy", aty);
    json ridge_diffs;
    const double build_ridge = identify_ridge(x, y, imp, context, ridge_diffs);
    j["build_misfit_ridge"] = build_ridge;
    j["ridge_candidates_max_abs_diff"] = ridge_diffs;
    j["drift"] = json::array();
    for (const std::string variant : {"random", "one_leaf"})
      j["drift"].push_back(
          drift(variant, tree, x, y, cls, top, rounds, edits, context, out_dir, build_ridge));
  }
  j["peak_rss_mb_end"] = status_mb("VmHWM");
  std::cout << j.dump() << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // As the CLI: the library's loops are parallel, BLAS runs in the calling thread.
  coreclean::use_single_threaded_blas_unless_configured();
  try {
    if (argc < 4) usage_error("need a task (effect or speed), a data folder and an output folder");
    const std::string task = argv[1];
    const fs::path dir = argv[2];
    const fs::path out = argv[3];
    if (task == "effect")
      return run_effect(dir, out,
                        parse_options(argc, argv, 4,
                                      {"target", "source", "budget", "iterations", "seed", "folds",
                                       "cv-c", "cv-tol", "threads", "tree-cross-fit-c"},
                                      {"no-cv", "check-cvp"}));
    if (task == "speed")
      return run_speed(dir, out,
                       parse_options(argc, argv, 4,
                                     {"class", "top", "edits", "rounds", "seed", "query-repeats",
                                      "threads"},
                                     {"build-only"}));
    usage_error("unknown task '" + task + "'");
  } catch (const std::exception& e) {
    std::cerr << "coreclean_bench_coreset: " << e.what() << "\n";
    return 2;
  }
}
