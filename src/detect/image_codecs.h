#ifndef CORECLEAN_SRC_DETECT_IMAGE_CODECS_H_
#define CORECLEAN_SRC_DETECT_IMAGE_CODECS_H_

// OpenCV's image codecs (cv::imdecode, cv::imencode), opened on first use.
//
// Why not linked: Debian's libopencv_imgcodecs brings ~140 shared libraries with it (GDAL, GDCM,
// HEIF, OpenEXR, ...), and loading them took ~70 ms at every start of every command and every
// `import coreclean` — more than `coreclean rank` needs for its work. Only the commands that read
// or write image files pay for them now, once, on their first image.

#include <opencv2/core.hpp>

#include <string>
#include <vector>

namespace coreclean::detect::detail {

/// cv::imdecode(buffer, flags). Throws IoError when OpenCV's image codecs library cannot be
/// loaded; cv::Exception from OpenCV passes through.
cv::Mat imdecode(const cv::Mat& buffer, int flags);

/// cv::imencode(extension, image, out, params). Same errors as imdecode().
bool imencode(const std::string& extension, const cv::Mat& image, std::vector<unsigned char>& out,
              const std::vector<int>& params = {});

}  // namespace coreclean::detect::detail

#endif  // CORECLEAN_SRC_DETECT_IMAGE_CODECS_H_
