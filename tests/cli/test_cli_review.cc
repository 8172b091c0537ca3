// `coreclean review` as a process: decisions posted to the page's API survive SIGKILL of the
// server at random moments (each answered decision is in the database, the database stays
// consistent), and applying afterwards uses them.
#include <coreclean/session/session.h>

#include "testing/helpers.h"
#include "testing/session_fixtures.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <csignal>
#include <fcntl.h>
#include <map>
#include <mutex>
#include <optional>
#include <poll.h>
#include <random>
#include <regex>
#include <spawn.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace coreclean::cli {
namespace {

using nlohmann::json;

struct Server {
  pid_t pid = 0;
  int port = 0;
};

// Starts `coreclean review SESSION --port 0` and reads the port from its first line.
Server start_review(const std::filesystem::path& session) {
  std::vector<std::string> all = {CORECLEAN_CLI_PATH, "review", session.string(), "--port", "0"};
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  Server server;
  const int rc = posix_spawn(&server.pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) throw std::runtime_error("posix_spawn failed");
  std::string line;
  char c = 0;
  pollfd p{fds[0], POLLIN, 0};
  while (line.find('\n') == std::string::npos && poll(&p, 1, 30000) > 0 && read(fds[0], &c, 1) == 1)
    line += c;
  close(fds[0]);
  std::smatch m;
  if (!std::regex_search(line, m, std::regex(R"(http://127\.0\.0\.1:(\d+)/)")))
    throw std::runtime_error("no address in the server's first line: " + line);
  server.port = std::stoi(m[1]);
  return server;
}

// (decision, new_label) of the pending decisions of batch 1, by sample id.
using Stored = std::map<SampleId, std::pair<std::string, Label>>;

Stored stored(const std::filesystem::path& db_path, std::string* integrity = nullptr) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* st = nullptr;
  if (integrity) {
    sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr);
    while (sqlite3_step(st) == SQLITE_ROW) *integrity += reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
  }
  sqlite3_prepare_v2(db, "SELECT sample_id, decision, coalesce(new_label, -1) FROM decisions WHERE batch = 1",
                     -1, &st, nullptr);
  Stored out;
  while (sqlite3_step(st) == SQLITE_ROW)
    out[sqlite3_column_int64(st, 0)] = {reinterpret_cast<const char*>(sqlite3_column_text(st, 1)),
                                        sqlite3_column_int64(st, 2)};
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

TEST(CliReview, PortInUseExitsWithTwoNamingThePort) {
  // A second `coreclean review` on a port another one serves fails instead of sharing it.
  testing::TempDir dir;
  testing::write_blob_features(dir / "features");
  for (const char* name : {"session-a", "session-b"}) {
    session::SessionOptions o;
    o.features = dir / "features";
    o.class_of_interest = "five";
    session::Session::create(dir / name, o);
  }
  const Server first = start_review(dir / "session-a");
  const testing::CommandResult second = testing::run_command(
      testing::shell_quote(CORECLEAN_CLI_PATH) + " review " +
      testing::shell_quote((dir / "session-b").string()) + " --port " + std::to_string(first.port));
  kill(first.pid, SIGTERM);
  int status = 0;
  waitpid(first.pid, &status, 0);
  EXPECT_EQ(second.exit_code, 2) << second.output;
  EXPECT_TRUE(testing::contains(second.output, "127.0.0.1:" + std::to_string(first.port)));
  EXPECT_TRUE(testing::contains(second.output, "in use"));
  // The server that could not start exported no batch.
  EXPECT_EQ(session::Session::open(dir / "session-b").status().batches, 0);
  EXPECT_FALSE(std::filesystem::exists(dir / "session-b" / "batches"));
}

