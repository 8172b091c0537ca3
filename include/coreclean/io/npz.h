#ifndef CORECLEAN_IO_NPZ_H_
#define CORECLEAN_IO_NPZ_H_

/// @file
/// NumPy `.npz` archives (a zip of `.npy` members, stored or deflated), through libzip.

#include <coreclean/io/npy.h>

#include <filesystem>
#include <map>
#include <string>

namespace coreclean::io {

/// Reads every member of an `.npz` archive; keys are member names without the `.npy` suffix.
/// Throws FormatError for a file that is not a zip or a member that is not a valid `.npy`.
std::map<std::string, NpyArray> read_npz(const std::filesystem::path& path);

/// Writes arrays to an `.npz` archive (deflated, like numpy.savez_compressed) atomically.
void write_npz(const std::filesystem::path& path, const std::map<std::string, NpyArray>& arrays);

}  // namespace coreclean::io

#endif  // CORECLEAN_IO_NPZ_H_
