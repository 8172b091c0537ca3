#ifndef CORECLEAN_TESTS_TESTING_THREAD_GROUP_H_
#define CORECLEAN_TESTS_TESTING_THREAD_GROUP_H_

// A process group simulated by threads of one process: every member runs the same body on its
// own thread and exchanges data through shared memory. It tests the distributed algorithms
// without MPI, deterministically (sums in rank order) and under the sanitizers.

#include <coreclean/core/collective.h>

#include <functional>

namespace coreclean::testing {

/// Runs body(group) on `size` threads, one member of the group each; returns when all are
/// done. An exception in a member is rethrown here (the others must not wait for it: bodies
/// used with this helper do not throw on one member only).
void run_thread_group(int size, const std::function<void(const Collective&)>& body);

}  // namespace coreclean::testing

#endif  // CORECLEAN_TESTS_TESTING_THREAD_GROUP_H_
