// The session report: iteration series and histogram against counts made here, examples with
// their renderings as data URIs, the HTML page's embedding of the data, the files written.
#include <coreclean/core/error.h>
#include <coreclean/report/report.h>
#include <coreclean/session/session.h>

#include "testing/helpers.h"
#include "testing/session_fixtures.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sstream>

namespace coreclean::report {
namespace {

using nlohmann::json;
using session::Batch;
using session::BatchItem;
using session::Decision;
using session::DecisionKind;
using session::Session;

std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> row;
    std::string cell;
    std::istringstream cells(line);
    while (std::getline(cells, cell, ',')) row.push_back(cell);
    if (!line.empty() && line.back() == ',') row.emplace_back();
    rows.push_back(row);
  }
  return rows;
}

// Per batch: the decisions this test made, counted by hand.
struct Made {
  int reviewed = 0, relabelled = 0, deleted = 0;
};

class ReportTest : public ::testing::Test {
 protected:
  testing::TempDir dir;
  testing::BlobFeatures blobs;
  std::optional<Session> s;
  std::vector<Made> made;
  std::vector<SampleId> fixed_ids;

  void SetUp() override {
    blobs = testing::write_blob_features(dir / "features", 12,
                                         {{2, "two"}, {5, "five</script><b>"}, {8, "eight"}});
    session::SessionOptions o;
    o.features = dir / "features";
    o.class_of_interest = "5";
    s.emplace(Session::create(dir / "session", o));
    // Two batches: flips relabelled to their true class; in batch 2 the first kept box is
    // deleted instead.
    for (int b = 0; b < 2; ++b) {
      const Batch batch = s->next_batch(15);
      Made m;
      bool deleted_one = false;
      for (const BatchItem& it : batch.items) {
        ++m.reviewed;
        if (blobs.flipped.count(it.id)) {
          s->record_decision({it.id, DecisionKind::kRelabel, 2, "ana"});
          ++m.relabelled;
          fixed_ids.push_back(it.id);
        } else if (b == 1 && !deleted_one) {
          s->record_decision({it.id, DecisionKind::kDelete, 0, "ben<!--<script>\xff"});
          ++m.deleted;
          deleted_one = true;
          fixed_ids.push_back(it.id);
        }
      }
      s->apply(testing::keep_undecided());
      made.push_back(m);
    }
  }
};

TEST_F(ReportTest, IterationSeriesMatchTheDecisionsMade) {
  const std::string csv =
      iterations_csv(*s, {{"random review", {0.0, 1.5, 3.0}, {0.7, 0.71, 0.72}}});
  const auto rows = parse_csv(csv);
  ASSERT_EQ(rows.size(), 4u);  // header + iterations 0, 1, 2
  EXPECT_EQ(rows[0][10], "random_review_found");
  EXPECT_EQ(rows[0][11], "random_review_auc");
  const session::SessionStatus st = s->status();
  int cumulative_reviewed = 0, cumulative_fixed = 0;
  for (int i = 0; i < 3; ++i) {
    const auto& r = rows[static_cast<std::size_t>(i) + 1];
    ASSERT_EQ(r.size(), 12u) << csv;
    EXPECT_EQ(std::stoi(r[0]), i);
    EXPECT_NEAR(std::stod(r[1]), st.iterations[static_cast<std::size_t>(i)].auc, 1e-6);
    const Made m = i == 0 ? Made{} : made[static_cast<std::size_t>(i) - 1];
    EXPECT_EQ(std::stoi(r[2]), m.reviewed);
    EXPECT_EQ(std::stoi(r[3]), m.relabelled);
    EXPECT_EQ(std::stoi(r[4]), m.deleted);
    EXPECT_EQ(std::stoi(r[5]), m.reviewed - m.relabelled - m.deleted);
    EXPECT_EQ(std::stoi(r[6]), m.relabelled + m.deleted);
    if (m.reviewed == 0) {
      EXPECT_EQ(r[7], "");
    } else {
      EXPECT_NEAR(std::stod(r[7]), double(m.relabelled + m.deleted) / m.reviewed, 1e-6);
    }
    cumulative_reviewed += m.reviewed;
    cumulative_fixed += m.relabelled + m.deleted;
    EXPECT_EQ(std::stoi(r[8]), cumulative_reviewed);
    EXPECT_EQ(std::stoi(r[9]), cumulative_fixed);
    EXPECT_DOUBLE_EQ(std::stod(r[10]), 1.5 * i);
    EXPECT_DOUBLE_EQ(std::stod(r[11]), 0.7 + 0.01 * i);
  }
  EXPECT_GT(made[0].relabelled, 0) << "the ranking should put flips in the first batch";
}

