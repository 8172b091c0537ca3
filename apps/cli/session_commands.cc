#include "session_commands.h"

#include "cli_common.h"

#include <coreclean/core/error.h>
#include <coreclean/detect/coco.h>
#include <coreclean/detect/render.h>
#include <coreclean/io/csv.h>
#include <coreclean/io/npy.h>
#include <coreclean/linear/metrics.h>
#include <coreclean/session/decision_file.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace coreclean::cli {
namespace {

std::string read_text_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(fmt::format("{}: cannot read", path.string()));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

SessionCommands add_session_commands(CLI::App& app, SessionCommandOptions& o) {
  SessionCommands c;
  c.init = app.add_subcommand(
      "init",
      "Create a cleaning session folder: its database records every label, decision and "
      "iteration, so the loop survives restarts. Picks the class to clean (--class auto: the "
      "class a classifier confuses most), builds the coreset tree and records the starting AUC.");
  c.init->add_option("session", o.session, "Session folder to create (must not exist)")->required();
  c.init->add_option("--features", o.features, "Features directory (from `coreclean embed`)")
      ->required();
  c.init->add_option("--coco", o.coco, "The COCO file the features were made from (renderings, "
                                       "corrected COCO export)");
  c.init->add_option("--images", o.images, "Images directory of the COCO file");
  c.init->add_option("--class", o.class_of_interest,
                     "Class to clean: a name or id, or 'auto'")->capture_default_str();
  c.init->add_option("--classes", o.classes,
                     "Keep only these classes (names or ids, comma-separated), e.g. the class to "
                     "clean and the one it is confused with")
      ->delimiter(',');
  c.init->add_option("--guidelines", o.guidelines,
                     "Markdown file with the labelling rules (what counts as each class); shown "
                     "with every batch");

  c.next = app.add_subcommand(
      "next", "Export the next batch to review: the most important unseen boxes of the class of "
              "interest, as SESSION/batches/NNN/review.csv (+ three renderings per box when the "
              "session has images). While a batch is open, next shows that batch again and "
              "never rewrites its files (your edits of review.csv are safe).");
  c.next->add_option("session", o.session, "Session folder")->required();
  c.next->add_option("-n,--size", o.batch_size, "Boxes per batch")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  c.next->add_flag("--random", o.random,
                   "An audit batch: a uniform random sample of the unseen boxes of the class "
                   "instead of the most important ones. The share of them you fix estimates how "
                   "many wrong labels are left (shown by status, with a 95 % interval).");
  c.next->add_flag("--findings", o.findings,
                   "A batch of the boxes the model-free box checks flagged when the session was "
                   "created (degenerate boxes, duplicates — both boxes of a pair —, boxes "
                   "outside the image, tiny or extreme boxes), in any class of the session; "
                   "review.csv suggests delete where the box should go. Both boxes of a "
                   "duplicate pair come together, so a batch may hold one box more than --size.")
      ->excludes("--random");

  c.apply = app.add_subcommand(
      "apply", "Apply the open batch's decisions: those recorded by the review page and the rows "
               "of the batch's review.csv (or of the CSV given; decision: keep, relabel with "
               "new_label, or delete; a CSV row replaces the page's). Every row is checked "
               "first. A batch with undecided boxes is not applied unless --undecided says what "
               "they mean. Updates the tree incrementally and records the iteration's "
               "cross-validated AUC. Idempotent.");
  c.apply->add_option("session", o.session, "Session folder")->required();
  c.apply->add_option("review_csv", o.review_csv,
                      "Filled-in review CSV (default: the open batch's own review.csv, when it "
                      "holds decisions)");
  c.apply->add_option("--undecided", o.undecided,
                      "What boxes without a decision mean: keep (their labels are right) or "
                      "return (back to the unseen boxes; a later batch may offer them again). "
                      "Without it, a batch with undecided boxes is not applied.")
      ->check(CLI::IsMember({"keep", "return"}));

  c.revise = app.add_subcommand(
      "revise", "Correct decisions of batches already applied: a CSV with columns "
                "id,decision,new_label[,reviewer] (the same words as review.csv). Each change is "
                "stored as a revision (old → new, who, when); labels, the tree and the counts "
                "follow.");
  c.revise->add_option("session", o.session, "Session folder")->required();
  c.revise->add_option("csv", o.review_csv, "Decisions to revise")->required();

  c.status = app.add_subcommand(
      "status", "Show the session: reviewed, fixed and deleted boxes, the AUC per iteration and "
                "whether it has plateaued (the signal to stop reviewing this class).");
  c.status->add_option("session", o.session, "Session folder")->required();
  c.status->add_flag("--json", o.json, "Print one JSON object");

  c.export_ = app.add_subcommand(
      "export", "Write the corrected labels: a COCO file with relabels and deletions applied "
                "(every other field kept as it was), or y_train with the current labels (-1 for "
                "deleted boxes).");
  c.export_->add_option("session", o.session, "Session folder")->required();
  auto* coco = c.export_->add_option("--coco-out", o.coco_out, "Corrected COCO file to write");
  auto* labels = c.export_->add_option("--labels-out", o.labels_out,
                                       "Corrected labels (.npy, int64, rows of X_train)");
  coco->excludes(labels);
  return c;
}

int run_init(const SessionCommandOptions& o, const Context& context, std::ostream& out) {
  session::SessionOptions so;
  so.features = o.features;
  so.coco = o.coco;
  so.images = o.images;
  so.class_of_interest = o.class_of_interest;
  so.classes = o.classes;
  CORECLEAN_CLI_REQUIRE(o.images.empty() || !o.coco.empty(), "--images needs --coco");
  if (!o.guidelines.empty()) so.guidelines = read_text_file(o.guidelines);
  const session::Session s = session::Session::create(o.session, so, context);
  const session::SessionStatus st = s.status();
  out << fmt::format(
      "session {}: {} samples in {} classes; cleaning '{}' ({} samples), most confused with "
      "'{}'; cross-validated AUC {:.4f}\nnext: coreclean next {}\n",
      o.session.string(), st.samples, s.classes().size(), s.class_name(st.class_of_interest),
      st.class_size, s.class_name(st.confused_with), st.iterations.front().auc, o.session.string());
  return kExitOk;
}

int run_next(const SessionCommandOptions& o, const Context& context, std::ostream& out) {
  session::Session s = session::Session::open(o.session, context);
  const std::optional<session::Batch> was_open = s.open_batch();
  const session::BatchSelection selection = o.random     ? session::BatchSelection::kRandom
                                            : o.findings ? session::BatchSelection::kFindings
                                                         : session::BatchSelection::kImportance;
  const session::Batch b = s.next_batch(o.batch_size, context, selection);
  if (b.items.empty()) {
    if (selection == session::BatchSelection::kFindings)
      out << (s.findings().empty()
                  ? (s.coco_path().empty()
                         ? "this session has no COCO file: the box checks did not run\n"
                         : "the box checks flagged no box of this session\n")
                  : "every flagged box has been reviewed\n");
    else
      out << fmt::format("every sample of '{}' has been reviewed\n",
                         s.class_name(s.class_of_interest()));
    return kExitOk;
  }
  const std::filesystem::path folder = export_batch(s, b, context);
  if (was_open)
    out << fmt::format("batch {} is still open (apply it before a new batch); files already "
                       "written, your edits of review.csv among them, are kept:\n", b.number);
  if (b.selection == session::BatchSelection::kFindings)
    out << fmt::format("batch {}: {} boxes flagged by the box checks in {}\n", b.number,
                       b.items.size(), folder.string());
  else
    out << fmt::format("batch {}: {} {}boxes of '{}' in {}\n", b.number, b.items.size(),
                       b.selection == session::BatchSelection::kRandom ? "randomly drawn " : "",
                       s.class_name(s.class_of_interest()), folder.string());
  if (!s.guidelines().empty()) out << "guidelines: " << (folder / "guidelines.md").string() << "\n";
  out << fmt::format("fill in the decision column of {} (keep, relabel + new_label, delete), "
                     "then: coreclean apply {}\n",
                     (folder / "review.csv").string(), o.session.string());
  return kExitOk;
}

int run_apply(const SessionCommandOptions& o, const Context& context, std::ostream& out) {
  session::Session s = session::Session::open(o.session, context);
  session::ApplyOptions options;
  options.csv = o.review_csv;
  if (!o.undecided.empty()) options.undecided = *session::parse_undecided_policy(o.undecided);
  session::ApplyReport r;
  try {
    r = s.apply(options, context);
  } catch (const session::UndecidedBoxes& e) {
    std::string ids;
    for (std::size_t k = 0; k < std::min<std::size_t>(e.ids().size(), 20); ++k)
      ids += fmt::format("{}{}", k ? ", " : "", e.ids()[k]);
    if (e.ids().size() > 20) ids += fmt::format(", ... ({} more)", e.ids().size() - 20);
    throw InvalidArgument(fmt::format(
        "batch {}: {} of {} boxes have no decision (ids {}); nothing was applied.\n"
        "Decide them in {} (or on the review page), or say what undecided means:\n"
        "  coreclean apply {} --undecided keep     (their labels are right)\n"
        "  coreclean apply {} --undecided return   (back to the unseen boxes)",
        e.batch(), e.ids().size(), s.batch(e.batch()).items.size(), ids,
        (s.batch_dir(e.batch()) / "review.csv").string(), o.session.string(), o.session.string()));
  }
  if (r.batch == 0) {
    out << "no open batch: nothing to apply (run `coreclean next` for a new batch)\n";
    return kExitOk;
  }
  if (r.metrics.reviewed == 0) {
    out << fmt::format("batch {} closed: its {} boxes went back to the unseen boxes (nothing was "
                       "reviewed, so no iteration is recorded)\n",
                       r.batch, r.returned);
    return kExitOk;
  }
  const session::SessionStatus st = s.status();
  out << fmt::format("batch {}: {} reviewed, {} relabelled, {} deleted, {} kept; "
                     "cross-validated AUC {:.4f} (start {:.4f}) in {:.2f} s\n",
                     r.batch, r.metrics.reviewed, r.metrics.relabelled, r.metrics.deleted,
                     r.metrics.kept, r.metrics.auc, st.iterations.front().auc, r.metrics.seconds);
  if (!r.csv.empty())
    out << fmt::format("decisions: {} from {}, {} from the review page\n", r.imported_rows,
                       r.csv.string(), r.metrics.reviewed - r.imported_rows - r.kept_undecided);
  if (r.kept_undecided > 0)
    out << fmt::format("{} undecided boxes counted as kept (--undecided keep)\n", r.kept_undecided);
  if (r.returned > 0)
    out << fmt::format("{} undecided boxes went back to the unseen boxes (--undecided return)\n",
                       r.returned);
  return kExitOk;
}

int run_revise(const SessionCommandOptions& o, const Context& context, std::ostream& out) {
  session::Session s = session::Session::open(o.session, context);
  std::set<SampleId> applied;
  for (const session::DecisionRecord& d : s.decisions())
    if (d.applied) applied.insert(d.id);
  session::DecisionFileRules rules;
  rules.reject_id = [&](SampleId id) -> std::optional<std::string> {
    if (applied.contains(id)) return std::nullopt;
    return "has no applied decision (boxes of the open batch are decided with apply)";
  };
  rules.find_class = [&](const std::string& name) { return s.find_class(name); };
  const session::DecisionFile file = session::read_decision_file(*o.review_csv, rules);
  const session::RevisionReport r = s.revise(file.decisions, context);
  out << fmt::format("{} decisions revised, {} unchanged{}\n", r.revised, r.unchanged,
                     file.undecided.empty()
                         ? std::string()
                         : fmt::format(", {} rows without a decision skipped", file.undecided.size()));
  return kExitOk;
}

int run_status(const SessionCommandOptions& o, const Context& context, std::ostream& out) {
  const session::Session s = session::Session::open(o.session, context);
  const session::SessionStatus st = s.status();
  const std::string rule = fmt::format(
      "AUC gained less than {} over the last {} iterations", session::SessionStatus::plateau_gain,
      session::SessionStatus::plateau_window);
  if (o.json) {
    nlohmann::json iterations = nlohmann::json::array();
    for (const auto& m : st.iterations)
      iterations.push_back({{"iteration", m.iteration}, {"auc", m.auc}, {"reviewed", m.reviewed},
                            {"relabelled", m.relabelled}, {"deleted", m.deleted},
                            {"kept", m.kept}, {"seconds", m.seconds}});
    nlohmann::json j = {
        {"class_of_interest", {{"id", st.class_of_interest}, {"name", s.class_name(st.class_of_interest)}}},
        {"confused_with", {{"id", st.confused_with}, {"name", s.class_name(st.confused_with)}}},
        {"samples", st.samples}, {"class_size", st.class_size}, {"reviewed", st.reviewed}, {"exported", st.exported},
        {"relabelled", st.relabelled}, {"deleted", st.deleted}, {"batches", st.batches},
        {"open_batch", st.open_batch ? nlohmann::json(*st.open_batch) : nlohmann::json()},
        {"pending", st.pending}, {"iterations", iterations}, {"plateaued", st.plateaued},
        {"plateau_rule", rule}, {"unseen", st.unseen}, {"audited", st.audited},
        {"audit_fixed", st.audit_fixed},
        {"flagged", {{"boxes", st.flagged}, {"reviewed", st.flagged_reviewed},
                     {"fixed", st.flagged_fixed}}},
        {"fusion_weights", {{"ridge", st.fusion.ridge}, {"held_out", st.fusion.held_out},
                            {"neighbour", st.fusion.neighbour}}},
        {"fusion_weights_default", {{"ridge", st.fusion_default.ridge},
                                    {"held_out", st.fusion_default.held_out},
                                    {"neighbour", st.fusion_default.neighbour}}}};
    if (st.audited > 0) {
      const linear::Interval ci = linear::wilson_interval(st.audit_fixed, st.audited);
      j["audit_estimate"] = {{"share", double(st.audit_fixed) / double(st.audited)},
                             {"low", ci.low}, {"high", ci.high},
                             {"wrong_unseen", double(st.audit_fixed) / double(st.audited) * double(st.unseen)}};
    }
    out << j.dump(2) << "\n";
    return kExitOk;
  }
  out << fmt::format("session {}: cleaning '{}' (confused with '{}'), {} samples, {} in the class\n",
                     o.session.string(), s.class_name(st.class_of_interest),
                     s.class_name(st.confused_with), st.samples, st.class_size);
  out << fmt::format("reviewed {}, relabelled {}, deleted {}; {} batches", st.reviewed,
                     st.relabelled, st.deleted, st.batches);
  if (st.open_batch)
    out << fmt::format(" (batch {} open, {} decisions recorded)", *st.open_batch, st.pending);
  if (st.flagged > 0)
    out << fmt::format("\nbox checks: {} boxes flagged, {} reviewed, {} fixed{}", st.flagged,
                       st.flagged_reviewed, st.flagged_fixed,
                       st.flagged_reviewed < st.flagged
                           ? fmt::format(" (review them: coreclean next {} --findings)",
                                         o.session.string())
                           : std::string());
  out << fmt::format(
      "\nviews fused with weights ridge {:.3g}, held-out {:.3g}, neighbours {:.3g}", st.fusion.ridge,
      st.fusion.held_out, st.fusion.neighbour);
  if (st.fusion.ridge != st.fusion_default.ridge || st.fusion.held_out != st.fusion_default.held_out ||
      st.fusion.neighbour != st.fusion_default.neighbour)
    out << fmt::format(" (learned from the review; fitted to the labels alone: {:.3g}, {:.3g}, {:.3g})",
                       st.fusion_default.ridge, st.fusion_default.held_out,
                       st.fusion_default.neighbour);
  out << "\n\niteration      AUC  reviewed  relabelled  deleted\n";
  for (const auto& m : st.iterations)
    out << fmt::format("{:>9}  {:.4f}  {:>8}  {:>10}  {:>7}\n", m.iteration, m.auc, m.reviewed,
                       m.relabelled, m.deleted);
  if (st.audited > 0) {
    const double share = double(st.audit_fixed) / double(st.audited);
    const linear::Interval ci = linear::wilson_interval(st.audit_fixed, st.audited);
    out << fmt::format(
        "\nrandom audit: {} of {} boxes fixed ({:.1f} %, 95 % interval {:.1f}–{:.1f} %): about {:.0f} "
        "(between {:.0f} and {:.0f}) of the {} unseen boxes of '{}' are still wrong\n",
        st.audit_fixed, st.audited, 100 * share, 100 * ci.low, 100 * ci.high,
        share * double(st.unseen), ci.low * double(st.unseen), ci.high * double(st.unseen),
        st.unseen, s.class_name(st.class_of_interest));
  }
  out << (st.plateaued ? "\nthe AUC has plateaued (" + rule + "): reviewing more of this class "
                                                              "is unlikely to pay off\n"
                       : "\nthe AUC has not plateaued (rule: " + rule + ")\n");
  return kExitOk;
}

int run_export(const SessionCommandOptions& o, const Context& context, std::ostream& out) {
  CORECLEAN_CLI_REQUIRE(o.coco_out.has_value() != o.labels_out.has_value(),
                        "export needs one of --coco-out FIXED.json or --labels-out y_fixed.npy");
  session::Session s = session::Session::open(o.session, context);
  if (o.coco_out) {
    s.export_coco(*o.coco_out);
    out << fmt::format("wrote {}\n", o.coco_out->string());
  }
  if (o.labels_out) {
    s.export_labels(*o.labels_out, -1);
    out << fmt::format("wrote {} ({} labels; -1 = deleted)\n", o.labels_out->string(),
                       s.corrected_labels(-1).size());
  }
  return kExitOk;
}

}  // namespace coreclean::cli
