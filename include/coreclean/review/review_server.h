#ifndef CORECLEAN_REVIEW_REVIEW_SERVER_H_
#define CORECLEAN_REVIEW_REVIEW_SERVER_H_
/// @file
/// The review page's local web server: serves the open batch of a session to a browser, takes
/// the reviewer's decisions one by one (each committed to `session.db` the moment it is made)
/// and runs "apply and fetch the next batch" with the same code as `coreclean apply` and `next`.
///
/// HTTP interface (JSON; the page is embedded in the binary, see web/src/review.*):
///   GET  /                       the page;  GET /assets/NAME   its scripts and styles
///   GET  /api/state              session, classes, guidelines, status, open batch + decisions
///   GET  /api/report             the report data (charts tab), as report::report_data_json
///   GET  /batch/N/ID_VIEW.jpg    a rendering of a box of batch N (VIEW = crop|attention|overlay)
///   POST /api/decision           {"id", "decision": keep|relabel|delete, "new_label", "reviewer"}
///   POST /api/undo               {"id"} → {"removed": bool, "decision": the removed one}
///   POST /api/apply              {"n"}: apply the open batch (if any), then export the next n
///                                boxes (so with no open batch it just fetches the next one)
/// Security: only the files above are served (anything else, e.g. a path with "..", is 404);
/// writes need `Content-Type: application/json` and a same-origin request (an `Origin` that is
/// not this server, or `Sec-Fetch-Site: cross-site`, gets 403); on a loopback address the
/// `Host` header must name the loopback (a defence against DNS rebinding).

#include <coreclean/core/context.h>
#include <coreclean/session/session.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace coreclean::review {

/// How the server runs.
struct ReviewServerOptions {
  std::string host = "127.0.0.1";  ///< address to bind; anything but loopback exposes the session
  int port = 8765;                 ///< 0 = any free port (see ReviewServer::port())
  std::int64_t batch_size = 60;    ///< default size of the batch "apply and fetch next" exports
  /// Writes (POST) that may run or wait for the session at once; one more is answered 503 with
  /// Retry-After: 1, so that a burst of writes cannot hold every server thread while the page's
  /// reads wait behind them. 0 (or less) refuses every write.
  int max_waiting_writes = 4;
  /// Writes the files of each batch the page fetches; empty = session::export_batch (what
  /// `coreclean next` writes). Set it to observe or replace the export.
  std::function<void(const session::Session&, const session::Batch&)> export_batch;
};

/// A request as the server sees it once the HTTP framing is read (see ReviewServer::handle).
struct HttpRequest {
  std::string method;  ///< "GET", "POST", …
  std::string target;  ///< the request line's target: a percent-encoded path, optionally "?query"
  std::multimap<std::string, std::string> headers;  ///< header name (any case) → value
  std::string body;    ///< the request body, as sent
};

/// The server's answer to an HttpRequest.
struct HttpResponse {
  int status = 0;            ///< HTTP status code
  std::string content_type;  ///< the Content-Type header; empty when there is no body
  std::string body;          ///< the response body
};

/// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback_host(const std::string& host);

/// A review server over one open session (the server owns it while it runs).
class ReviewServer {
 public:
  ReviewServer(session::Session session, ReviewServerOptions options,
               const Context& context = Context());
  ~ReviewServer();
  ReviewServer(const ReviewServer&) = delete;
  ReviewServer& operator=(const ReviewServer&) = delete;

  /// Binds the address; returns the port (the chosen one when options.port is 0). Throws
  /// IoError naming host and port when the address cannot be bound, e.g. when another server
  /// (of this or any process) listens on the port: the port is never shared.
  int bind();
  /// Serves requests until stop() is called (blocks). bind() must have succeeded.
  void run();
  /// Makes run() return (from any thread; also before run() has started). The destructor
  /// calls it; join the thread that runs run() before destroying the server.
  void stop();
  /// Answers one request as the network server does (the same Host and same-origin rules,
  /// routes and handlers; a body over 64 KiB is 413, as the network server's parser answers;
  /// a method or path without a route is 404), without a socket. Safe to call while run()
  /// serves. The Host rule compares against port(), which is 0 before bind().
  HttpResponse handle(const HttpRequest& request);
  /// The bound port (0 before bind()).
  [[nodiscard]] int port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace coreclean::review

#endif  // CORECLEAN_REVIEW_REVIEW_SERVER_H_