TEST_F(ReportTest, ImportanceHistogramCountsEverySampleOfTheClass) {
  const session::SessionStatus st = s->status();
  const std::vector<double>& first = st.iterations.front().importance;
  const std::vector<double>& last = st.iterations.back().importance;
  const auto rows = parse_csv(importance_csv(*s, 10));
  ASSERT_EQ(rows.size(), 11u);
  double top = 0.0;
  for (double v : first) top = std::max(top, v);
  for (double v : last) top = std::max(top, v);
  std::int64_t sum_first = 0, sum_last = 0;
  for (std::size_t b = 0; b < 10; ++b) {
    const auto& r = rows[b + 1];
    const double lo = std::stod(r[0]), hi = std::stod(r[1]);
    EXPECT_NEAR(lo, top * double(b) / 10, 1e-5 * top);
    EXPECT_NEAR(hi, top * double(b + 1) / 10, 1e-5 * top);
    // Count by hand with the exact edges: [lo, hi), the last bin closed.
    auto count = [&](const std::vector<double>& values) {
      std::int64_t c = 0;
      for (double v : values) {
        const double a = top * double(b) / 10, z = top * double(b + 1) / 10;
        if (v >= a && (v < z || (b == 9 && v <= z))) ++c;
      }
      return c;
    };
    EXPECT_EQ(std::stoll(r[2]), count(first)) << "bin " << b;
    EXPECT_EQ(std::stoll(r[3]), count(last)) << "bin " << b;
    sum_first += std::stoll(r[2]);
    sum_last += std::stoll(r[3]);
  }
  EXPECT_EQ(sum_first, static_cast<std::int64_t>(first.size()));
  EXPECT_EQ(sum_last, static_cast<std::int64_t>(last.size()));
}

TEST_F(ReportTest, ExamplesAreTheFixedBoxesWithTheirRenderings) {
  // Renderings as the batch export writes them; the bytes "Ma" are "TWE=" in base64, "Man" is
  // "TWFu" and "M" is "TQ==" (RFC 4648).
  const SampleId first_fixed = fixed_ids.front();
  ASSERT_GT(made[0].relabelled, 0);  // so first_fixed is in batch 1
  std::filesystem::create_directories(s->dir() / "batches" / "001");
  testing::write_text(s->dir() / "batches" / "001" / (std::to_string(first_fixed) + "_crop.jpg"), "Ma");
  testing::write_text(s->dir() / "batches" / "001" / (std::to_string(first_fixed) + "_overlay.jpg"), "Man");
  testing::write_text(s->dir() / "batches" / "001" / (std::to_string(first_fixed) + "_attention.jpg"), "M");
  ReportOptions o;
  o.max_examples = 100;
  const json data = json::parse(report_data_json(*s, o));
  const json& examples = data.at("examples");
  ASSERT_EQ(examples.size(), fixed_ids.size());
  std::set<SampleId> got;
  double previous = 1e300;
  for (const json& e : examples) {
    got.insert(e.at("id").get<SampleId>());
    EXPECT_LE(e.at("importance").get<double>(), previous) << "highest importance first";
    previous = e.at("importance").get<double>();
    if (e.at("decision") == "relabel") {
      EXPECT_EQ(e.at("old_label"), "five</script><b>");
      EXPECT_EQ(e.at("new_label"), "two");
      EXPECT_EQ(e.at("reviewer"), "ana");
    } else {
      EXPECT_EQ(e.at("decision"), "delete");
      EXPECT_TRUE(e.at("new_label").is_null());
      // Not UTF-8 (\xff): replaced, not an error.
      EXPECT_EQ(e.at("reviewer"), "ben<!--<script>\xef\xbf\xbd");
    }
    if (e.at("id") == first_fixed) {
      EXPECT_EQ(e.at("images").at("crop"), "data:image/jpeg;base64,TWE=");
      EXPECT_EQ(e.at("images").at("overlay"), "data:image/jpeg;base64,TWFu");
      EXPECT_EQ(e.at("images").at("attention"), "data:image/jpeg;base64,TQ==");
    } else {
      EXPECT_FALSE(e.contains("images"));
    }
  }
  EXPECT_EQ(got, std::set<SampleId>(fixed_ids.begin(), fixed_ids.end()));
  o.max_examples = 2;
  EXPECT_EQ(json::parse(report_data_json(*s, o)).at("examples").size(), 2u);

  const json& summary = data.at("summary");
  EXPECT_EQ(summary.at("reviewed"), made[0].reviewed + made[1].reviewed);
  EXPECT_EQ(summary.at("iterations"), 2);
  EXPECT_EQ(data.at("class_of_interest"), "five</script><b>");
  EXPECT_EQ(data.at("importance").at("edges").size(), 41u);
}

