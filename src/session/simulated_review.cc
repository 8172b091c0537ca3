#include <coreclean/session/simulated_review.h>

#include <coreclean/core/error.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <random>
#include <sstream>

#include "core/check.h"

namespace coreclean::session {
namespace {

// Adds what a batch fixed to a running count.
void add(FoundErrors& total, const FoundErrors& found) {
  total.label_errors += found.label_errors;
  total.box_errors += found.box_errors;
}

}  // namespace

ErrorTruth read_error_truth(const std::filesystem::path& truth_json) {
  std::ifstream in(truth_json, std::ios::binary);
  if (!in) throw IoError(fmt::format("{}: cannot read", truth_json.string()));
  std::ostringstream text;
  text << in.rdbuf();
  const std::string name = truth_json.string();
  nlohmann::json root;
  try {
    root = nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(fmt::format("{}: not JSON ({})", name, e.what()));
  }
  CORECLEAN_THROW_IF_NOT_AS(FormatError,
                            root.is_object() && root.contains("errors") && root["errors"].is_object(),
                            "{}: no \"errors\" object (is it the truth.json of `coreclean make-demo`?)",
                            name);
  ErrorTruth truth;
  for (const auto& item : root["errors"].items()) {
    // References, not a structured binding: clang 14 does not let a lambda capture those.
    const std::string& key = item.key();
    const nlohmann::json& entry = item.value();
    SampleId id = 0;
    const auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), id);
    CORECLEAN_THROW_IF_NOT_AS(FormatError, ec == std::errc() && end == key.data() + key.size(),
                              "{}: errors: key '{}' is not an annotation id", name, key);
    const auto member = [&](const char* field) -> const nlohmann::json& {
      CORECLEAN_THROW_IF_NOT_AS(FormatError, entry.is_object() && entry.contains(field),
                                "{}: errors[\"{}\"] has no \"{}\"", name, key, field);
      return entry[field];
    };
    const nlohmann::json& fix = member("fix");
    const nlohmann::json& label = member("category_id");
    const nlohmann::json& true_label = member("true_category_id");
    CORECLEAN_THROW_IF_NOT_AS(FormatError,
                              fix.is_string() && (fix == "relabel" || fix == "delete"),
                              "{}: errors[\"{}\"].fix is {}, not \"relabel\" or \"delete\"", name,
                              key, fix.dump());
    CORECLEAN_THROW_IF_NOT_AS(FormatError,
                              label.is_number_integer() && true_label.is_number_integer(),
                              "{}: errors[\"{}\"]: category_id {} and true_category_id {} must be "
                              "integers",
                              name, key, label.dump(), true_label.dump());
    truth[id] = {fix == "relabel" ? DecisionKind::kRelabel : DecisionKind::kDelete,
                 label.get<Label>(), true_label.get<Label>()};
  }
  return truth;
}

std::int64_t count_label_errors(const ErrorTruth& truth, Label label) {
  return std::count_if(truth.begin(), truth.end(), [&](const auto& entry) {
    return entry.second.fix == DecisionKind::kRelabel && entry.second.label == label;
  });
}

Decision simulated_decision(const ErrorTruth& truth, SampleId id, std::span<const Label> classes,
                            const std::string& reviewer) {
  const auto t = truth.find(id);
  if (t == truth.end()) return {id, DecisionKind::kKeep, 0, reviewer};
  const KnownError& e = t->second;
  // A true class outside the session's classes cannot be relabelled to: the box is deleted from
  // this class's data (it shows an object of no class of the label set).
  if (e.fix == DecisionKind::kRelabel &&
      std::binary_search(classes.begin(), classes.end(), e.true_label))
    return {id, DecisionKind::kRelabel, e.true_label, reviewer};
  return {id, DecisionKind::kDelete, 0, reviewer};
}

FoundErrors answer_from_truth(Session& session, const Batch& batch, const ErrorTruth& truth,
                              const std::string& reviewer) {
  FoundErrors found;
  for (const BatchItem& item : batch.items) {
    const auto t = truth.find(item.id);
    if (t == truth.end()) continue;  // right: left undecided, kept by the apply
    session.record_decision(simulated_decision(truth, item.id, session.classes(), reviewer));
    ++(t->second.fix == DecisionKind::kRelabel ? found.label_errors : found.box_errors);
  }
  return found;
}

