#ifndef CORECLEAN_SESSION_BATCH_EXPORT_H_
#define CORECLEAN_SESSION_BATCH_EXPORT_H_

/// @file
/// The files of a batch for a reviewer: what `coreclean next` and the review page write.

#include <coreclean/core/context.h>
#include <coreclean/session/session.h>

#include <filesystem>

namespace coreclean::session {

/// Writes `SESSION/batches/NNN/`: review.csv (id,image,label,importance,decision,new_label,
/// suggested,findings: the session's suggestion and the box checks' findings of each box),
/// the session's guidelines (guidelines.md) and, when the session knows its COCO file and
/// images, the three views of every box (`<id>_crop.jpg`, `<id>_attention.jpg`,
/// `<id>_overlay.jpg`). Only files that do not exist yet are written: exporting an open batch
/// again never replaces a review.csv the reviewer has been filling in. Returns the folder.
std::filesystem::path export_batch(const Session& session, const Batch& batch,
                                   const Context& context);

}  // namespace coreclean::session

#endif  // CORECLEAN_SESSION_BATCH_EXPORT_H_
