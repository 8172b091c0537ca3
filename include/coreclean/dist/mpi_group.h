#ifndef CORECLEAN_DIST_MPI_GROUP_H_
#define CORECLEAN_DIST_MPI_GROUP_H_

/// @file
/// The processes of an MPI job as a coreclean::Collective, so that `mpirun -np N coreclean
/// build ...` builds one tree with N processes (coreset::build_distributed). This is the only
/// part of coreclean that knows MPI; it is built when Debian's OpenMPI is found.

#include <coreclean/core/collective.h>

namespace coreclean::dist {

/// MPI for the lifetime of the object (MPI_Init_thread, then MPI_Finalize) and the group of all
/// the job's processes (MPI_COMM_WORLD). One per process. Sums are reduced to process 0 and
/// broadcast back, so that every process receives the same bits.
class MpiGroup final : public Collective {
 public:
  MpiGroup(int* argc, char*** argv);
  ~MpiGroup() override;
  MpiGroup(const MpiGroup&) = delete;
  MpiGroup& operator=(const MpiGroup&) = delete;

  [[nodiscard]] int rank() const override { return rank_; }
  [[nodiscard]] int size() const override { return size_; }
  /// Processes of the job on this machine (they share its cores).
  [[nodiscard]] int local_size() const { return local_size_; }
  void sum(std::span<double> values) const override;
  void broadcast(std::span<std::byte> bytes, int root) const override;
  void gather(std::span<const std::byte> part, std::span<std::byte> whole,
              int root) const override;
  /// Ends every process of the job with `code` (after an error on this one: the others would
  /// otherwise wait for it for ever). Does not return.
  [[noreturn]] void abort(int code) const;

 private:
  int rank_ = 0;
  int size_ = 1;
  int local_size_ = 1;
};

}  // namespace coreclean::dist

#endif  // CORECLEAN_DIST_MPI_GROUP_H_
