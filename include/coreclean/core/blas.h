#ifndef CORECLEAN_CORE_BLAS_H_
#define CORECLEAN_CORE_BLAS_H_
/// @file
/// The BLAS library's own threads (OpenBLAS), a process-wide setting.
///
/// coreclean parallelises its loops itself (OpenMP over folds, classes, leaves, rows) and calls
/// BLAS inside them. If BLAS also starts threads, the cores are oversubscribed and OpenBLAS's
/// idle threads spin (sched_yield): on 2 cores, `apply` on a 1,500-box session took 1.02 s
/// with OpenBLAS threads and 0.51 s with one, and the whole demo 40 s against 28 s. Programs
/// (the CLI) therefore run BLAS single-threaded unless the user asks otherwise.

namespace coreclean {

/// Sets the BLAS library's threads for the whole process (1 = BLAS runs in the calling thread).
void set_blas_threads(int threads);

/// Calls set_blas_threads(1) unless the environment sets OPENBLAS_NUM_THREADS or
/// GOTO_NUM_THREADS (then the user's choice stands; OMP_NUM_THREADS sets coreclean's own
/// loops, not BLAS). Returns true when it set 1.
bool use_single_threaded_blas_unless_configured();

}  // namespace coreclean

#endif  // CORECLEAN_CORE_BLAS_H_
