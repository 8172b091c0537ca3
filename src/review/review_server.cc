#include <coreclean/review/review_server.h>

#include <coreclean/core/error.h>
#include <coreclean/detect/coco.h>
#include <coreclean/report/report.h>
#include <coreclean/session/batch_export.h>

#include "report/report_data.h"
#include "web/web_assets.h"

#include <fmt/format.h>
#include <arpa/inet.h>
#include <sys/socket.h>  // for setsockopt
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <vector>

namespace coreclean::review {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::size_t kMaxBody = 64 * 1024;
// No route's path is longer; a longer one is answered 404 before any pattern sees it
// (std::regex matches recursively, one stack frame per character: an 8 KB path overflows the
// stack of a sanitizer build).
constexpr std::size_t kMaxPath = 1024;
constexpr std::size_t kMaxReviewer = 256;  // bytes of UTF-8
constexpr std::int64_t kMaxBatch = 100000;

/// An error answered with a status code and {"error": message}.
struct HttpError {
  int status;
  std::string message;
};

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  // Text from files (guidelines, CSV reviewer names) may not be UTF-8: replace, never fail.
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

json class_json(const session::Session& s, Label label) {
  return {{"id", label}, {"name", s.class_name(label)}};
}

}  // namespace

bool is_loopback_host(const std::string& host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  // An IPv4 literal in 127.0.0.0/8 — not merely a name that starts with "127." (a name like
  // 127.0.0.1.example.com can be made to resolve to the loopback: DNS rebinding).
  in_addr address{};
  return inet_pton(AF_INET, host.c_str(), &address) == 1 &&
         (ntohl(address.s_addr) >> 24) == 127;
}

struct ReviewServer::Impl {
  session::Session session;
  ReviewServerOptions options;
  Context context;
  httplib::Server server;
  std::mutex mutex;  // the session is not thread-safe; requests arrive on a thread pool
  std::atomic<int> writes{0};  // writes waiting for the session or running
  int port = 0;
  // stop() may come before run() has started listening (httplib's stop() is then a no-op):
  // each side announces itself before looking at the other, so one of them always sees it.
  std::atomic<bool> running{false}, stop_requested{false};
  std::map<SampleId, std::string> image_of;  // annotation id → image file name

  Impl(session::Session s, ReviewServerOptions o, const Context& c)
      : session(std::move(s)), options(std::move(o)), context(c) {
    if (!session.coco_path().empty()) {
      const detect::CocoDataset coco = detect::read_coco(session.coco_path());
      std::map<std::int64_t, const std::string*> file_of_image;
      for (const detect::CocoImage& im : coco.images) file_of_image[im.id] = &im.file_name;
      for (const detect::CocoAnnotation& a : coco.annotations)
        if (const auto f = file_of_image.find(a.image_id); f != file_of_image.end())
          image_of[a.id] = *f->second;
    }
    routes();
  }

  // ---- guards -------------------------------------------------------------------------------

  /// The Host header must name this server on a loopback binding: a page of another site that
  /// resolves its own name to 127.0.0.1 (DNS rebinding) sends its own name as Host.
  bool host_allowed(const httplib::Request& req) const {
    if (!is_loopback_host(options.host)) return true;
    const std::string host = req.get_header_value("Host");
    const std::string suffix = fmt::format(":{}", port);
    if (host.size() <= suffix.size() || host.compare(host.size() - suffix.size(), suffix.size(), suffix) != 0)
      return false;
    return is_loopback_host(host.substr(0, host.size() - suffix.size()));
  }

  /// Writes must come from this server's own page: JSON bodies (which a cross-site form cannot
  /// send without a CORS preflight we never grant) and no foreign Origin.
  void check_write(const httplib::Request& req) const {
    const std::string type = req.get_header_value("Content-Type");
    if (type.rfind("application/json", 0) != 0)
      throw HttpError{415, "writes need Content-Type: application/json"};
    if (req.get_header_value("Sec-Fetch-Site") == "cross-site")
      throw HttpError{403, "cross-origin write refused"};
    if (req.has_header("Origin")) {
      const std::string origin = req.get_header_value("Origin");
      if (origin != "http://" + req.get_header_value("Host"))
        throw HttpError{403, fmt::format("cross-origin write refused (Origin {})", origin)};
    }
  }

