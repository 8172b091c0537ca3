#include <coreclean/dist/mpi_group.h>

#include <coreclean/core/error.h>

#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

namespace coreclean::dist {
namespace {

// MPI counts are ints: large messages go in pieces of at most this many elements.
constexpr std::size_t kMaxPiece = std::size_t{1} << 30;

void check(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw IoError(std::string("MPI ") + what + " failed: " + std::string(text, static_cast<std::size_t>(length)));
}

}  // namespace

MpiGroup::MpiGroup(int* argc, char*** argv) {
  int provided = 0;
  // Only the main thread calls MPI; the library's own threads never do.
  check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "init");
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "rank");
  check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "size");
  MPI_Comm local;
  check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local),
        "split by machine");
  check(MPI_Comm_size(local, &local_size_), "local size");
  MPI_Comm_free(&local);
}

MpiGroup::~MpiGroup() { MPI_Finalize(); }

void MpiGroup::sum(std::span<double> values) const {
  // Reduce, then broadcast: MPI_Allreduce may add in a different order on different processes.
  for (std::size_t at = 0; at < values.size(); at += kMaxPiece) {
    const int count = static_cast<int>(std::min(kMaxPiece, values.size() - at));
    double* data = values.data() + at;
    check(MPI_Reduce(rank_ == 0 ? MPI_IN_PLACE : data, rank_ == 0 ? data : nullptr, count,
                     MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD),
          "reduce");
    check(MPI_Bcast(data, count, MPI_DOUBLE, 0, MPI_COMM_WORLD), "broadcast");
  }
}

void MpiGroup::broadcast(std::span<std::byte> bytes, int root) const {
  for (std::size_t at = 0; at < bytes.size(); at += kMaxPiece)
    check(MPI_Bcast(bytes.data() + at, static_cast<int>(std::min(kMaxPiece, bytes.size() - at)),
                    MPI_BYTE, root, MPI_COMM_WORLD),
          "broadcast");
}

void MpiGroup::gather(std::span<const std::byte> part, std::span<std::byte> whole,
                      int root) const {
  // Sizes first, then each part in pieces (point to point: parts may exceed 2 GiB).
  std::uint64_t mine = part.size();
  std::vector<std::uint64_t> sizes(static_cast<std::size_t>(size_));
  check(MPI_Gather(&mine, 1, MPI_UINT64_T, sizes.data(), 1, MPI_UINT64_T, root, MPI_COMM_WORLD),
        "gather");
  if (rank_ != root) {
    for (std::size_t at = 0; at < part.size(); at += kMaxPiece)
      check(MPI_Send(part.data() + at, static_cast<int>(std::min(kMaxPiece, part.size() - at)),
                     MPI_BYTE, root, 0, MPI_COMM_WORLD),
            "send");
    return;
  }
  std::uint64_t total = 0;
  for (std::uint64_t s : sizes) total += s;
  if (total != whole.size())
    throw InvalidArgument("MPI gather: the parts hold " + std::to_string(total) +
                          " bytes but the destination " + std::to_string(whole.size()));
  std::byte* at = whole.data();
  for (int q = 0; q < size_; ++q) {
    const auto n = static_cast<std::size_t>(sizes[static_cast<std::size_t>(q)]);
    if (q == root) {
      std::copy(part.begin(), part.end(), at);
    } else {
      for (std::size_t got = 0; got < n; got += kMaxPiece)
        check(MPI_Recv(at + got, static_cast<int>(std::min(kMaxPiece, n - got)), MPI_BYTE, q, 0,
                       MPI_COMM_WORLD, MPI_STATUS_IGNORE),
              "receive");
    }
    at += n;
  }
}

void MpiGroup::abort(int code) const {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::abort();  // MPI_Abort does not return; this keeps [[noreturn]] honest
}

}  // namespace coreclean::dist
