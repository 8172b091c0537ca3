#include <coreclean/core/collective.h>

#include "core/check.h"

#include <vector>

namespace coreclean {

void agree_on_success(const Collective& group, const std::exception_ptr& failure,
                      const std::string& another_failed) {
  if (group.size() > 1) {
    double failed = failure ? 1.0 : 0.0;
    group.sum({&failed, 1});
    if (failed > 0.0 && !failure) throw IoError(another_failed);
  }
  if (failure) std::rethrow_exception(failure);
}

void fold_parts(std::span<const double> parts, std::span<double> out) {
  const std::size_t width = out.size();
  CORECLEAN_THROW_IF_NOT(width > 0 ? parts.size() % width == 0 : parts.empty(),
                         "fold_parts: {} values are not whole parts of {}", parts.size(), width);
  std::fill(out.begin(), out.end(), 0.0);
  for (std::size_t at = 0; at < parts.size(); at += width)
    for (std::size_t j = 0; j < width; ++j) out[j] += parts[at + j];
}

void Collective::ordered_sum(std::span<const double> parts, std::span<double> out) const {
  const std::size_t width = out.size();
  CORECLEAN_THROW_IF_NOT(width > 0 ? parts.size() % width == 0 : parts.empty(),
                         "ordered_sum: {} values are not whole parts of {}", parts.size(), width);
  // Every process's number of values (exact in double), so that process 0 can size the gather.
  std::vector<double> counts(static_cast<std::size_t>(size()), 0.0);
  counts[static_cast<std::size_t>(rank())] = static_cast<double>(parts.size());
  sum(counts);
  std::size_t total = 0;
  for (double c : counts) total += static_cast<std::size_t>(c);
  std::vector<double> all(rank() == 0 ? total : 0);
  gather(std::as_bytes(parts), std::as_writable_bytes(std::span(all)), 0);
  if (rank() == 0) fold_parts(all, out);
  broadcast(std::as_writable_bytes(out), 0);
}

}  // namespace coreclean