  static json parse_body(const httplib::Request& req) {
    if (req.body.size() > kMaxBody) throw HttpError{413, "request body too large"};
    json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object())
      throw HttpError{400, "the body must be a JSON object"};
    return body;
  }

  /// An integer field as int64. JSON numbers from 2^63 to 2^64 - 1 parse as unsigned, and
  /// get<std::int64_t>() would wrap them to negative values: they are refused, as are numbers
  /// beyond (parsed as floats).
  static std::int64_t body_int64(const json& value, std::string_view field,
                                 std::string_view expected) {
    if (!value.is_number_integer() ||
        (value.is_number_unsigned() &&
         value.get<std::uint64_t>() >
             static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))) {
      throw HttpError{400, fmt::format("\"{}\" must be {} (at most {}), found {}", field, expected,
                                       std::numeric_limits<std::int64_t>::max(), value.dump())};
    }
    return value.get<std::int64_t>();
  }

  static SampleId body_id(const json& body) {
    const auto it = body.find("id");
    if (it == body.end()) throw HttpError{400, "\"id\" must be an integer sample id"};
    return body_int64(*it, "id", "an integer sample id");
  }

  /// Another process (e.g. `coreclean apply`) committed to the session: reopen it so that
  /// the page never works on stale labels.
  void refresh_if_changed() {
    if (session.changed_elsewhere()) session = session::Session::open(session.dir(), context);
  }

  /// Runs `handler` under the session lock, turning errors into JSON answers.
  template <class Handler>
  void guarded(httplib::Response& res, Handler&& handler) {
    try {
      std::lock_guard lock(mutex);
      refresh_if_changed();
      send_json(res, 200, handler());
    } catch (const HttpError& e) {
      send_json(res, e.status, {{"error", e.message}});
    } catch (const InvalidArgument& e) {
      send_json(res, 400, {{"error", e.what()}});
    } catch (const std::exception& e) {
      send_json(res, 500, {{"error", e.what()}});
    }
  }

  /// guarded() for a write: check_write() first (it needs no session), then at most
  /// options.max_waiting_writes writes at once, running or waiting for the lock (503 beyond).
  template <class Handler>
  void guarded_write(const httplib::Request& req, httplib::Response& res, Handler&& handler) {
    try {
      check_write(req);
    } catch (const HttpError& e) {
      send_json(res, e.status, {{"error", e.message}});
      return;
    }
    struct Slot {
      std::atomic<int>& count;
      ~Slot() { --count; }
    } slot{writes};
    if (++writes > options.max_waiting_writes) {
      res.set_header("Retry-After", "1");
      send_json(res, 503, {{"error", "too many writes at once; try again in a second"}});
      return;
    }
    guarded(res, handler);
  }

  // ---- answers ------------------------------------------------------------------------------

  json decision_json(const session::Decision& d) const {
    json out = {{"decision", session::to_string(d.kind)}, {"reviewer", d.reviewer}};
    if (d.kind == session::DecisionKind::kRelabel) {
      out["new_label"] = d.new_label;
      out["new_label_name"] = session.class_name(d.new_label);
    }
    return out;
  }

  json batch_json(const session::Batch& b) const {
    std::map<SampleId, session::Decision> decided;
    if (!b.applied)
      for (const session::Decision& d : session.pending_decisions()) decided[d.id] = d;
    json items = json::array();
    const fs::path folder = session.batch_dir(b.number);
    for (const session::BatchItem& it : b.items) {
      json item = {{"id", it.id},
                   {"image", image_of.count(it.id) ? json(image_of.at(it.id)) : json(nullptr)},
                   {"label", it.label},
                   {"label_name", session.class_name(it.label)},
                   {"importance", it.importance},
                   {"misfit", it.misfit},
                   {"atypical", it.atypical},
                   {"suggested_label", it.suggested_label},
                   {"suggested_name", session.class_name(it.suggested_label)},
                   {"images", nullptr},
                   {"decision", nullptr}};
      if (fs::is_regular_file(folder / fmt::format("{}_crop.jpg", it.id))) {
        json views = json::object();
        for (const char* view : {"crop", "attention", "overlay"})
          views[view] = fmt::format("/batch/{}/{}_{}.jpg", b.number, it.id, view);
        item["images"] = std::move(views);
      }
      if (const auto d = decided.find(it.id); d != decided.end())
        item["decision"] = decision_json(d->second);
      json findings = json::array();
      for (const session::BoxIssue& f : session.findings(it.id))
        findings.push_back({{"check", f.check}, {"detail", f.detail},
                            {"other", f.other ? json(*f.other) : json(nullptr)}});
      item["findings"] = std::move(findings);
      const session::Suggestion suggestion = session.suggestion(it.id);
      item["suggestion"] = {{"decision", session::to_string(suggestion.kind)},
                            {"new_label", suggestion.kind == session::DecisionKind::kRelabel
                                              ? json(suggestion.new_label)
                                              : json(nullptr)},
                            {"new_label_name", suggestion.kind == session::DecisionKind::kRelabel
                                                   ? json(session.class_name(suggestion.new_label))
                                                   : json(nullptr)},
                            {"reason", suggestion.reason}};
      // The classes the held-out model weighs for this box (top 3), for an open batch only: the
      // tree then still scores the batch as it was drawn.
      item["probabilities"] = nullptr;
      if (!b.applied) {
        json probabilities = json::array();
        for (const auto& [label, p] : session.class_probabilities(it.id)) {
          if (probabilities.size() == 3) break;
          probabilities.push_back({{"id", label}, {"name", session.class_name(label)}, {"p", p}});
        }
        if (!probabilities.empty()) item["probabilities"] = std::move(probabilities);
      }
      items.push_back(std::move(item));
    }
    return {{"number", b.number}, {"applied", b.applied}, {"items", std::move(items)}};
  }

  json state_json() const {
    const session::SessionStatus st = session.status();
    json classes = json::array();
    for (Label c : session.classes()) classes.push_back(class_json(session, c));
    const session::IterationMetrics* last = st.iterations.empty() ? nullptr : &st.iterations.back();
    const std::optional<session::Batch> open = session.open_batch();
    return {{"session", session.dir().filename().string()},
            {"classes", std::move(classes)},
            {"class_of_interest", class_json(session, st.class_of_interest)},
            {"confused_with", class_json(session, st.confused_with)},
            {"guidelines", session.guidelines()},
            {"default_batch_size", options.batch_size},
            {"atypical_weight", st.atypical_weight},
            {"status",
             {{"iteration", last ? last->iteration : 0},
              {"auc", last ? json(last->auc) : json(nullptr)},
              {"reviewed", st.reviewed},
              {"exported", st.exported},
              {"pending", st.pending},
              {"relabelled", st.relabelled},
              {"deleted", st.deleted},
              {"class_size", st.class_size},
              {"batches", st.batches},
              {"plateaued", st.plateaued}}},
            {"batch", open ? batch_json(*open) : json(nullptr)}};
  }

  json record(const json& body) {
    const SampleId id = body_id(body);
    const auto kind_it = body.find("decision");
    if (kind_it == body.end() || !kind_it->is_string())
      throw HttpError{400, "\"decision\" must be keep, relabel or delete"};
    const auto kind = session::parse_decision_kind(kind_it->get<std::string>());
    if (!kind)
      throw HttpError{400, fmt::format("unknown decision '{}' (keep, relabel or delete)",
                                       kind_it->get<std::string>())};
    session::Decision d;
    d.id = id;
    d.kind = *kind;
    if (*kind == session::DecisionKind::kRelabel) {
      const auto label = body.find("new_label");
      if (label == body.end() || !(label->is_string() || label->is_number_integer()))
        throw HttpError{400, "relabel needs \"new_label\": a class name or id"};
      d.new_label = session.find_class(
          label->is_string() ? label->get<std::string>()
                             : std::to_string(body_int64(*label, "new_label", "a class id")));
    }
    if (const auto r = body.find("reviewer"); r != body.end() && !r->is_null()) {
      if (!r->is_string()) throw HttpError{400, "\"reviewer\" must be a string"};
      d.reviewer = r->get<std::string>();
      if (d.reviewer.size() > kMaxReviewer)
        throw HttpError{400, fmt::format("\"reviewer\" is longer than {} bytes", kMaxReviewer)};
    }
    if (!session.open_batch()) throw HttpError{409, "no batch is open: fetch the next batch"};
    session.record_decision(d);
    return {{"ok", true}, {"decision", decision_json(d)}};
  }

  json apply(const json& body) {
    std::int64_t n = options.batch_size;
    if (const auto it = body.find("n"); it != body.end() && !it->is_null()) {
      if (!it->is_number_integer() || it->get<std::int64_t>() < 1 || it->get<std::int64_t>() > kMaxBatch)
        throw HttpError{400, fmt::format("\"n\" must be an integer from 1 to {}", kMaxBatch)};
      n = it->get<std::int64_t>();
    }
    session::ApplyOptions apply_options;
    apply_options.read_batch_csv = false;  // the page applies what it shows
    if (const auto it = body.find("undecided"); it != body.end() && !it->is_null()) {
      const std::optional<session::UndecidedPolicy> policy =
          it->is_string() ? session::parse_undecided_policy(it->get<std::string>()) : std::nullopt;
      if (!policy) throw HttpError{400, "\"undecided\" must be \"keep\" or \"return\""};
      apply_options.undecided = *policy;
    }
    const session::ApplyReport report = session.apply(apply_options, context);
    const session::Batch next = session.next_batch(n, context);
    if (!next.items.empty()) {
      if (options.export_batch) options.export_batch(session, next);
      else session::export_batch(session, next, context);
    }
    return {{"ok", true},
            {"applied_batch", report.batch > 0 ? json(report.batch) : json(nullptr)},
            {"auc", report.batch > 0 && report.metrics.reviewed > 0 ? json(report.metrics.auc) : json(nullptr)},
            {"next_batch", next.items.empty() ? json(nullptr) : json(next.number)},
            {"items", next.items.size()}};
  }

  // ---- routes -------------------------------------------------------------------------------

  void serve_asset(httplib::Response& res, const std::string& name) {
    const std::optional<web::Asset> asset = web::find_asset(name);
    if (!asset) {
      res.status = 404;
      return;
    }
    res.set_header("Cache-Control", "no-cache");
    res.set_content(std::string(asset->content), std::string(asset->mime));
  }

  /// The security headers every answer carries, and the Host check: true when the request is
  /// answered here (403; 404 for a path longer than any route), false when it goes on to the
  /// routes.
  bool pre_route(const httplib::Request& req, httplib::Response& res) {
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("X-Frame-Options", "DENY");
    res.set_header("Referrer-Policy", "no-referrer");
    res.set_header("Content-Security-Policy",
                   "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                   "frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
    if (req.path.size() > kMaxPath) {
      res.status = 404;
      return true;
    }
    if (host_allowed(req)) return false;
    send_json(res, 403, {{"error", "unexpected Host header"}});
    return true;
  }

  /// A route: method, pattern matched against the whole decoded path, handler.
  struct Route {
    const char* method;
    const char* pattern_text;
    std::regex pattern;
    std::function<void(const httplib::Request&, const std::smatch&, httplib::Response&)> handler;
  };
  std::vector<Route> route_table;

  /// Answers a request that passed pre_route(): the first route whose method and pattern
  /// match, else 404 (HEAD is answered like GET).
  void route(const httplib::Request& req, httplib::Response& res) {
    const std::string method = req.method == "HEAD" ? "GET" : req.method;
    std::smatch match;
    for (const Route& r : route_table) {
      if (method == r.method && std::regex_match(req.path, match, r.pattern)) {
        r.handler(req, match, res);
        return;
      }
    }
    res.status = 404;
  }

  void routes() {
    using Handler = decltype(Route::handler);
    auto add = [this](const char* method, const char* pattern, Handler handler) {
      route_table.push_back({method, pattern, std::regex(pattern), std::move(handler)});
    };
    add("GET", "/", [this](const httplib::Request&, const std::smatch&, httplib::Response& res) {
      serve_asset(res, "review.html");
    });
    add("GET", R"(/assets/([A-Za-z0-9_.-]+))",
        [this](const httplib::Request&, const std::smatch& m, httplib::Response& res) {
          serve_asset(res, m[1]);
        });
    add("GET", "/api/state", [this](const httplib::Request&, const std::smatch&, httplib::Response& res) {
      guarded(res, [&] { return state_json(); });
    });
    add("GET", "/api/report", [this](const httplib::Request&, const std::smatch&, httplib::Response& res) {
      guarded(res, [&] {
        report::ReportOptions o;
        o.max_examples = 0;
        o.embed_images = false;
        return report::detail::report_data(session, o);
      });
    });
    add("GET", R"(/batch/(\d{1,6})/(\d{1,19})_(crop|attention|overlay)\.jpg)",
        [this](const httplib::Request&, const std::smatch& m, httplib::Response& res) {
          serve_image(m, res);
        });
    add("POST", "/api/decision",
        [this](const httplib::Request& req, const std::smatch&, httplib::Response& res) {
          guarded_write(req, res, [&] { return record(parse_body(req)); });
        });
    add("POST", "/api/undo", [this](const httplib::Request& req, const std::smatch&, httplib::Response& res) {
      guarded_write(req, res, [&] {
        const SampleId id = body_id(parse_body(req));
        json removed = nullptr;
        for (const session::Decision& d : session.pending_decisions())
          if (d.id == id) removed = decision_json(d);
        const bool done = session.undo_decision(id);
        return json{{"ok", true}, {"removed", done}, {"decision", done ? removed : json(nullptr)}};
      });
    });
    add("POST", "/api/apply", [this](const httplib::Request& req, const std::smatch&, httplib::Response& res) {
      guarded_write(req, res, [&] { return apply(parse_body(req)); });
    });

    // The network server: httplib parses the request and matches the same patterns (a path
    // without a route is its 404), the routes above answer it.
    server.set_payload_max_length(kMaxBody);
    server.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      return pre_route(req, res) ? httplib::Server::HandlerResponse::Handled
                                 : httplib::Server::HandlerResponse::Unhandled;
    });
    for (const Route& r : route_table) {
      auto handler = [this, &r](const httplib::Request& req, httplib::Response& res) {
        r.handler(req, req.matches, res);
      };
      if (std::string_view(r.method) == "GET") server.Get(r.pattern_text, handler);
      else server.Post(r.pattern_text, handler);
    }
  }

  /// Only renderings of boxes that belong to the batch are served; any failure is a 404
  /// (never a message that would reveal paths).
  void serve_image(const std::smatch& match, httplib::Response& res) {
    res.status = 404;
    fs::path file;
    try {
      const int number = std::stoi(match[1]);
      const SampleId id = std::stoll(match[2]);
      {
        std::lock_guard lock(mutex);
        const session::Batch batch = session.batch(number);
        const bool member = std::any_of(batch.items.begin(), batch.items.end(),
                                        [&](const session::BatchItem& it) { return it.id == id; });
        if (!member) return;
        file = session.batch_dir(number) / fmt::format("{}_{}.jpg", id, std::string(match[3]));
      }
      std::ifstream in(file, std::ios::binary);
      if (!in) return;
      std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      res.status = 200;
      res.set_header("Cache-Control", "private, max-age=3600");
      res.set_header("Cross-Origin-Resource-Policy", "same-origin");
      res.set_content(std::move(bytes), "image/jpeg");
    } catch (const std::exception&) {
      res.status = 404;
    }
  }
};

