#include "linear/symmetric_eigen.h"

#include "core/check.h"

#include <algorithm>
#include <cstddef>
#include <vector>

// LAPACK (Fortran calling convention: every argument by address, then the lengths of the
// character arguments).
extern "C" void dsyevd_(const char* jobz, const char* uplo, const int* n, double* a,
                        const int* lda, double* w, double* work, const int* lwork, int* iwork,
                        const int* liwork, int* info, std::size_t jobz_length,
                        std::size_t uplo_length);

namespace coreclean::linear {

bool symmetric_eigen(const Eigen::MatrixXd& a, Eigen::VectorXd& values, Eigen::MatrixXd& vectors) {
  CORECLEAN_ASSERT(a.rows() == a.cols());
  const int n = static_cast<int>(a.rows());
  vectors = a;
  values.resize(n);
  if (n == 0) return true;
  const int lda = std::max(n, 1);
  int info = 0;
  // A workspace query first, then the solve.
  int lwork = -1, liwork = -1, iwork_size = 0;
  double work_size = 0.0;
  dsyevd_("V", "L", &n, vectors.data(), &lda, values.data(), &work_size, &lwork, &iwork_size,
          &liwork, &info, 1, 1);
  if (info != 0) return false;
  lwork = static_cast<int>(work_size);
  liwork = iwork_size;
  std::vector<double> work(static_cast<std::size_t>(std::max(lwork, 1)));
  std::vector<int> iwork(static_cast<std::size_t>(std::max(liwork, 1)));
  dsyevd_("V", "L", &n, vectors.data(), &lda, values.data(), work.data(), &lwork, iwork.data(),
          &liwork, &info, 1, 1);
  return info == 0;
}

}  // namespace coreclean::linear
