#ifndef CORECLEAN_FUZZ_FUZZ_CONTRACT_H_
#define CORECLEAN_FUZZ_FUZZ_CONTRACT_H_

// The contract every harness checks: a reader of outside input either succeeds or throws
// coreclean::Error. Any other exception, like a crash, hang or sanitizer report, is a finding:
// abort() so that libFuzzer saves the input.

#include <coreclean/core/error.h>
#include <unistd.h>  // for getpid

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <typeinfo>

namespace coreclean::fuzz {

template <typename F>
void expect_contract(F&& f) {
  try {
    f();
  } catch (const coreclean::Error&) {
    // The documented way to refuse input.
  } catch (const std::exception& e) {
    std::fprintf(stderr, "finding: %s escaped (not a coreclean::Error): %s\n", typeid(e).name(),
                 e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "finding: a non-std exception escaped\n");
    std::abort();
  }
}

inline std::span<const std::byte> as_bytes(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const std::byte*>(data), size};
}

/// Writes the input to a file of this process (for readers that take a path) and returns it.
inline std::filesystem::path scratch_file(const std::uint8_t* data, std::size_t size,
                                          const char* suffix) {
  static const std::filesystem::path path =
      std::filesystem::temp_directory_path() /
      ("coreclean-fuzz-" + std::to_string(::getpid()) + suffix);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}

}  // namespace coreclean::fuzz

#endif  // CORECLEAN_FUZZ_FUZZ_CONTRACT_H_
