#include "detect/image_codecs.h"

#include <coreclean/core/error.h>

#include <dlfcn.h>
#include <fmt/format.h>

namespace coreclean::detect::detail {
namespace {

// The two functions' symbols in libopencv_imgcodecs (Itanium C++ ABI names of
// cv::imdecode(const cv::_InputArray&, int) and cv::imencode(const std::string&,
// const cv::_InputArray&, std::vector<uchar>&, const std::vector<int>&)). They are part of the
// library's ABI, which its soname versions.
constexpr const char* kImdecodeSymbol = "_ZN2cv8imdecodeERKNS_11_InputArrayEi";
constexpr const char* kImencodeSymbol =
    "_ZN2cv8imencodeERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEERKNS_11_"
    "InputArrayERSt6vectorIhSaIhEERKSB_IiSaIiEE";

using Imdecode = cv::Mat (*)(const cv::_InputArray&, int);
using Imencode = bool (*)(const std::string&, const cv::_InputArray&, std::vector<uchar>&,
                          const std::vector<int>&);

struct Codecs {
  Imdecode imdecode = nullptr;
  Imencode imencode = nullptr;
  std::string error;  // why the library could not be used, when it could not
};

Codecs open_codecs() {
  Codecs codecs;
  // Never closed: the library stays loaded for the rest of the process, as a linked one would.
  void* library = dlopen(CORECLEAN_OPENCV_IMGCODECS_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    codecs.error = dlerror();
    return codecs;
  }
  codecs.imdecode = reinterpret_cast<Imdecode>(dlsym(library, kImdecodeSymbol));
  codecs.imencode = reinterpret_cast<Imencode>(dlsym(library, kImencodeSymbol));
  if (codecs.imdecode == nullptr || codecs.imencode == nullptr) {
    const char* why = dlerror();
    codecs.error = fmt::format("it lacks cv::{} ({})", codecs.imdecode == nullptr ? "imdecode" : "imencode",
                               why != nullptr ? why : "symbol not found");
  }
  return codecs;
}

// Opened once (thread-safe); a failure is kept for the rest of the process too.
const Codecs& codecs() {
  static const Codecs loaded = open_codecs();
  if (!loaded.error.empty())
    throw IoError(fmt::format("cannot load OpenCV's image codecs ({}): {} (`./run setup` installs "
                              "them)",
                              CORECLEAN_OPENCV_IMGCODECS_SONAME, loaded.error));
  return loaded;
}

}  // namespace

cv::Mat imdecode(const cv::Mat& buffer, int flags) { return codecs().imdecode(buffer, flags); }

bool imencode(const std::string& extension, const cv::Mat& image, std::vector<unsigned char>& out,
              const std::vector<int>& params) {
  return codecs().imencode(extension, image, out, params);
}

}  // namespace coreclean::detect::detail
