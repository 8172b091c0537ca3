// The review server over HTTP on a free loopback port: state, decisions committed to the
// database as they are made, undo, validation, the same-origin and Host rules, path traversal,
// apply and fetch the next batch.
#include <coreclean/core/error.h>
#include <coreclean/review/review_server.h>
#include <coreclean/session/session.h>

#include "testing/helpers.h"
#include "testing/session_fixtures.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace coreclean::review {
namespace {

using nlohmann::json;

struct StoredDecision {
  std::string decision;
  std::optional<Label> new_label;
  std::string reviewer;
  bool applied = false;
};

// The decisions table as another process sees it (read-only connection).
std::map<SampleId, StoredDecision> stored_decisions(const std::filesystem::path& db, int batch) {
  sqlite3* h = nullptr;
  EXPECT_EQ(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(h, "SELECT sample_id, decision, new_label, reviewer, applied FROM "
                                  "decisions WHERE batch = ?", -1, &st, nullptr), SQLITE_OK);
  sqlite3_bind_int(st, 1, batch);
  std::map<SampleId, StoredDecision> out;
  while (sqlite3_step(st) == SQLITE_ROW) {
    StoredDecision d;
    d.decision = reinterpret_cast<const char*>(sqlite3_column_text(st, 1));
    if (sqlite3_column_type(st, 2) != SQLITE_NULL) d.new_label = sqlite3_column_int64(st, 2);
    d.reviewer = reinterpret_cast<const char*>(sqlite3_column_text(st, 3));
    d.applied = sqlite3_column_int(st, 4) != 0;
    out[sqlite3_column_int64(st, 0)] = d;
  }
  sqlite3_finalize(st);
  sqlite3_close(h);
  return out;
}

class ReviewServerTest : public ::testing::Test {
 protected:
  testing::TempDir dir;
  std::unique_ptr<ReviewServer> server;
  std::thread thread;
  std::unique_ptr<httplib::Client> client;
  std::vector<SampleId> batch_ids;
  std::vector<int> exported;  // batches passed to the export hook
  int port = 0;

  void SetUp() override {
    testing::write_blob_features(dir / "features");
    session::SessionOptions o;
    o.features = dir / "features";
    o.class_of_interest = "five";
    session::Session s = session::Session::create(dir / "session", o);
    for (const session::BatchItem& it : s.next_batch(8).items) batch_ids.push_back(it.id);
    ReviewServerOptions options;
    options.port = 0;
    options.batch_size = 5;
    options.export_batch = [this](const session::Session&, const session::Batch& b) {
      exported.push_back(b.number);
    };
    server = std::make_unique<ReviewServer>(std::move(s), options);
    port = server->bind();
    thread = std::thread([this] { server->run(); });
    client = std::make_unique<httplib::Client>("127.0.0.1", port);
  }

  void TearDown() override {
    server->stop();
    thread.join();
  }

  httplib::Result post(const std::string& path, const json& body, httplib::Headers headers = {}) {
    return client->Post(path.c_str(), headers, body.dump(), "application/json");
  }

  json state() {
    auto r = client->Get("/api/state");
    EXPECT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    return json::parse(r->body);
  }