TEST_F(ReportTest, HtmlEmbedsTheDataSoThatNoClassNameCanEndTheScript) {
  ReportOptions every_example;
  every_example.max_examples = 100;  // the deleted box's reviewer holds "<!--<script>"
  const std::string data = report_data_json(*s, every_example);
  const std::string html = report_html(data);
  const std::string open = "<script type=\"application/json\" id=\"report-data\">";
  const auto begin = html.find(open);
  ASSERT_NE(begin, std::string::npos);
  const auto end = html.find("</script>", begin);
  const std::string embedded = html.substr(begin + open.size(), end - begin - open.size());
  // The first "</script>" after the data is the data's own end, and the data parses back.
  EXPECT_EQ(json::parse(embedded), json::parse(data));
  // No "<" at all inside: neither "</script>" nor "<!--<script>" (both in the data) can change
  // how the page parses.
  EXPECT_EQ(embedded.find('<'), std::string::npos);
  EXPECT_TRUE(testing::contains(data, "five</script><b>"));
  EXPECT_TRUE(testing::contains(data, "<!--<script>"));
  EXPECT_TRUE(testing::contains(embedded, "five\\u003c/script\\u003e\\u003cb\\u003e"));
  EXPECT_TRUE(testing::contains(html, "<title>coreclean report — five&lt;/script&gt;&lt;b&gt;</title>"));
  // Self-contained: the chart library and the page's scripts are inline, nothing is fetched.
  EXPECT_TRUE(testing::contains(html, "uPlot"));
  EXPECT_EQ(html.find("<script src"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
}

TEST_F(ReportTest, BaselinesMustHaveOneValuePerIteration) {
  ReportOptions o;
  o.baselines.push_back({"random", {0.0, 1.0}, {}});
  EXPECT_TRUE(testing::contains(testing::error_of<InvalidArgument>([&] { report_data_json(*s, o); }),
                                "baseline 'random' has 2 values; the session has 3 iterations"));
  o.baselines.front().cumulative_found = {0.0, 1.0, 2.0};
  o.baselines.front().auc = {0.5};
  EXPECT_TRUE(testing::contains(testing::error_of<InvalidArgument>([&] { report_data_json(*s, o); }),
                                "baseline 'random' has 1 AUC values"));
  o.baselines.front().auc = {0.5, 0.6, 0.7};
  const json data = json::parse(report_data_json(*s, o));
  EXPECT_EQ(data.at("baselines")[0].at("auc"), (json{0.5, 0.6, 0.7}));
}

TEST_F(ReportTest, WriteReportWritesThePageAndBothSeries) {
  const ReportFiles files = write_report(*s, dir / "out" / "r.html");
  EXPECT_EQ(files.iterations_csv, dir / "out" / "r-iterations.csv");
  EXPECT_EQ(files.importance_csv, dir / "out" / "r-importance.csv");
  EXPECT_EQ(testing::read_text(files.iterations_csv), iterations_csv(*s));
  EXPECT_EQ(testing::read_text(files.importance_csv), importance_csv(*s));
  EXPECT_TRUE(testing::contains(testing::read_text(files.html), "id=\"report-data\""));
}

}  // namespace
}  // namespace coreclean::report
