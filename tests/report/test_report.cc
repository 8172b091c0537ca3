// The session report: iteration series and histogram against counts made here, examples with
// their renderings as data URIs, the HTML page's embedding of the data, the files written.
#include <coreclean/core/error.h>
#include <coreclean/linear/metrics.h>
#include <coreclean/report/report.h>
#include <coreclean/session/session.h>

#include "testing/helpers.h"
#include "testing/session_fixtures.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <map>
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
    // Count by hand with the exact edges: [lo, hi), the last bin closed at the largest value
    // itself (top · 10 / 10 may round below it).
    auto count = [&](const std::vector<double>& values) {
      std::int64_t c = 0;
      for (double v : values) {
        const double a = top * double(b) / 10, z = top * double(b + 1) / 10;
        if (v >= a && (b == 9 ? v <= top : v < z)) ++c;
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

TEST_F(ReportTest, WriteReportWritesThePageAndTheCsvFiles) {
  const ReportFiles files = write_report(*s, dir / "out" / "r.html");
  EXPECT_EQ(files.iterations_csv, dir / "out" / "r-iterations.csv");
  EXPECT_EQ(files.importance_csv, dir / "out" / "r-importance.csv");
  EXPECT_EQ(files.decisions_csv, dir / "out" / "r-decisions.csv");
  EXPECT_EQ(testing::read_text(files.iterations_csv), iterations_csv(*s));
  EXPECT_EQ(testing::read_text(files.importance_csv), importance_csv(*s));
  EXPECT_EQ(testing::read_text(files.decisions_csv), decisions_csv(*s));
  const std::string html = testing::read_text(files.html);
  EXPECT_TRUE(testing::contains(html, "id=\"report-data\""));
  // The page links the files beside it by name only.
  EXPECT_TRUE(testing::contains(html, "\"decisions_csv\":\"r-decisions.csv\""));
  EXPECT_TRUE(testing::contains(html, "\"iterations_csv\":\"r-iterations.csv\""));
}

// The report says which session it is by the folder's name only: no path of the machine it was
// made on (user names, folder layout) ends up in a file that is shared.
TEST_F(ReportTest, HtmlHoldsNoPathOfTheMachine) {
  const ReportFiles files = write_report(*s, dir / "out" / "r.html");
  const std::string html = testing::read_text(files.html);
  const std::string root = std::filesystem::absolute(dir.path()).lexically_normal().string();
  ASSERT_FALSE(root.empty());
  EXPECT_FALSE(testing::contains(html, root)) << "the test's folder " << root;
  EXPECT_FALSE(testing::contains(html, (dir / "session").string()));
  EXPECT_EQ(json::parse(report_data_json(*s)).at("session"), "session");
  // A trailing separator still gives the name.
  const Session again = Session::open((dir / "session").string() + "/");
  EXPECT_EQ(json::parse(report_data_json(again)).at("session"), "session");
}

// The renderings are named for what they show: the dimmed crop in its context is "In context"
// (its file keeps the name <id>_attention.jpg).
TEST_F(ReportTest, DimmedViewIsCalledInContext) {
  const std::string html = report_html(report_data_json(*s));
  EXPECT_TRUE(testing::contains(html, "In context"));
  EXPECT_EQ(html.find("Attention"), std::string::npos);
}

// The scores are what the page states: importance = misfit + atypical_weight · atypical, with
// the weight the page shows (the session tree's, 0.01), both parts non-negative.
TEST_F(ReportTest, ExampleScoresFollowTheStatedRule) {
  ReportOptions o;
  o.max_examples = 100;
  const json data = json::parse(report_data_json(*s, o));
  const double w = data.at("scores").at("atypical_weight").get<double>();
  EXPECT_DOUBLE_EQ(w, 0.01);
  ASSERT_FALSE(data.at("examples").empty());
  for (const json& e : data.at("examples")) {
    const double misfit = e.at("misfit").get<double>();
    EXPECT_GE(misfit, 0.0);
    EXPECT_GE(e.at("atypical").get<double>(), 0.0);
    // importance = −log(1 − misfit) + w · atypical (the surprisal of the label).
    const double importance = e.at("importance").get<double>();
    if (misfit < 1.0 - 1e-12) {
      EXPECT_NEAR(importance, -std::log1p(-misfit) + w * e.at("atypical").get<double>(),
                  1e-6 * std::max(1.0, importance));
    } else {
      EXPECT_GT(importance, 27.0) << "p(label) below 1e-12";
    }
  }
}

// The decisions table holds every stored decision in its final state: a revised decision shows
// the revision, marked, with the decision it replaced.
TEST_F(ReportTest, DecisionsCsvHoldsEveryDecisionWithRevisionsApplied) {
  const SampleId revised = fixed_ids.front();  // relabelled to "two" in batch 1
  ASSERT_EQ(s->revise({{revised, DecisionKind::kKeep, 0, "cy"}}).revised, 1);
  const std::vector<session::DecisionRecord> decisions = s->decisions();
  const auto rows = parse_csv(decisions_csv(*s));
  ASSERT_EQ(rows.size(), decisions.size() + 1);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"batch", "id", "decision", "old_label", "new_label",
                                               "reviewer", "decided_at", "applied", "revised",
                                               "original_decision", "original_new_label"}));
  int revised_rows = 0;
  for (std::size_t i = 0; i < decisions.size(); ++i) {
    const session::DecisionRecord& d = decisions[i];
    const auto& r = rows[i + 1];
    ASSERT_EQ(r.size(), 11u);
    EXPECT_EQ(r[0], std::to_string(d.batch));
    EXPECT_EQ(r[1], std::to_string(d.id));
    EXPECT_EQ(r[2], session::to_string(d.kind));
    EXPECT_EQ(r[3], s->class_name(d.old_label));
    EXPECT_EQ(r[4], d.kind == DecisionKind::kRelabel ? s->class_name(d.new_label) : "");
    EXPECT_EQ(r[5], d.reviewer);
    EXPECT_EQ(r[6], d.decided_at);
    EXPECT_EQ(r[7], "1");
    if (d.id == revised) {
      ++revised_rows;
      EXPECT_EQ(r[2], "keep") << "the final decision";
      EXPECT_EQ(r[5], "cy");
      EXPECT_EQ(r[8], "1");
      EXPECT_EQ(r[9], "relabel");
      EXPECT_EQ(r[10], "two");
    } else {
      EXPECT_EQ(r[8], "0");
      EXPECT_EQ(r[9], "");
      EXPECT_EQ(r[10], "");
    }
  }
  EXPECT_EQ(revised_rows, 1);
  // The page's table holds the same rows.
  const json table = json::parse(report_data_json(*s)).at("decisions");
  ASSERT_EQ(table.size(), decisions.size());
  for (std::size_t i = 0; i < decisions.size(); ++i) {
    EXPECT_EQ(table[i].at("id"), decisions[i].id);
    EXPECT_EQ(table[i].at("decision"), session::to_string(decisions[i].kind));
    EXPECT_EQ(table[i].at("revised"), decisions[i].id == revised);
  }
}

