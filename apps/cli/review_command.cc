#include "review_command.h"

#include "cli_common.h"
#include "session_commands.h"

#include <coreclean/review/review_server.h>
#include <coreclean/session/session.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <thread>

namespace coreclean::cli {
namespace {

std::atomic<bool> g_interrupted{false};
extern "C" void on_interrupt(int) { g_interrupted = true; }

}  // namespace

CLI::App* add_review_command(CLI::App& app, ReviewCommandOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "review",
      "Serve the local review page of a session: the open batch (the next one is exported when "
      "none is open), box by box with its renderings and why it scored high. Keyboard: k keep, "
      "d delete, 1-9 relabel, / class picker, arrows move, u undo, g guidelines, Shift+A apply "
      "and fetch the next batch. Every decision is saved in session.db the moment it is made. "
      "Ctrl+C stops the server.");
  cmd->add_option("session", o.session, "Session folder")->required();
  cmd->add_option("--host", o.host,
                  "Address to listen on; anything but 127.0.0.1 lets other machines change "
                  "the session's labels")
      ->capture_default_str();
  cmd->add_option("--port", o.port, "Port (0 = any free port)")->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("-n,--size", o.batch_size, "Boxes per batch fetched from the page")
      ->capture_default_str()->check(CLI::PositiveNumber);
  return cmd;
}

int run_review(const ReviewCommandOptions& o, Context& context, std::ostream& out,
               std::ostream& err) {
  session::Session s = session::Session::open(o.session, context);
  review::ReviewServerOptions options;
  options.host = o.host;
  options.port = o.port;
  options.batch_size = o.batch_size;
  const std::string name = s.dir().string();
  review::ReviewServer server(std::move(s), options, context);
  const int port = server.bind();
  // The first batch is exported only once the port is ours: a server that cannot start leaves
  // the session as it was. The server notices the commit and reopens its session.
  std::optional<session::Batch> open;
  {
    session::Session fresh = session::Session::open(o.session, context);
    if (!fresh.open_batch()) {
      const session::Batch b = fresh.next_batch(o.batch_size, context);
      if (!b.items.empty()) export_batch(fresh, b, context);
    }
    open = fresh.open_batch();
  }
  if (!review::is_loopback_host(o.host))
    err << fmt::format(
        "coreclean: warning: listening on {}: anyone who can reach this address can read the "
        "session's images and change its labels\n", o.host);
  const std::string shown_host = o.host.find(':') != std::string::npos ? "[" + o.host + "]" : o.host;
  out << fmt::format("coreclean review: http://{}:{}/  (session {}, {}; Ctrl+C stops, every "
                     "decision is already saved)\n",
                     shown_host, port, name,
                     open ? fmt::format("batch {} of {} boxes", open->number, open->items.size())
                          : std::string("every box of the class has been reviewed"))
      << std::flush;

  g_interrupted = false;
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  std::atomic<bool> done{false};
  std::thread watcher([&] {
    while (!done) {
      if (g_interrupted || context.cancel) {
        server.stop();
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  server.run();
  done = true;
  watcher.join();
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  out << "coreclean review: stopped\n";
  return kExitOk;
}

}  // namespace coreclean::cli
