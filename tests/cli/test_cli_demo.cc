// `coreclean demo` end to end on a small seeded run: the review finds at least 3× the label
// errors random review would, the AUC does not drop, and the exported COCO file re-parses with
// exactly the session's corrections.
#include "demo.h"

#include <coreclean/detect/coco.h>
#include <coreclean/detect/demo_scenes.h>
#include <coreclean/session/session.h>

#include "testing/helpers.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

namespace coreclean::cli {
namespace {

TEST(CliDemo, SmallRunFindsErrorsAndExportsTheCorrections) {
  if (!std::filesystem::exists(std::filesystem::path(detect::kFashionMnistDir) /
                               "train-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "needs Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist)";
  testing::TempDir dir;
  DemoOptions o;
  o.out = dir / "demo";
  o.images = 700;
  o.batch_share = 0.01;  // a budget below the number of errors, so the ratio is not capped
  std::ostringstream log;
  ASSERT_EQ(run_demo(o, Context(), log), 0) << log.str();
  const auto summary = nlohmann::json::parse(testing::read_text(o.out / "summary.json"));
  EXPECT_GT(summary["injected_errors"].get<int>(), 0) << summary.dump();
  // Random review in expectation (mean over many orders), and the one random run beside it.
  EXPECT_GE(summary["coreclean_found"].get<double>(), 3.0 * summary["random_expected"].get<double>())
      << summary.dump();
  EXPECT_GT(summary["coreclean_found"].get<double>(), summary["random_found"].get<double>())
      << summary.dump();
  // The report holds both curves: the random run with its AUC, and the expectation.
  const std::string html = testing::read_text(o.out / "report.html");
  EXPECT_TRUE(testing::contains(html, "\"name\":\"random review\""));
  EXPECT_TRUE(testing::contains(html, "\"name\":\"random review (mean of 500 orders)\""));
  const session::Session random_run = session::Session::open(o.out / "session-random");
  const session::SessionStatus rs = random_run.status();
  EXPECT_EQ(rs.reviewed, summary["budget"].get<std::int64_t>());
  EXPECT_EQ(rs.audited, rs.reviewed) << "every batch of the random run is a random batch";
  EXPECT_DOUBLE_EQ(rs.iterations.back().auc, summary["random_auc_end"].get<double>());
  EXPECT_GE(summary["auc_end"].get<double>(), summary["auc_start"].get<double>()) << summary.dump();

  // The corrected file: the original minus the deleted boxes, relabelled boxes changed, nothing
  // else.
  const detect::CocoDataset original = detect::read_coco(o.out / "data" / "annotations.json");
  const detect::CocoDataset fixed = detect::read_coco(o.out / "corrected.json");
  const session::Session s = session::Session::open(o.out / "session");
  const session::SessionStatus st = s.status();
  EXPECT_EQ(fixed.annotations.size(), original.annotations.size() - static_cast<std::size_t>(st.deleted));
  std::int64_t changed = 0;
  for (const auto& a : fixed.annotations) {
    const auto i = original.annotation_index(a.id);
    ASSERT_TRUE(i.has_value());
    changed += original.annotations[*i].category_id != a.category_id ? 1 : 0;
  }
  EXPECT_EQ(changed, st.relabelled);
}

}  // namespace
}  // namespace coreclean::cli