TEST(CliReview, DecisionsSurviveSigkillOfTheServer) {
  testing::TempDir dir;
  const testing::BlobFeatures blobs = testing::write_blob_features(dir / "features");
  const std::filesystem::path session_dir = dir / "session";
  std::vector<SampleId> ids;
  {
    session::SessionOptions o;
    o.features = dir / "features";
    o.class_of_interest = "five";
    session::Session s = session::Session::create(session_dir, o);
    for (const auto& it : s.next_batch(40).items) ids.push_back(it.id);
  }
  const std::filesystem::path db = session_dir / "session.db";
  std::mt19937_64 rng(20261128);
  // What the database must hold: the last answered change per id (absent = undone / never).
  std::map<SampleId, std::optional<std::pair<std::string, Label>>> answered;
  int kills = 0, answered_total = 0, killed_in_flight = 0;
  for (int round = 0; round < 30; ++round) {
    const Server server = start_review(session_dir);
    std::mutex mutex;
    std::optional<std::pair<SampleId, std::optional<std::pair<std::string, Label>>>> in_flight;
    std::atomic<bool> stop{false};
    std::atomic<int> answered_in_round{0};
    std::thread client_thread([&, seed = rng()] {
      std::mt19937_64 r(seed);
      httplib::Client client("127.0.0.1", server.port);
      client.set_connection_timeout(2);
      client.set_read_timeout(2);
      while (!stop) {
        const SampleId id = ids[r() % ids.size()];
        const int what = static_cast<int>(r() % 4);
        std::optional<std::pair<std::string, Label>> change;
        json body = {{"id", id}, {"reviewer", "kill-test"}};
        std::string path = "/api/decision";
        if (what == 0) body["decision"] = "keep", change = {{"keep", -1}};
        if (what == 1) body["decision"] = "delete", change = {{"delete", -1}};
        if (what == 2) body["decision"] = "relabel", body["new_label"] = "two", change = {{"relabel", 2}};
        if (what == 3) path = "/api/undo";
        { std::lock_guard lock(mutex); in_flight = {{id, change}}; }
        const auto res = client.Post(path.c_str(), body.dump(), "application/json");
        if (!res || res->status != 200) break;  // the server is gone
        std::lock_guard lock(mutex);
        answered[id] = change;
        in_flight.reset();
        ++answered_in_round;
      }
    });
    // Kill after a random number of answered writes (0–19), at a random moment within the
    // next request: between requests, or while one is being handled.
    const int after = static_cast<int>(rng() % 20);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (answered_in_round < after && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 1500));
    kill(server.pid, SIGKILL);
    int status = 0;
    waitpid(server.pid, &status, 0);
    if (WIFSIGNALED(status)) ++kills;
    stop = true;
    client_thread.join();

    answered_total += answered_in_round;
    if (in_flight) ++killed_in_flight;
    std::string integrity;
    const Stored now = stored(db, &integrity);
    ASSERT_EQ(integrity, "ok") << "round " << round;
    std::set<SampleId> all(ids.begin(), ids.end());
    for (SampleId id : all) {
      const auto a = answered.find(id);
      const std::optional<std::pair<std::string, Label>> expected =
          a == answered.end() ? std::nullopt : a->second;
      const auto s = now.find(id);
      const std::optional<std::pair<std::string, Label>> got =
          s == now.end() ? std::nullopt : std::optional(s->second);
      if (got == expected) continue;
      // Only the request in flight at the kill may have landed without an answer.
      ASSERT_TRUE(in_flight && in_flight->first == id && in_flight->second == got)
          << "round " << round << ", id " << id;
      answered[id] = got;
    }
  }
  EXPECT_EQ(kills, 30);
  // The kills landed on a server that was answering: many writes went through, and some kills
  // hit a request in flight.
  EXPECT_GE(answered_total, 150);
  EXPECT_GE(killed_in_flight, 5);

  // Applying afterwards uses exactly the stored decisions.
  const Stored final_decisions = stored(db);
  session::Session s = session::Session::open(session_dir);
  s.apply(testing::keep_undecided());
  const Labels labels = s.corrected_labels(-1);
  for (const auto& [id, d] : final_decisions) {
    const Label expected = d.first == "relabel" ? 2 : d.first == "delete" ? -1 : 5;
    EXPECT_EQ(labels[static_cast<std::size_t>(id - 1000)], expected) << id;
  }
  EXPECT_EQ(blobs.truth.size(), labels.size());
}

}  // namespace
}  // namespace coreclean::cli