// Without a random audit there is no estimate of the errors left.
TEST_F(ReportTest, NoAuditNoEstimate) {
  EXPECT_TRUE(json::parse(report_data_json(*s)).at("audit").is_null());
}

// A random audit with 3 of 20 boxes fixed: the estimate is the share fixed with its 95 %
// Wilson interval (computed here from the formula) times the unseen boxes of the class.
TEST_F(ReportTest, AuditEstimatesTheErrorsLeftWithAWilsonInterval) {
  const Batch audit = s->next_batch(20, Context(), session::BatchSelection::kRandom);
  ASSERT_EQ(audit.items.size(), 20u);
  for (std::size_t i = 0; i < 3; ++i)
    s->record_decision({audit.items[i].id, DecisionKind::kDelete, 0, "ana"});
  s->apply(testing::keep_undecided());
  const session::SessionStatus st = s->status();
  ASSERT_EQ(st.audited, 20);
  ASSERT_EQ(st.audit_fixed, 3);
  const double n = 20, p = 3.0 / 20, z = 1.959963984540054;
  const double centre = (p + z * z / (2 * n)) / (1 + z * z / n);
  const double half = z * std::sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n);
  const json a = json::parse(report_data_json(*s)).at("audit");
  EXPECT_EQ(a.at("audited"), 20);
  EXPECT_EQ(a.at("fixed"), 3);
  EXPECT_EQ(a.at("unseen"), st.unseen);
  EXPECT_DOUBLE_EQ(a.at("share").get<double>(), p);
  EXPECT_NEAR(a.at("low").get<double>(), centre - half, 1e-12);
  EXPECT_NEAR(a.at("high").get<double>(), centre + half, 1e-12);
  const auto unseen = static_cast<double>(st.unseen);
  EXPECT_NEAR(a.at("wrong_unseen").get<double>(), p * unseen, 1e-9);
  EXPECT_NEAR(a.at("wrong_unseen_low").get<double>(), (centre - half) * unseen, 1e-9);
  EXPECT_NEAR(a.at("wrong_unseen_high").get<double>(), (centre + half) * unseen, 1e-9);
}

