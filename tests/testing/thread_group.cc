#include "testing/thread_group.h"

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

  [[nodiscard]] std::vector<std::byte> gather(std::span<const std::byte> part, int root) const override {
    publish(part);
    std::vector<std::byte> whole;
    if (rank_ == root)
      for (std::size_t q = 0; q < shared_.slots.size(); ++q)
        whole.insert(whole.end(), shared_.slots[q], shared_.slots[q] + shared_.sizes[q]);
    shared_.barrier.arrive_and_wait();
    return whole;
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