  std::filesystem::path db() const { return dir / "session" / "session.db"; }
};

TEST_F(ReviewServerTest, StateListsTheOpenBatchAndTheSessionClasses) {
  const json s = state();
  EXPECT_EQ(s.at("session"), "session");
  EXPECT_EQ(s.at("class_of_interest").at("name"), "five");
  ASSERT_EQ(s.at("classes").size(), 3u);
  EXPECT_EQ(s.at("classes")[0], (json{{"id", 2}, {"name", "two"}}));
  EXPECT_EQ(s.at("default_batch_size"), 5);
  EXPECT_EQ(s.at("atypical_weight"), 0.01) << "the session tree's weight";
  const json& batch = s.at("batch");
  EXPECT_EQ(batch.at("number"), 1);
  ASSERT_EQ(batch.at("items").size(), batch_ids.size());
  for (std::size_t i = 0; i < batch_ids.size(); ++i) {
    const json& it = batch.at("items")[i];
    EXPECT_EQ(it.at("id"), batch_ids[i]);
    EXPECT_EQ(it.at("label_name"), "five");
    EXPECT_TRUE(it.at("decision").is_null());
    EXPECT_TRUE(it.at("images").is_null()) << "the session has no images";
    // importance = −log(1 − misfit) + w · atypical (the surprisal of the label), w the tree's.
    const double misfit = it.at("misfit").get<double>(), importance = it.at("importance").get<double>();
    if (misfit < 1.0 - 1e-12)
      EXPECT_NEAR(importance, -std::log1p(-misfit) + 0.01 * it.at("atypical").get<double>(),
                  1e-6 * std::max(1.0, importance));
    // The held-out model's classes, most probable first, with the session's names.
    const json& probs = it.at("probabilities");
    ASSERT_EQ(probs.size(), 3u);
    double sum = 0.0;
    for (std::size_t k = 0; k < probs.size(); ++k) {
      sum += probs[k].at("p").get<double>();
      if (k > 0) {
        EXPECT_LE(probs[k].at("p").get<double>(), probs[k - 1].at("p").get<double>());
      }
      const Label id = probs[k].at("id").get<Label>();
      EXPECT_EQ(probs[k].at("name"), id == 2 ? "two" : id == 5 ? "five" : "eight");
    }
    EXPECT_NEAR(sum, 1.0, 1e-9);
  }
}

TEST_F(ReviewServerTest, DecisionsAreInTheDatabaseTheMomentTheyAreMade) {
  auto r = post("/api/decision", {{"id", batch_ids[0]}, {"decision", "relabel"}, {"new_label", "two"},
                                  {"reviewer", "ana"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  r = post("/api/decision", {{"id", batch_ids[1]}, {"decision", "relabel"}, {"new_label", 8}, {"reviewer", "ana"}});
  EXPECT_EQ(r->status, 200) << r->body;
  r = post("/api/decision", {{"id", batch_ids[2]}, {"decision", "delete"}, {"reviewer", "ben"}});
  EXPECT_EQ(r->status, 200) << r->body;
  r = post("/api/decision", {{"id", batch_ids[3]}, {"decision", "keep"}});
  EXPECT_EQ(r->status, 200) << r->body;
  // Read by another connection while the server runs: nothing waits for a shutdown.
  auto stored = stored_decisions(db(), 1);
  ASSERT_EQ(stored.size(), 4u);
  EXPECT_EQ(stored[batch_ids[0]].decision, "relabel");
  EXPECT_EQ(stored[batch_ids[0]].new_label, 2);
  EXPECT_EQ(stored[batch_ids[0]].reviewer, "ana");
  EXPECT_EQ(stored[batch_ids[1]].new_label, 8);
  EXPECT_EQ(stored[batch_ids[2]].decision, "delete");
  EXPECT_EQ(stored[batch_ids[2]].reviewer, "ben");
  EXPECT_EQ(stored[batch_ids[3]].decision, "keep");
  EXPECT_FALSE(stored[batch_ids[3]].applied);

  // A second decision on a box replaces the first; undo removes it.
  r = post("/api/decision", {{"id", batch_ids[0]}, {"decision", "keep"}, {"reviewer", "ana"}});
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(stored_decisions(db(), 1)[batch_ids[0]].decision, "keep");
  r = post("/api/undo", {{"id", batch_ids[0]}});
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body).at("removed"), true);
  EXPECT_EQ(stored_decisions(db(), 1).count(batch_ids[0]), 0u);
  r = post("/api/undo", {{"id", batch_ids[0]}});
  EXPECT_EQ(json::parse(r->body).at("removed"), false);

  // The state shows what is decided.
  const json items = state().at("batch").at("items");
  EXPECT_TRUE(items[0].at("decision").is_null());
  EXPECT_EQ(items[1].at("decision"),
            (json{{"decision", "relabel"}, {"new_label", 8}, {"new_label_name", "eight"}, {"reviewer", "ana"}}));
  EXPECT_EQ(items[2].at("decision").at("decision"), "delete");
}

// A burst of writes from many connections at once: each is either stored (200) or refused
// whole with 503 and Retry-After (more than max_waiting_writes waited for the session); the
// database holds exactly the decisions answered 200, and reads keep being answered meanwhile.
TEST_F(ReviewServerTest, ABurstOfWritesIsStoredOrRefusedWhole) {
  const std::size_t writers = batch_ids.size();
  std::vector<int> status(writers, 0);
  std::vector<std::string> retry_after(writers);
  std::vector<std::thread> threads;
  for (std::size_t w = 0; w < writers; ++w)
    threads.emplace_back([&, w] {
      httplib::Client own("127.0.0.1", port);
      const json body = {{"id", batch_ids[w]}, {"decision", "delete"}, {"reviewer", "burst"}};
      if (auto r = own.Post("/api/decision", body.dump(), "application/json")) {
        status[w] = r->status;
        retry_after[w] = r->get_header_value("Retry-After");
      }
    });
  EXPECT_FALSE(state().at("batch").at("items").empty());
  for (std::thread& t : threads) t.join();
  const auto stored = stored_decisions(db(), 1);
  for (std::size_t w = 0; w < writers; ++w) {
    SCOPED_TRACE(w);
    ASSERT_TRUE(status[w] == 200 || status[w] == 503) << status[w];
    EXPECT_EQ(stored.count(batch_ids[w]), status[w] == 200 ? 1u : 0u);
    if (status[w] == 503) EXPECT_EQ(retry_after[w], "1");
  }
}

// With no write allowed to wait, every write is refused with 503 and nothing is stored.
TEST(ReviewServer, WritesBeyondTheCapAreRefusedWith503) {
  testing::TempDir dir;
  testing::write_blob_features(dir / "features");
  session::SessionOptions o;
  o.features = dir / "features";
  o.class_of_interest = "five";
  session::Session s = session::Session::create(dir / "session", o);
  const SampleId id = s.next_batch(4).items.at(0).id;
  ReviewServerOptions options;
  options.port = 0;
  options.max_waiting_writes = 0;
  options.export_batch = [](const session::Session&, const session::Batch&) {};
  ReviewServer server(std::move(s), options);
  const int port = server.bind();
  std::thread thread([&] { server.run(); });
  httplib::Client client("127.0.0.1", port);
  const json body = {{"id", id}, {"decision", "delete"}};
  auto r = client.Post("/api/decision", body.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503) << r->body;
  EXPECT_EQ(r->get_header_value("Retry-After"), "1");
  EXPECT_NE(r->body.find("too many writes"), std::string::npos) << r->body;
  auto read = client.Get("/api/state");
  ASSERT_TRUE(read);
  EXPECT_EQ(read->status, 200);
  server.stop();
  thread.join();
  EXPECT_TRUE(stored_decisions(dir / "session" / "session.db", 1).empty());
}

TEST_F(ReviewServerTest, BadDecisionsAreRefusedWithTheReason) {
  auto expect_error = [&](const json& body, int status, const std::string& part) {
    auto r = post("/api/decision", body);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, status) << body.dump() << " → " << r->body;
    EXPECT_TRUE(testing::contains(json::parse(r->body).at("error"), part)) << r->body;
  };
  expect_error({{"id", 42}, {"decision", "keep"}}, 400, "42");
  expect_error({{"id", "x"}, {"decision", "keep"}}, 400, "\"id\" must be an integer");
  expect_error({{"decision", "keep"}}, 400, "\"id\" must be an integer");
  expect_error({{"id", batch_ids[0]}, {"decision", "maybe"}}, 400, "unknown decision 'maybe'");
  expect_error({{"id", batch_ids[0]}, {"decision", "relabel"}}, 400, "new_label");
  expect_error({{"id", batch_ids[0]}, {"decision", "relabel"}, {"new_label", "seven"}}, 400, "seven");
  expect_error({{"id", batch_ids[0]}, {"decision", "relabel"}, {"new_label", 3}}, 400, "3");
  expect_error({{"id", batch_ids[0]}, {"decision", "keep"}, {"reviewer", std::string(257, 'a')}}, 400,
               "reviewer");
  // Integers beyond int64 used to wrap to negative values (2^64 - 1 read as -1).
  const std::string id = std::to_string(batch_ids[0]);
  for (const auto& [body, part] : std::vector<std::pair<std::string, std::string>>{
           {R"({"id": 18446744073709551615, "decision": "keep"})",
            "\"id\" must be an integer sample id (at most 9223372036854775807), found "
            "18446744073709551615"},
           {R"({"id": 9223372036854775808, "decision": "keep"})", "found 9223372036854775808"},
           {R"({"id": 99999999999999999999999, "decision": "keep"})", "\"id\" must be an integer"},
           {R"({"id": )" + id + R"(, "decision": "relabel", "new_label": 18446744073709551615})",
            "\"new_label\" must be a class id (at most 9223372036854775807), found "
            "18446744073709551615"}}) {
    auto r = client->Post("/api/decision", body, "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << body << " → " << r->body;
    EXPECT_TRUE(testing::contains(json::parse(r->body).at("error"), part)) << r->body;
  }
  auto r = client->Post("/api/undo", R"({"id": 18446744073709551615})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  r = client->Post("/api/decision", "not json", "application/json");
  EXPECT_EQ(r->status, 400);
  EXPECT_TRUE(stored_decisions(db(), 1).empty()) << "nothing bad was recorded";
}

TEST_F(ReviewServerTest, CrossOriginAndForeignHostWritesAreRefused) {
  const json body = {{"id", batch_ids[0]}, {"decision", "delete"}};
  // A form post from another site cannot set a JSON content type.
  auto r = client->Post("/api/decision", body.dump(), "text/plain");
  EXPECT_EQ(r->status, 415);
  r = client->Post("/api/decision", body.dump(), "application/x-www-form-urlencoded");
  EXPECT_EQ(r->status, 415);
  r = post("/api/decision", body, {{"Origin", "http://evil.example"}});
  EXPECT_EQ(r->status, 403);
  r = post("/api/decision", body, {{"Sec-Fetch-Site", "cross-site"}});
  EXPECT_EQ(r->status, 403);
  r = post("/api/apply", json::object(), {{"Origin", "http://127.0.0.1:1"}});
  EXPECT_EQ(r->status, 403);
  // DNS rebinding: a foreign name resolving to 127.0.0.1 sends its own Host.
  httplib::Headers foreign = {{"Host", "evil.example:" + std::to_string(port)}};
  EXPECT_EQ(client->Get("/api/state", foreign)->status, 403);
  EXPECT_EQ(client->Post("/api/decision", foreign, body.dump(), "application/json")->status, 403);
  for (const std::string name : {"127.0.0.1.nip.io", "127.evil.example"}) {
    const std::string host = name + ":" + std::to_string(port);
    EXPECT_EQ(client->Get("/api/state", {{"Host", host}})->status, 403) << name;
    EXPECT_EQ(client->Post("/api/decision", {{"Host", host}, {"Origin", "http://" + host}},
                           body.dump(), "application/json")->status, 403) << name;
  }
  EXPECT_TRUE(stored_decisions(db(), 1).empty());
  // The page's own origin is fine.
  r = post("/api/decision", body, {{"Origin", "http://127.0.0.1:" + std::to_string(port)}});
  EXPECT_EQ(r->status, 200) << r->body;
  httplib::Headers localhost = {{"Host", "localhost:" + std::to_string(port)}};
  EXPECT_EQ(client->Get("/api/state", localhost)->status, 200);
}

TEST_F(ReviewServerTest, ServesOnlyThePageAndTheBatchRenderings) {
  const std::filesystem::path folder = dir / "session" / "batches" / "001";
  std::filesystem::create_directories(folder);
  testing::write_text(folder / (std::to_string(batch_ids[0]) + "_crop.jpg"), "jpeg bytes");
  SampleId outsider = 1000;  // a sample not in the batch
  while (std::count(batch_ids.begin(), batch_ids.end(), outsider) > 0) ++outsider;
  testing::write_text(folder / (std::to_string(outsider) + "_crop.jpg"), "other bytes");

  auto r = client->Get(("/batch/1/" + std::to_string(batch_ids[0]) + "_crop.jpg").c_str());
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "jpeg bytes");
  EXPECT_EQ(r->get_header_value("Content-Type"), "image/jpeg");
  EXPECT_EQ(state().at("batch").at("items")[0].at("images").at("crop"),
            "/batch/1/" + std::to_string(batch_ids[0]) + "_crop.jpg");
  EXPECT_EQ(client->Get(("/batch/1/" + std::to_string(outsider) + "_crop.jpg").c_str())->status, 404);
  EXPECT_EQ(client->Get(("/batch/2/" + std::to_string(batch_ids[0]) + "_crop.jpg").c_str())->status, 404);
  EXPECT_EQ(client->Get(("/batch/1/" + std::to_string(batch_ids[1]) + "_crop.jpg").c_str())->status, 404)
      << "in the batch, but not rendered";
  for (const char* path :
       {"/session.db", "/batch/1/../../session.db", "/batch/1/..%2F..%2Fsession.db",
        "/assets/../session.db", "/assets/..%2Fsession.db", "/assets/%2e%2e/session.db",
        "/batches/001/review.csv", "/tree.bin", "/assets/", "/batch/1/", "/etc/passwd",
        "/assets/review.js/../../session.db"})
    EXPECT_EQ(client->Get(path)->status, 404) << path;

  r = client->Get("/");
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(client->Get("/assets/review.js")->status, 200);
  EXPECT_EQ(client->Get("/assets/uPlot.iife.min.js")->status, 200);
  EXPECT_EQ(r->get_header_value("X-Content-Type-Options"), "nosniff");
}

TEST_F(ReviewServerTest, ApplyRecordsTheIterationAndOpensTheNextBatch) {
  ASSERT_EQ(post("/api/decision", {{"id", batch_ids[0]}, {"decision", "relabel"}, {"new_label", "two"}})->status, 200);
  auto r = post("/api/apply", {{"n", 0}});
  EXPECT_EQ(r->status, 400);
  // Undecided boxes are not kept unless the reviewer says so: nothing is applied.
  r = post("/api/apply", json::object());
  EXPECT_EQ(r->status, 400);
  EXPECT_TRUE(testing::contains(r->body, "7 of 8 boxes have no decision")) << r->body;
  EXPECT_EQ(post("/api/apply", {{"undecided", "maybe"}})->status, 400);
  EXPECT_TRUE(stored_decisions(db(), 1).size() == 1) << "nothing applied";
  r = post("/api/apply", {{"undecided", "keep"}});  // the server's batch size (5)
  ASSERT_EQ(r->status, 200) << r->body;
  const json answer = json::parse(r->body);
  EXPECT_EQ(answer.at("applied_batch"), 1);
  EXPECT_EQ(answer.at("next_batch"), 2);
  EXPECT_EQ(answer.at("items"), 5);
  EXPECT_EQ(exported, std::vector<int>{2});
  // Every box of batch 1 is decided now (the undecided ones as kept) and applied.
  const auto stored = stored_decisions(db(), 1);
  EXPECT_EQ(stored.size(), batch_ids.size());
  for (const auto& [id, d] : stored) {
    EXPECT_TRUE(d.applied);
    EXPECT_EQ(d.decision, id == batch_ids[0] ? "relabel" : "keep");
  }
  const json s = state();
  EXPECT_EQ(s.at("batch").at("number"), 2);
  EXPECT_EQ(s.at("status").at("iteration"), 1);
  EXPECT_EQ(s.at("status").at("relabelled"), 1);
  const json report = json::parse(client->Get("/api/report")->body);
  EXPECT_EQ(report.at("iterations").size(), 2u);
  EXPECT_EQ(report.at("iterations")[1].at("relabelled"), 1);
}

TEST_F(ReviewServerTest, SeesWhatAnotherProcessApplied) {
  {
    // `coreclean apply` in another process, while the page is open.
    session::Session other = session::Session::open(dir / "session");
    other.record_decision({batch_ids[0], session::DecisionKind::kRelabel, 2, "cli"});
    other.apply(testing::keep_undecided());
  }
  const json s = state();
  EXPECT_TRUE(s.at("batch").is_null());
  EXPECT_EQ(s.at("status").at("iteration"), 1);
  EXPECT_EQ(s.at("status").at("relabelled"), 1) << "labels reloaded from the database";
  // Fetching the next batch works on the reloaded session.
  auto r = post("/api/apply", {{"n", 3}});
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body).at("next_batch"), 2);
  EXPECT_TRUE(json::parse(r->body).at("applied_batch").is_null());
}