ReviewServer::ReviewServer(session::Session session, ReviewServerOptions options,
                           const Context& context)
    : impl_(std::make_unique<Impl>(std::move(session), std::move(options), context)) {}

ReviewServer::~ReviewServer() { stop(); }

int ReviewServer::bind() {
  Impl& i = *impl_;
  // httplib's default options set SO_REUSEPORT, with which a second server binds the same port
  // and the kernel spreads requests over both (two sessions answering in turn). SO_REUSEADDR
  // alone still allows a quick restart (sockets in TIME_WAIT) but makes a second bind fail.
  i.server.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  if (i.options.port == 0) {
    i.port = i.server.bind_to_any_port(i.options.host);
    if (i.port < 0) i.port = 0;
  } else if (i.server.bind_to_port(i.options.host, i.options.port)) {
    i.port = i.options.port;
  }
  if (i.port <= 0)
    throw IoError(fmt::format(
        "cannot listen on {}:{}: port {} is in use (is another review running?) or the address "
        "is not available; choose another port with --port",
        i.options.host, i.options.port, i.options.port));
  return i.port;
}

void ReviewServer::run() {
  Impl& i = *impl_;
  if (i.port <= 0) throw InvalidArgument("ReviewServer::run() before a successful bind()");
  i.running = true;
  if (!i.stop_requested) i.server.listen_after_bind();
  i.running = false;
}

