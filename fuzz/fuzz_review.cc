// The review server's requests (ReviewServer::handle, no socket): up to eight requests per
// input, each "METHOD TARGET\n", header lines "Name: value\n", an empty line and the body;
// requests are separated by a line "===". Host defaults to this server's (127.0.0.1:0) and
// Content-Type to application/json. Each input works on a fresh copy of a small session
// (60 samples, an open batch of 6). Contract: every answer is 2xx or 4xx (a 5xx means bad input
// reached an unexpected failure), JSON answers parse, and afterwards the session reopens with
// its pending decisions all in its open batch and counted by its status.
#include <coreclean/io/feature_set.h>
#include <coreclean/review/review_server.h>
#include <coreclean/session/session.h>

#include <nlohmann/json.hpp>

#include "fuzz_contract.h"

#include <algorithm>
#include <cstdio>
#include <string_view>
#include <vector>

namespace {

namespace fs = std::filesystem;
using namespace coreclean;

struct Fixture {
  fs::path root, pristine, work;
};

// Three well-separated classes (0, 1, 2 named "zero", "one", "two") of 20 samples in 4
// dimensions, two of class 1 stored as 0; a session on class 0 with its first batch open.
Fixture make_fixture() {
  Fixture f;
  f.root = fs::temp_directory_path() / ("coreclean-fuzz-review-" + std::to_string(::getpid()));
  fs::remove_all(f.root);
  f.pristine = f.root / "pristine";
  f.work = f.root / "work";
  io::FeatureSet features;
  Eigen::MatrixXf x(60, 4);
  std::uint32_t state = 12345;
  auto noise = [&] {
    state = state * 1664525u + 1013904223u;
    return static_cast<float>(state >> 8) / 16777216.0f - 0.5f;
  };
  for (int i = 0; i < 60; ++i) {
    const int label = i % 3;
    for (int j = 0; j < 4; ++j) x(i, j) = (j == label ? 4.0f : 0.0f) + noise();
    features.y_train.push_back(i == 1 || i == 4 ? 0 : label);
    features.ids.push_back(100 + i);
  }
  features.x_train = io::SampleMatrix(x);
  features.class_names = {{0, "zero"}, {1, "one"}, {2, "two"}};
  io::save_feature_set(f.root / "features", features);
  session::SessionOptions options;
  options.features = f.root / "features";
  options.class_of_interest = "zero";
  options.folds = 2;
  options.guidelines = "# Rules\nKeep what is a zero.";
  session::Session s = session::Session::create(f.pristine, options);
  s.next_batch(6);
  return f;
}

struct Request {
  std::string method, target;
  std::multimap<std::string, std::string> headers;
  std::string body;
};

Request parse_request(std::string_view text) {
  Request r;
  const std::size_t eol = std::min(text.find('\n'), text.size());
  const std::string_view line = text.substr(0, eol);
  const std::size_t space = line.find(' ');
  r.method = std::string(line.substr(0, space));
  if (space != std::string_view::npos) r.target = std::string(line.substr(space + 1));
  text.remove_prefix(std::min(eol + 1, text.size()));
  while (!text.empty()) {
    const std::size_t end = std::min(text.find('\n'), text.size());
    const std::string_view header = text.substr(0, end);
    text.remove_prefix(std::min(end + 1, text.size()));
    if (header.empty()) break;
    const std::size_t colon = header.find(':');
    std::string_view value =
        colon == std::string_view::npos ? std::string_view() : header.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    r.headers.emplace(std::string(header.substr(0, colon)), std::string(value));
  }
  r.body = std::string(text);
  auto has = [&](const char* name) {
    return std::any_of(r.headers.begin(), r.headers.end(), [&](const auto& h) {
      return h.first.size() == std::strlen(name) &&
             std::equal(h.first.begin(), h.first.end(), name,
                        [](char a, char b) { return std::tolower(a) == std::tolower(b); });
    });
  };
  if (!has("Host")) r.headers.emplace("Host", "127.0.0.1:0");
  if (!has("Content-Type")) r.headers.emplace("Content-Type", "application/json");
  return r;
}

[[noreturn]] void finding(const std::string& what) {
  std::fprintf(stderr, "finding: %s\n", what.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const Fixture fixture = make_fixture();
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<Request> requests;
  while (requests.size() < 8) {
    const std::size_t end = input.find("\n===\n");
    requests.push_back(parse_request(input.substr(0, end)));
    if (end == std::string_view::npos) break;
    input.remove_prefix(end + 5);
  }

  fs::remove_all(fixture.work);
  fs::copy(fixture.pristine, fixture.work, fs::copy_options::recursive);
  fuzz::expect_contract([&] {
    {
      review::ReviewServerOptions options;
      options.batch_size = 4;
      review::ReviewServer server(session::Session::open(fixture.work), options);
      for (const Request& r : requests) {
        const review::HttpResponse res = server.handle({r.method, r.target, r.headers, r.body});
        if (res.status < 200 || res.status >= 500)
          finding("status " + std::to_string(res.status) + " for " + r.method + " " + r.target +
                  ": " + res.body);
        if (res.content_type == "application/json" &&
            !nlohmann::json::accept(res.body))
          finding("an answer that is not JSON: " + res.body);
      }
    }
    // The database after the requests, as the next process sees it.
    const session::Session s = session::Session::open(fixture.work);
    const std::optional<session::Batch> open = s.open_batch();
    const std::vector<session::Decision> pending = s.pending_decisions();
    if (static_cast<std::int64_t>(pending.size()) != s.status().pending)
      finding("status().pending disagrees with pending_decisions()");
    for (const session::Decision& d : pending) {
      if (!open || std::none_of(open->items.begin(), open->items.end(),
                                [&](const session::BatchItem& it) { return it.id == d.id; }))
        finding("a pending decision for sample " + std::to_string(d.id) +
                " outside the open batch");
    }
  });
  return 0;
}
