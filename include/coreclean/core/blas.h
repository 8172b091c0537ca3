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
///
/// The BLAS library's kernels: OpenBLAS picks them per CPU when it is loaded, and the version
/// Debian 12 ships (0.3.21) does not recognise some recent CPUs — notably in virtual machines
/// that report a generic model ("Intel(R) Xeon(R) Processor") — and falls back to its SSE3
/// "Prescott" kernels. On an AVX-512 machine that made `coreclean build` at 12,073 × 2048
/// 2.1 × slower (3.7 s against 1.75 s with the SkylakeX kernels). The choice is made before
/// main() runs and only the environment variable OPENBLAS_CORETYPE overrides it, so a program
/// that wants the right kernels restarts itself with that variable set (the CLI does).

#include <string>
#include <string_view>

namespace coreclean {

/// Sets the BLAS library's threads for the whole process (1 = BLAS runs in the calling thread).
void set_blas_threads(int threads);

/// The BLAS library's threads for the whole process.
int blas_threads();
/// Calls set_blas_threads(1) unless the environment sets OPENBLAS_NUM_THREADS or
/// GOTO_NUM_THREADS (then the user's choice stands; OMP_NUM_THREADS sets coreclean's own
/// loops, not BLAS). Returns true when it set 1.
bool use_single_threaded_blas_unless_configured();

/// Runs BLAS single-threaded while it lives, unless the environment sets OPENBLAS_NUM_THREADS
/// or GOTO_NUM_THREADS, and gives BLAS back the threads it had: for library calls made from a
/// host process (Python), whose own BLAS work (numpy) keeps its threads between the calls.
/// Scopes may overlap across threads: the first sets one thread, the last gives them back.
/// A 60-decision update of a 12,073-sample tree from Python took ~50 ms with OpenBLAS's
/// threads spinning between its small products, ~20 ms without them.
class ScopedSingleThreadedBlas {
 public:
  ScopedSingleThreadedBlas();
  ~ScopedSingleThreadedBlas();
  ScopedSingleThreadedBlas(const ScopedSingleThreadedBlas&) = delete;
  ScopedSingleThreadedBlas& operator=(const ScopedSingleThreadedBlas&) = delete;

 private:
  bool counted_ = false;  // this scope counts (BLAS threads not configured by the user)
};

/// The kernel family OpenBLAS chose for this CPU, as OpenBLAS names it ("SkylakeX", "Haswell",
/// "Prescott", ...).
std::string blas_core_name();

/// The OPENBLAS_CORETYPE value that fits this CPU when OpenBLAS fell back to kernels older than
/// the CPU supports (SSE-only or AVX-only kernels on a CPU with AVX2 + FMA or AVX-512), and
/// OPENBLAS_CORETYPE is not set already; empty otherwise (nothing to do). "SkylakeX" needs
/// AVX-512 F/BW/DQ/VL as checked by the compiler's CPU detection (which also asks the OS
/// whether it saves the registers), "Haswell" AVX2 and FMA.
std::string recommended_blas_core();

/// The same advice for kernels named `chosen` (as OpenBLAS names them), whatever the
/// environment: the kernels that fit this CPU when `chosen` is one of OpenBLAS's SSE-only or
/// AVX-only families and the CPU has more, else empty.
std::string recommended_blas_core_for(std::string_view chosen);

}  // namespace coreclean

#endif  // CORECLEAN_CORE_BLAS_H_
