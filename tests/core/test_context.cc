// The run-time context: seeded streams, cancellation, sinks.
#include <coreclean/core/context.h>
#include <coreclean/core/error.h>

#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>

#include <thread>

namespace coreclean {
namespace {

// The same (seed, stream) gives the same engine; different streams or seeds differ.
TEST(Context, RngStreamsAreDeterministicAndDistinct) {
  Context a, b;
  a.seed = b.seed = 7;
  EXPECT_EQ(a.rng(3)(), b.rng(3)());
  EXPECT_NE(a.rng(3)(), a.rng(4)());
  b.seed = 8;
  EXPECT_NE(a.rng(3)(), b.rng(3)());
}

// A cancellation request turns into an Error at the next check; sinks receive their calls.
TEST(Context, CancellationThrowsAndSinksReceive) {
  Context ctx;
  EXPECT_NO_THROW(ctx.throw_if_cancelled());
  ctx.cancel = true;
  EXPECT_THROW(ctx.throw_if_cancelled(), Error);
  std::string seen;
  ctx.logger = [&](LogLevel, std::string_view m) { seen = m; };
  ctx.log(LogLevel::kWarning, "hello");
  EXPECT_EQ(seen, "hello");
  EXPECT_GE(ctx.thread_count(), 1);
}

// Copies share the cancellation request: a copy made inside a call (e.g. to change the seed)
// still stops when the caller cancels later, and it stops with the Cancelled type.
TEST(Context, CopiesShareTheCancellationRequest) {
  Context caller;
  Context copy = caller;
  Context copy_of_copy(copy);
  EXPECT_NO_THROW(copy_of_copy.throw_if_cancelled());
  caller.cancel = true;
  EXPECT_THROW(copy.throw_if_cancelled(), Cancelled);
  EXPECT_THROW(copy_of_copy.throw_if_cancelled(), Cancelled);
  copy.cancel = false;
  EXPECT_NO_THROW(caller.throw_if_cancelled());
  Context fresh;
  EXPECT_FALSE(fresh.cancel) << "a new context has its own flag";
  caller.cancel.get()->store(true);  // as a signal handler does
  EXPECT_TRUE(copy.cancel);
  EXPECT_FALSE(fresh.cancel);
}

}  // namespace
}  // namespace coreclean

namespace coreclean {
namespace {

// threads = 0 means the cores the process may run on (its affinity), not all the machine's:
// a thread restricted to one core sees one.
TEST(Context, ThreadCountFollowsTheCpuAffinity) {
  int seen = 0;
  std::thread([&] {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    ASSERT_EQ(pthread_setaffinity_np(pthread_self(), sizeof(one), &one), 0);
    seen = Context().thread_count();
  }).join();
  EXPECT_EQ(seen, 1);
  EXPECT_EQ(Context().thread_count(), available_cores());
  Context fixed;
  fixed.threads = 3;
  EXPECT_EQ(fixed.thread_count(), 3);
}

}  // namespace
}  // namespace coreclean
