// The target's one function is static inline in include/CPrefetch.h; SwiftPM wants a source file here.
#include "CPrefetch.h"