RandomReviewExpectation expected_random_review(std::span<const SampleId> members,
                                               const ErrorTruth& truth,
                                               std::span<const std::int64_t> batch_sizes,
                                               std::uint64_t seed, int orders) {
  CORECLEAN_THROW_IF_NOT(orders >= 1, "random review: orders = {} (must be >= 1)", orders);
  for (std::size_t b = 0; b < batch_sizes.size(); ++b)
    CORECLEAN_THROW_IF_NOT(batch_sizes[b] >= 0, "random review: batch {} has size {}", b,
                           batch_sizes[b]);
  std::vector<SampleId> order(members.begin(), members.end());
  RandomReviewExpectation r;
  r.cumulative_found.assign(batch_sizes.size() + 1, 0.0);
  std::mt19937_64 rng(seed ^ 0x5eedu);
  for (int o = 0; o < orders; ++o) {
    std::shuffle(order.begin(), order.end(), rng);
    std::size_t next = 0;
    std::int64_t found = 0;
    for (std::size_t b = 0; b < batch_sizes.size(); ++b) {
      for (std::int64_t i = 0; i < batch_sizes[b] && next < order.size(); ++i, ++next) {
        const auto t = truth.find(order[next]);
        if (t == truth.end()) continue;
        ++found;
        if (t->second.fix == DecisionKind::kRelabel) r.label_errors_found += 1.0;
      }
      r.cumulative_found[b + 1] += static_cast<double>(found);
    }
  }
  for (double& v : r.cumulative_found) v /= orders;
  r.label_errors_found /= orders;
  return r;
}

void SimulatedReviewOptions::validate() const {
  CORECLEAN_THROW_IF_NOT(iterations >= 1, "simulated review: iterations = {} (must be >= 1)",
                         iterations);
  CORECLEAN_THROW_IF_NOT(batch_size >= 1, "simulated review: batch_size = {} (must be >= 1)",
                         batch_size);
}

SimulatedReview run_simulated_review(Session& ranked, Session* random, const ErrorTruth& truth,
                                     const SimulatedReviewOptions& options, const Context& context,
                                     const std::function<void(Session&, const Batch&)>& on_batch,
                                     const std::function<void(const SimulatedIteration&)>& on_iteration) {
  options.validate();
  // The simulated reviewer answers every box: those it did not fix are right.
  ApplyOptions keep_rest;
  keep_rest.undecided = UndecidedPolicy::kKeep;
  SimulatedReview run;
  if (random) {
    run.random_auc.push_back(random->status().iterations.front().auc);
    run.random_fixed.push_back(0.0);
  }
  for (int it = 0; it < options.iterations; ++it) {
    const Batch b = ranked.next_batch(options.batch_size, context);
    if (b.items.empty()) break;
    if (on_batch) on_batch(ranked, b);
    SimulatedIteration step;
    step.ranked_found = answer_from_truth(ranked, b, truth, options.reviewer);
    step.ranked = ranked.apply(keep_rest, context);
    const auto size = static_cast<std::int64_t>(b.items.size());
    run.batch_sizes.push_back(size);
    add(run.ranked_found, step.ranked_found);
    if (random) {
      const Batch rb = random->next_batch(size, context, BatchSelection::kRandom);
      step.random_found = answer_from_truth(*random, rb, truth, options.reviewer);
      step.random = random->apply(keep_rest, context);
      add(run.random_found, step.random_found);
      run.random_auc.push_back(step.random.metrics.auc);
      run.random_fixed.push_back(
          run.random_fixed.back() +
          static_cast<double>(step.random_found.label_errors + step.random_found.box_errors));
    }
    if (on_iteration) on_iteration(step);
    run.iterations.push_back(std::move(step));
  }
  return run;
}

ReviewSummary summarize_review(const Session& session, const ErrorTruth& truth,
                               const Context& context) {
  const SessionStatus status = session.status();
  const Label interest = session.class_of_interest();
  ReviewSummary s;
  s.class_of_interest = session.class_name(interest);
  const std::vector<SampleId> members = session.original_members(interest);
  s.class_size = static_cast<std::int64_t>(members.size());
  s.injected_errors = count_label_errors(truth, interest);
  std::vector<std::int64_t> batch_sizes;
  for (const IterationMetrics& m : status.iterations)
    if (m.iteration > 0) batch_sizes.push_back(m.reviewed);
  for (const std::int64_t n : batch_sizes) s.budget += n;
  for (const DecisionRecord& d : session.decisions()) {
    if (!d.applied || d.kind == DecisionKind::kKeep) continue;
    const auto t = truth.find(d.id);
    if (t == truth.end()) continue;
    ++(t->second.fix == DecisionKind::kRelabel ? s.coreclean_found : s.box_errors_found);
  }
  const RandomReviewExpectation expected =
      expected_random_review(members, truth, batch_sizes, context.seed);
  s.random_expected = expected.label_errors_found;
  s.random_expected_curve = expected.cumulative_found;
  s.auc_start = status.iterations.front().auc;
  s.auc_end = status.iterations.back().auc;
  return s;
}

}  // namespace coreclean::session