void ReviewServer::stop() {
  if (!impl_) return;
  Impl& i = *impl_;
  i.stop_requested = true;
  // run() has started: wait until its loop listens, then end it.
  while (i.running && !i.server.is_running())
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  i.server.stop();
}


int ReviewServer::port() const { return impl_->port; }

HttpResponse ReviewServer::handle(const HttpRequest& request) {
  Impl& i = *impl_;
  httplib::Request req;
  httplib::Response res;
  req.method = request.method;
  req.target = request.target;
  req.body = request.body;
  for (const auto& [name, value] : request.headers) req.headers.emplace(name, value);
  // As httplib reads a request line: the path (percent-decoded) and the query after the first
  // '?'; a second '?' makes the request malformed.
  const std::size_t question = request.target.find('?');
  req.path = httplib::detail::decode_url(request.target.substr(0, question), false);
  if (question != std::string::npos) {
    const std::string query = request.target.substr(question + 1);
    if (query.find('?') != std::string::npos) return {400, "", ""};
    if (!query.empty()) httplib::detail::parse_query_text(query, req.params);
  }
  if (!i.pre_route(req, res)) {
    if (req.body.size() > kMaxBody) {
      res.status = 413;  // httplib refuses such a body before the routes
    } else {
      i.route(req, res);
    }
  }
  return {res.status == -1 ? 200 : res.status, res.get_header_value("Content-Type"),
          std::move(res.body)};
}

}  // namespace coreclean::review
