// The coreclean command-line tool: argument parsing only; each subcommand is a run_<name>()
// function over the public library API.
#include "check.h"
#include "cli_common.h"
#include "demo.h"
#include "embed.h"
#include "make_demo.h"
#include "pick.h"
#include "report_command.h"
#include "review_command.h"
#include "session_commands.h"
#include "tree_commands.h"

#include <coreclean/core/blas.h>
#ifdef CORECLEAN_WITH_MPI
#include <coreclean/dist/mpi_group.h>
#endif

#include <CLI/CLI.hpp>

#include <algorithm>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

int main(int argc, char** argv) {
  using namespace coreclean::cli;
  restart_with_fitting_blas_kernels(argv);
  // coreclean's loops are parallel themselves; BLAS threads inside them only oversubscribe.
  coreclean::use_single_threaded_blas_unless_configured();
  CLI::App app{
      "coreclean finds and fixes incorrectly labelled boxes in object-detection datasets.\n"
      "The cleaning loop, in order:\n"
      "  make-demo (or your own COCO file) / check → embed → init → next / review → apply\n"
      "  (next batch, again) → status → export → report\n"
      "`demo` runs the whole loop on built-in data (`demo-summary` measures a review of demo data\n"
      "against its truth). Lower-level tools over a features directory\n"
      "and a coreset tree: pick, build, rank, update, fit.\n"
      "Output folders (--out of make-demo, embed, demo) must be new, empty, or written by an\n"
      "earlier run of the same command: coreclean never overwrites or deletes a file it did\n"
      "not write."};
  app.require_subcommand(1);
  app.set_version_flag("--version",
                       "coreclean " CORECLEAN_VERSION " (BLAS kernels: " +
                           coreclean::blas_core_name() + ")",
                       "Print the version (and the BLAS kernels in use) and exit");
  std::uint64_t seed = 0;
  app.add_option("--seed", seed, "Seed of every random choice (splits, PCA, sampling)")
      ->capture_default_str();
  bool quiet = false;
  app.add_flag("-q,--quiet", quiet, "No progress bars (they are drawn only on a terminal anyway)");

  MakeDemoOptions make_demo;
  CLI::App* make_demo_cmd = add_make_demo_command(app, make_demo);
  CheckOptions check;
  CLI::App* check_cmd = add_check_command(app, check);
  EmbedOptions embed;
  CLI::App* embed_cmd = add_embed_command(app, embed);

  PickOptions pick;
  auto* pick_cmd = app.add_subcommand(
      "pick",
      "Pick the class to clean: fit a balanced logistic regression on the (PCA-reduced) train "
      "features, compute the confusion matrix on the test split (or out-of-fold predictions), and "
      "report the largest off-diagonal cell: the predicted class is the class of interest.");
  pick_cmd->add_option("--features", pick.features,
                       "Features directory: X_train.npy, y_train.npy [, X_test.npy, y_test.npy, "
                       "ids.npy, classes.json]")
      ->required();
  pick_cmd->add_option("--pca", pick.pca, "PCA components before fitting (0 = none)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  pick_cmd->add_option("--C", pick.c, "Inverse regularisation strength of the classifier")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  pick_cmd->add_option("--folds", pick.folds, "Folds when there is no test split")
      ->capture_default_str()
      ->check(CLI::Range(2, 100));
  pick_cmd->add_flag("--json", pick.json, "Print one JSON object");

  BuildOptions build;
  auto* build_cmd = app.add_subcommand(
      "build",
      "Build a coreset tree over a features directory: every sample gets an importance (how "
      "badly models that never saw its label disagree with it — a leave-one-out ridge "
      "classifier, cross-fitted logistic regressions and its nearest neighbours, fused with "
      "weights fitted to the data — plus how atypical it is for its class). The tree is saved to one file that rank and update read. With --append, the "
      "samples of another features directory join an existing tree as new leaves, without a "
      "rebuild (the data arrived later, or in parts).");
  auto* features_opt = build_cmd->add_option("--features", build.features, "Features directory");
  auto* append_opt = build_cmd->add_option(
      "--append", build.append,
      "Features directory whose samples are added to the tree file --tree (same width, classes "
      "the tree knows, ids it does not have yet); the file is updated in place (atomically)");
  auto* tree_opt = build_cmd->add_option("--tree", build.tree, "Tree file --append adds to");
  append_opt->needs(tree_opt);
  tree_opt->needs(append_opt);
  append_opt->excludes(features_opt);
  build_cmd->add_option("--classes", build.classes,
                        "Keep only these classes (names or ids, comma-separated), e.g. the class "
                        "to clean and the class it is confused with")
      ->delimiter(',');
  build_cmd->add_option("--chunk-size", build.chunk_size, "Samples per leaf (0 = automatic)")
      ->capture_default_str();
  build_cmd->add_option("--held-out-rows", build.held_out_rows,
                        "Training rows of each held-out logistic regression at most: above it, a "
                        "weighted per-class sample of its folds (0 = every row; slower on large "
                        "sets, see docs/scaling.md)")
      ->capture_default_str();
  build_cmd->add_option("--neighbours", build.neighbours,
                        "Nearest neighbours per sample of the neighbour view, which joins the "
                        "ridge and held-out views (0 = none; cleaning trees)")
      ->capture_default_str();
  build_cmd->add_option("--max-memory", build.max_memory_gb,
                        "Refuse to start a build whose peak memory (estimated from the data's "
                        "shape; X is read block by block and counts only for the at most 65,536 "
                        "rows the PCA is fitted on) would exceed this many GiB (0 = no limit)")
      ->capture_default_str();
  build_cmd->add_option("--optimized-for", build.optimized_for,
                        "cleaning (find label errors) or training (weighted coreset)")
      ->capture_default_str();
  auto* out_opt = build_cmd->add_option("--out", build.out, "Tree file to write");
  append_opt->excludes(out_opt);
  features_opt->needs(out_opt);

  RankOptions rank;
  auto* rank_cmd = app.add_subcommand(
      "rank", "Print the most important unseen samples as CSV: "
              "id,label,importance,misfit,atypical,suggested_label, then the views' losses ridge, "
              "held_out, neighbour and the neighbours' majority label neighbour_label (highest "
              "first).");
  rank_cmd->add_option("--tree", rank.tree, "Tree file (from build)")->required();
  rank_cmd->add_option("--class", rank.class_name, "Class name or id, or 'all'")
      ->capture_default_str();
  rank_cmd->add_option("--top", rank.top, "How many samples")->capture_default_str();
  rank_cmd->add_flag("--include-seen", rank.include_seen, "Also return samples already seen");
  rank_cmd->add_flag("--mark-seen", rank.mark_seen,
                     "Mark the returned samples seen in the tree file");
  std::string rank_out;
  rank_cmd->add_option("--out", rank_out, "Write the CSV here instead of standard output");

  UpdateOptions update;
  auto* update_cmd = app.add_subcommand(
      "update", "Apply review decisions to a tree without rebuilding it: a CSV with columns "
                "id,decision,new_label where decision is keep, relabel (new_label = class name "
                "or id) or delete. Every row is checked first; on any bad row nothing changes.");
  update_cmd->add_option("--tree", update.tree, "Tree file (updated in place, atomically)")
      ->required();
  update_cmd->add_option("--decisions", update.decisions, "Decisions CSV")->required();
  // Two flags rather than CLI11's "--refresh,!--no-refresh", whose help reads
  // "--refresh,--no-refresh{false}" as if refreshing were off by default.
  CLI::Option* refresh_flag = update_cmd->add_flag(
      "--refresh", update.refresh,
      "On by default: after the exact incremental update, refit the cross-fitted models on the "
      "corrected labels and re-score every sample, so the next ranking equals a fresh build's");
  update_cmd
      ->add_flag_callback(
          "--no-refresh", [&update] { update.refresh = false; },
          "Leave those scores stale until a later update refreshes them (faster)")
      ->excludes(refresh_flag);

  FitOptions fit;
  auto* fit_cmd = app.add_subcommand(
      "fit", "Train a weighted logistic regression on a training tree's coreset; report its "
             "k-fold AUC and training objective next to the full-data model's; write the model "
             "(.npz, with the feature map).");
  fit_cmd->add_option("--tree", fit.tree, "Tree built with --optimized-for training")->required();
  fit_cmd->add_option("--level", fit.level, "0 = the root's coreset; deeper levels are larger")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  fit_cmd->add_option("--folds", fit.folds, "Folds of the AUC comparison")->capture_default_str();
  fit_cmd->add_option("--C", fit.c, "Inverse regularisation strength")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  fit_cmd->add_option("--out", fit.out, "Model file (.npz)")->required();

  SessionCommandOptions session;
  const SessionCommands session_cmd = add_session_commands(app, session);
  ReportCommandOptions report;
  CLI::App* report_cmd = add_report_command(app, report);
  ReviewCommandOptions review;
  CLI::App* review_cmd = add_review_command(app, review);
  DemoOptions demo;
  CLI::App* demo_cmd = add_demo_command(app, demo);
  DemoSummaryOptions demo_summary;
  CLI::App* demo_summary_cmd = add_demo_summary_command(app, demo_summary);

  // Help lists the loop's commands first, in the order they are used, then the lower-level tools.
  for (CLI::App* cmd :
       {make_demo_cmd, check_cmd, embed_cmd, session_cmd.init, session_cmd.next, review_cmd,
        session_cmd.apply, session_cmd.status, session_cmd.export_, report_cmd, demo_cmd,
        demo_summary_cmd})
    cmd->group("Cleaning loop");
  for (CLI::App* cmd : {pick_cmd, build_cmd, rank_cmd, update_cmd, fit_cmd})
    cmd->group("Lower-level tools");
  use_plain_range_messages(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitBadInput;
  }
  // `mpirun -np N coreclean build ...`: N processes build one tree, each over its share.
#ifdef CORECLEAN_WITH_MPI
  std::unique_ptr<coreclean::dist::MpiGroup> mpi;
#endif
  if (const int job_size = mpi_job_size(); job_size > 1) {
#ifdef CORECLEAN_WITH_MPI
    if (!*build_cmd) {
      std::cerr << "coreclean: only `build` runs across MPI processes; start other commands "
                   "without mpirun\n";
      return kExitBadInput;
    }
    mpi = std::make_unique<coreclean::dist::MpiGroup>(&argc, &argv);
    if (mpi->size() != job_size) {
      // E.g. another MPI's launcher: every process would build the whole tree on its own and
      // write the same file.
      std::cerr << "coreclean: the launcher started " << job_size << " processes but MPI joins "
                << mpi->size() << "; start coreclean with Open MPI's mpirun\n";
      mpi->abort(kExitBadInput);
    }
#else
    std::cerr << "coreclean: this coreclean was built without MPI (Debian's libopenmpi-dev was "
                 "not found); start it without mpirun\n";
    return kExitBadInput;
#endif
  }
  const int code = run_guarded(
      [&] {
        coreclean::Context ctx = make_cli_context(std::cerr, seed, !quiet);
#ifdef CORECLEAN_WITH_MPI
        if (mpi) {
          // Processes on one machine share its cores: a process bound to some cores uses those,
          // an unbound one its part of the machine. Only process 0 draws progress.
          const int machine = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
          const int allowed = coreclean::available_cores();
          ctx.threads = allowed < machine ? allowed : std::max(1, machine / mpi->local_size());
          if (mpi->rank() != 0) ctx.progress = nullptr;
          return run_build(build, ctx, std::cout, *mpi);
        }
#endif
        const InterruptScope interrupt(ctx);
        if (*make_demo_cmd) return run_make_demo(make_demo, ctx, std::cout);
        if (*check_cmd) return run_check(check, ctx, std::cout);
        if (*embed_cmd) return run_embed(embed, ctx, std::cout);
        if (*pick_cmd) return run_pick(pick, ctx, std::cout);
        if (*build_cmd) return run_build(build, ctx, std::cout);
        if (*rank_cmd) {
          if (!rank_out.empty()) rank.out = rank_out;
          return run_rank(rank, ctx, std::cout);
        }
        if (*update_cmd) return run_update(update, ctx, std::cout);
        if (*fit_cmd) return run_fit(fit, ctx, std::cout);
        if (*session_cmd.init) return run_init(session, ctx, std::cout);
        if (*session_cmd.next) return run_next(session, ctx, std::cout);
        if (*session_cmd.apply) return run_apply(session, ctx, std::cout);
        if (*session_cmd.revise) return run_revise(session, ctx, std::cout);
        if (*session_cmd.status) return run_status(session, ctx, std::cout);
        if (*session_cmd.export_) return run_export(session, ctx, std::cout);
        if (*report_cmd) return run_report(report, ctx, std::cout);
        if (*review_cmd) return run_review(review, ctx, std::cout, std::cerr);
        if (*demo_cmd) return run_demo(demo, ctx, std::cout);
        if (*demo_summary_cmd) return run_demo_summary(demo_summary, ctx, std::cout);
        return static_cast<int>(kExitBadInput);
      },
      std::cerr);
#ifdef CORECLEAN_WITH_MPI
  // The other processes would wait for this one for ever.
  if (mpi && code != kExitOk) mpi->abort(code);
#endif
  return code;
}
