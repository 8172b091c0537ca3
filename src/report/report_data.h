#ifndef CORECLEAN_SRC_REPORT_REPORT_DATA_H_
#define CORECLEAN_SRC_REPORT_REPORT_DATA_H_

// The report's data as a JSON object, for in-process users (the review server) that embed it
// in a larger answer without a round trip through text.

#include <coreclean/report/report.h>

#include <nlohmann/json.hpp>

namespace coreclean::report::detail {

/// The object that report_data_json serialises.
nlohmann::json report_data(const session::Session& session, const ReportOptions& options);

}  // namespace coreclean::report::detail

#endif  // CORECLEAN_SRC_REPORT_REPORT_DATA_H_