// The confusion matrix the pick computed, in its class order with class names; the class of
// interest's column and the largest off-diagonal cell are named. None when the class was given.
TEST(ReportConfusion, MatrixIsThePicksInItsOrder) {
  testing::TempDir dir;
  testing::write_blob_features(dir / "features", 12);
  session::SessionOptions o;
  o.features = dir / "features";
  o.class_of_interest = "five";
  EXPECT_TRUE(json::parse(report_data_json(Session::create(dir / "given", o))).at("confusion").is_null());

  // A matrix that came with the class: its values and order as given.
  o.confusion = session::ClassConfusion{{8, 2, 5}, {0.9, 0.0, 0.1,  //
                                                    0.05, 0.6, 0.35,  //
                                                    0.0, 0.2, 0.8},
                                        true};
  const json c = json::parse(report_data_json(Session::create(dir / "with", o))).at("confusion");
  EXPECT_EQ(c.at("classes"), (json{"eight", "two", "five"}));
  EXPECT_EQ(c.at("in_session"), (json{true, true, true}));
  EXPECT_EQ(c.at("normalized"), (json{{0.9, 0.0, 0.1}, {0.05, 0.6, 0.35}, {0.0, 0.2, 0.8}}));
  EXPECT_EQ(c.at("used_test_split"), true);
  EXPECT_EQ(c.at("class_of_interest"), 2);
  EXPECT_EQ(c.at("largest_off_diagonal"), (json{{"row", 1}, {"column", 2}, {"value", 0.35}}));

  // The pick's own matrix ("auto"): equal to class_confusion().
  o.confusion.reset();
  o.class_of_interest = "auto";
  const Session picked = Session::create(dir / "auto", o);
  const std::optional<session::ClassConfusion> want = picked.class_confusion();
  ASSERT_TRUE(want.has_value());
  const json got = json::parse(report_data_json(picked)).at("confusion");
  const std::size_t k = want->classes.size();
  ASSERT_EQ(got.at("classes").size(), k);
  std::size_t best_i = 0, best_j = 0;
  double best = -1.0;
  for (std::size_t i = 0; i < k; ++i) {
    EXPECT_EQ(got.at("classes")[i], picked.class_name(want->classes[i]));
    for (std::size_t j = 0; j < k; ++j) {
      const double v = want->normalized[i * k + j];
      EXPECT_DOUBLE_EQ(got.at("normalized")[i][j].get<double>(), v);
      if (i != j && v > best) {
        best = v;
        best_i = i;
        best_j = j;
      }
    }
    if (want->classes[i] == picked.class_of_interest()) {
      EXPECT_EQ(got.at("class_of_interest"), i);
    }
  }
  EXPECT_EQ(got.at("largest_off_diagonal").at("row"), best_i);
  EXPECT_EQ(got.at("largest_off_diagonal").at("column"), best_j);
  EXPECT_EQ(got.at("used_test_split"), want->used_test_split);
}

// The box checks' findings: counts per check as findings() holds them, flagged / reviewed /
// fixed as status counts them, and the command to review the rest while some are unreviewed.
TEST(ReportFindings, CountsFollowTheFindingsAndTheReview) {
  testing::CocoBlobs d;
  // Box 1003 is 1 px wide; box 1010 (image 3) lies on box 1006 (image 3).
  d.edit_coco([](SampleId id, Label&, detect::Box& b) {
    if (id == 1003) b.w = 1;
    if (id == 1010) b = {6.0, 2.0, 20.0, 30.0};
    return true;
  });
  session::SessionOptions o;
  o.features = d.features;
  o.coco = d.coco;
  o.images = d.images;
  o.class_of_interest = "five";
  Session s = Session::create(d.dir / "my session", o);
  auto check = [&](const Session& session) {
    const session::SessionStatus st = session.status();
    const json f = json::parse(report_data_json(session)).at("findings");
    std::map<std::string, std::int64_t> want;
    for (const session::BoxIssue& issue : session.findings()) ++want[issue.check];
    std::map<std::string, std::int64_t> got;
    for (const json& c : f.at("checks")) got[c.at("check")] = c.at("findings").get<std::int64_t>();
    EXPECT_EQ(got, want);
    EXPECT_EQ(f.at("checked"), true);
    EXPECT_EQ(f.at("flagged"), st.flagged);
    EXPECT_EQ(f.at("reviewed"), st.flagged_reviewed);
    EXPECT_EQ(f.at("fixed"), st.flagged_fixed);
    return f;
  };
  json f = check(s);
  EXPECT_GE(f.at("flagged").get<int>(), 3);
  EXPECT_EQ(f.at("reviewed"), 0);
  EXPECT_EQ(f.at("command"), "coreclean next 'my session' --findings") << "one shell word";

  // Review the flagged boxes: delete the degenerate one, keep the others.
  const Batch b = s.next_batch(100, Context(), session::BatchSelection::kFindings);
  ASSERT_FALSE(b.items.empty());
  s.record_decision({1003, DecisionKind::kDelete, 0, "ana"});
  s.apply(testing::keep_undecided());
  f = check(s);
  EXPECT_EQ(f.at("reviewed"), f.at("flagged"));
  EXPECT_EQ(f.at("fixed"), 1);
  EXPECT_TRUE(f.at("command").is_null()) << "nothing left to review";
}

}  // namespace
}  // namespace coreclean::report