TEST_F(ReviewServerTest, SecondServerOnTheSamePortIsRefused) {
  // Two servers on one port would answer in turn from two sessions; the second bind must fail
  // and name the port, and the first keeps serving its own session.
  session::SessionOptions o;
  o.features = dir / "features";
  o.class_of_interest = "five";
  ReviewServerOptions options;
  options.port = port;
  ReviewServer second(session::Session::create(dir / "session-2", o), options);
  const std::string message = testing::error_of<IoError>([&] { second.bind(); });
  EXPECT_TRUE(testing::contains(message, fmt::format("127.0.0.1:{}", port)));
  EXPECT_TRUE(testing::contains(message, "--port"));
  EXPECT_EQ(second.port(), 0);
  EXPECT_EQ(state().at("batch").at("items").size(), batch_ids.size());
}

TEST_F(ReviewServerTest, HandleAnswersWithoutASocketAsTheNetworkServerDoes) {
  const std::string host = "127.0.0.1:" + std::to_string(port);
  auto ask = [&](const std::string& method, const std::string& target, const std::string& body = "",
                 std::multimap<std::string, std::string> headers = {}) {
    if (!headers.count("Host")) headers.emplace("Host", host);
    if (method == "POST" && !headers.count("Content-Type"))
      headers.emplace("content-type", "application/json");  // header names in any case
    return server->handle({method, target, std::move(headers), body});
  };
  HttpResponse r = ask("GET", "/api/state");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(json::parse(r.body), state());
  r = ask("GET", "/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(ask("HEAD", "/assets/review.js?v=1").status, 200);
  for (const char* path : {"/session.db", "/assets/..%2Fsession.db", "/api/state/", "/batch/1/x.jpg"})
    EXPECT_EQ(ask("GET", path).status, 404) << path;
  EXPECT_EQ(ask("PUT", "/api/decision").status, 404);
  EXPECT_EQ(ask("GET", "/assets/" + std::string(8000, 'a')).status, 404);  // the longest request line
  EXPECT_EQ(ask("GET", "/api/state?a?b").status, 400);
  EXPECT_EQ(ask("GET", "/api/state", "", {{"Host", "evil.example:" + std::to_string(port)}}).status, 403);

  const std::string body = json{{"id", batch_ids[0]}, {"decision", "delete"}}.dump();
  EXPECT_EQ(ask("POST", "/api/decision", body, {{"Content-Type", "text/plain"}}).status, 415);
  EXPECT_EQ(ask("POST", "/api/decision", body, {{"Origin", "http://evil.example"}}).status, 403);
  EXPECT_EQ(ask("POST", "/api/decision", std::string(64 * 1024 + 1, ' ')).status, 413);
  r = ask("POST", "/api/%64ecision", body);  // percent-decoded like the network server's paths
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(stored_decisions(db(), 1).at(batch_ids[0]).decision, "delete");
  EXPECT_EQ(state().at("status").at("pending"), 1) << "the network server sees the decision";
  r = ask("POST", "/api/undo", json{{"id", batch_ids[0]}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body).at("removed"), true);
  EXPECT_TRUE(stored_decisions(db(), 1).empty());
}

TEST(ReviewServerHost, LoopbackNames) {
  EXPECT_TRUE(is_loopback_host("127.0.0.1"));
  EXPECT_TRUE(is_loopback_host("127.1.2.3"));
  EXPECT_TRUE(is_loopback_host("localhost"));
  EXPECT_TRUE(is_loopback_host("::1"));
  EXPECT_FALSE(is_loopback_host("0.0.0.0"));
  EXPECT_FALSE(is_loopback_host("192.168.1.2"));
  EXPECT_FALSE(is_loopback_host("localhost.evil.example"));
  // Names that merely start like a loopback address can resolve anywhere (DNS rebinding).
  EXPECT_FALSE(is_loopback_host("127.evil.example"));
  EXPECT_FALSE(is_loopback_host("127.0.0.1.nip.io"));
  EXPECT_FALSE(is_loopback_host("127.0.0.1x"));
  EXPECT_FALSE(is_loopback_host(""));
}

}  // namespace
}  // namespace coreclean::review
