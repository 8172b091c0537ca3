#include "make_demo.h"

#include <coreclean/io/idx.h>
#include <coreclean/io/output_folder.h>

#include <chrono>

#include "cli_common.h"

namespace coreclean::cli {

CLI::App* add_make_demo_command(CLI::App& app, MakeDemoOptions& options) {
  auto* cmd = app.add_subcommand(
      "make-demo",
      "Write a demo detection dataset: Fashion-MNIST items composed into scenes (JPEG images + "
      "COCO annotations.json), with annotation errors injected at a known rate (mostly labels "
      "flipped among T-shirt/top, Pullover, Coat and Shirt; also boxes that miss their item, "
      "span two items, or duplicate another box). truth.json lists every error and its fix.");
  cmd->add_option("--out", options.out,
                  "Output folder: images/, annotations.json, truth.json. A new or empty folder, "
                  "or one an earlier make-demo wrote (its own files are then rewritten; nothing "
                  "else in it is touched)")
      ->required();
  cmd->add_option_function<std::uint64_t>(
      "--seed", [&options](const std::uint64_t& seed) { options.seed = seed; },
      "Seed of the scenes and errors (same seed, same files); default: the global --seed");
  cmd->add_option("--images", options.images, "Number of scenes (about 5 boxes each)")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000000));
  cmd->add_option("--error-rate", options.error_rate,
                  "Share of the annotations that carry an injected error")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.5));
  cmd->add_option("--fashion-dir", options.fashion_dir,
                  "Folder with Fashion-MNIST's *-idx*-ubyte.gz files (Debian package "
                  "dataset-fashion-mnist)")
      ->capture_default_str();
  cmd->add_option("--split", options.split,
                  "Fashion-MNIST split the items come from: t10k (10,000) or train (60,000)")
      ->capture_default_str()
      ->check(CLI::IsMember({"t10k", "train"}));
  return cmd;
}

int run_make_demo(const MakeDemoOptions& options, const Context& context, std::ostream& out) {
  CORECLEAN_CLI_REQUIRE(!options.out.empty(), "make-demo: --out is required");
  Context ctx(context);
  if (options.seed) ctx.seed = *options.seed;
  detect::DemoSceneParams params;
  params.images = options.images;
  params.error_rate = options.error_rate;
  params.validate();

  const auto start = std::chrono::steady_clock::now();
  const io::LabelledImages items = detect::load_fashion_mnist(options.fashion_dir, options.split);
  io::OutputFolder folder =
      io::OutputFolder::claim(options.out, "make-demo", {options.fashion_dir});
  for (const char* name : {"images", "annotations.json", "truth.json"}) folder.entry(name);
  const detect::DemoScenes scenes = detect::write_demo_scenes(options.out, items, params, ctx);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const auto annotations = static_cast<std::int64_t>(scenes.coco.annotations.size());
  const auto errors = static_cast<std::int64_t>(scenes.errors.size());
  out << fmt::format("{} scenes, {} boxes on {} items (Fashion-MNIST {}, seed {}), {:.1f} s\n",
                     scenes.coco.images.size(), annotations, scenes.objects.size(), options.split,
                     ctx.seed, seconds)
      << fmt::format("injected errors: {} of {} boxes ({:.1f}%)\n", errors, annotations,
                     annotations > 0 ? 100.0 * static_cast<double>(errors) / annotations : 0.0);
  for (const auto kind : {detect::DemoErrorKind::kFlip, detect::DemoErrorKind::kMiss,
                          detect::DemoErrorKind::kSpan, detect::DemoErrorKind::kDuplicate}) {
    out << fmt::format(
        "  {:<10} {:>5}  fix: {}\n", detect::to_string(kind), scenes.error_count(kind),
        detect::demo_error_fix(kind) == detect::AnnotationEdit::Kind::kRelabel ? "relabel"
                                                                               : "delete");
  }
  const std::filesystem::path& dir = options.out;
  out << fmt::format("annotations: {}\n", (dir / "annotations.json").string())
      << fmt::format("images:      {}\n", (dir / "images").string())
      << fmt::format("truth:       {}\n", (dir / "truth.json").string())
      << fmt::format("next:        coreclean embed --coco {} --images {} --out FEATURES\n",
                     (dir / "annotations.json").string(), (dir / "images").string());
  return kExitOk;
}

}  // namespace coreclean::cli
