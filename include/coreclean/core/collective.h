#ifndef CORECLEAN_CORE_COLLECTIVE_H_
#define CORECLEAN_CORE_COLLECTIVE_H_

/// @file
/// The processes that compute one result together, each over its own share of the samples
/// (MPI ranks, say). The library's distributed calls exchange data only through this
/// interface, so the core knows no transport: a process group implements it (the MPI one is in
/// coreclean/dist), and SingleProcess is the group of one that every ordinary call uses.
///
/// Every member is collective: each process of the group calls it, in the same order, with
/// arguments of the same sizes (except gather's own part). A call that throws on one process
/// leaves the others waiting; a group whose transport cannot recover aborts them instead.

#include <coreclean/core/error.h>

#include <algorithm>
#include <cstddef>
#include <exception>
#include <span>
#include <string>

namespace coreclean {

/// A group of processes that reduce and exchange data in lockstep.
class Collective {
 public:
  virtual ~Collective() = default;
  /// This process's index in the group, 0 ≤ rank() < size().
  [[nodiscard]] virtual int rank() const = 0;
  /// Number of processes.
  [[nodiscard]] virtual int size() const = 0;
  /// Element-wise sum over the processes, in place. Every process receives the same bits (so
  /// decisions taken on the sums, e.g. a solver's stopping test, agree everywhere). A sum of
  /// parts that are zero on all processes but one is exact.
  virtual void sum(std::span<double> values) const = 0;
  /// Copies `root`'s bytes over every other process's (all pass spans of one size).
  virtual void broadcast(std::span<std::byte> bytes, int root) const = 0;
  /// Writes the concatenation of every process's bytes, in rank order, into `whole` on `root`,
  /// which passes a span of exactly their total size (the caller knows it; a mismatch throws
  /// InvalidArgument there); `whole` is ignored elsewhere. Parts may differ in size and exceed
  /// 2 GiB. Receiving straight into the caller's memory spares root a second copy of the data.
  virtual void gather(std::span<const std::byte> part, std::span<std::byte> whole,
                      int root) const = 0;
  /// The sum of every process's parts added one at a time, in order — process 0's parts first,
  /// as given, then process 1's, … — starting from zero, written into `out` on every process:
  /// the very bits fold_parts() gives one process that holds every part. `parts`: this
  /// process's parts of out.size() values each, one after another (their number may differ
  /// between processes, none included). Processes that hold consecutive runs of an ordered
  /// list of parts thus get the sum one process gets, whatever the split: what makes a
  /// distributed solver take exactly the steps of one process. The default gathers the parts on
  /// process 0, which adds them and broadcasts the sum.
  virtual void ordered_sum(std::span<const double> parts, std::span<double> out) const;
};

/// Makes the processes of `group` agree on the outcome of a step each took on its own (reading
/// its share of the data, say) before they go on together: every process passes its own
/// failure (null = it succeeded). Rethrows this process's failure; on a process that succeeded
/// while another failed, throws IoError(`another_failed`) — so that every process stops instead
/// of waiting for the failed one. Returns only when every process succeeded.
void agree_on_success(const Collective& group, const std::exception_ptr& failure,
                      const std::string& another_failed);

/// out = ((0 + part₀) + part₁) + …, element by element, for the parts of out.size() values each
/// that follow one another in `parts` (whose size must be a multiple of out.size()).
void fold_parts(std::span<const double> parts, std::span<double> out);

/// The group of one process: sums and broadcasts leave the data as it is, gather copies it.
class SingleProcess final : public Collective {
 public:
  [[nodiscard]] int rank() const override { return 0; }
  [[nodiscard]] int size() const override { return 1; }
  void sum(std::span<double>) const override {}
  void broadcast(std::span<std::byte>, int) const override {}
  void gather(std::span<const std::byte> part, std::span<std::byte> whole,
              int) const override {
    if (part.size() != whole.size())
      throw InvalidArgument("gather: the part holds " + std::to_string(part.size()) +
                            " bytes but the destination " + std::to_string(whole.size()));
    std::copy(part.begin(), part.end(), whole.begin());
  }
  void ordered_sum(std::span<const double> parts, std::span<double> out) const override {
    fold_parts(parts, out);
  }
};

}  // namespace coreclean

#endif  // CORECLEAN_CORE_COLLECTIVE_H_
