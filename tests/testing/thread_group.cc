#include "testing/thread_group.h"

#include <coreclean/core/error.h>

#include <algorithm>
#include <barrier>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace coreclean::testing {
namespace {

// State shared by the members: each publishes a pointer to its data, and barriers order the
// reads and writes.
struct Shared {
  explicit Shared(int size) : barrier(size), slots(static_cast<std::size_t>(size)), sizes(slots.size()) {}
  std::barrier<> barrier;
  std::vector<const std::byte*> slots;
  std::vector<std::size_t> sizes;
};

class ThreadMember final : public Collective {
 public:
  ThreadMember(Shared& shared, int rank) : shared_(shared), rank_(rank) {}
  [[nodiscard]] int rank() const override { return rank_; }
  [[nodiscard]] int size() const override { return static_cast<int>(shared_.slots.size()); }

  void sum(std::span<double> values) const override {
    publish(std::as_bytes(values));
    // Every member adds the same terms in rank order: the same bits everywhere.
    std::vector<double> total(values.size(), 0.0);
    for (const std::byte* slot : shared_.slots) {
      const auto* v = reinterpret_cast<const double*>(slot);
      for (std::size_t j = 0; j < values.size(); ++j) total[j] += v[j];
    }
    shared_.barrier.arrive_and_wait();  // everyone has read every input
    std::copy(total.begin(), total.end(), values.begin());
  }

  void broadcast(std::span<std::byte> bytes, int root) const override {
    publish(bytes);
    if (rank_ != root) std::memcpy(bytes.data(), shared_.slots[static_cast<std::size_t>(root)], bytes.size());
    shared_.barrier.arrive_and_wait();
  }

  void gather(std::span<const std::byte> part, std::span<std::byte> whole, int root) const override {
    publish(part);
    std::size_t total = 0;
    for (std::size_t size : shared_.sizes) total += size;
    const bool fits = rank_ != root || total == whole.size();
    if (rank_ == root && fits) {
      std::byte* at = whole.data();
      for (std::size_t q = 0; q < shared_.slots.size(); ++q) {
        std::copy(shared_.slots[q], shared_.slots[q] + shared_.sizes[q], at);
        at += shared_.sizes[q];
      }
    }
    shared_.barrier.arrive_and_wait();
    if (!fits) throw InvalidArgument("gather: the parts do not fill the destination");
  }

 private:
  // Publishes this member's data and waits until every member has.
  void publish(std::span<const std::byte> bytes) const {
    shared_.slots[static_cast<std::size_t>(rank_)] = bytes.data();
    shared_.sizes[static_cast<std::size_t>(rank_)] = bytes.size();
    shared_.barrier.arrive_and_wait();
  }

  Shared& shared_;
  int rank_;
};

}  // namespace

void run_thread_group(int size, const std::function<void(const Collective&)>& body) {
  Shared shared(size);
  std::mutex mutex;
  std::exception_ptr error;
  std::vector<std::thread> threads;
  for (int rank = 0; rank < size; ++rank)
    threads.emplace_back([&, rank] {
      try {
        body(ThreadMember(shared, rank));
      } catch (...) {
        const std::lock_guard lock(mutex);
        if (!error) error = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace coreclean::testing
