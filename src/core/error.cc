// Anchors the vtables of the error hierarchy in one translation unit.
#include <coreclean/core/error.h>
